"""Shared test setup: run the IR verifier after every pass; the golden-file update flag."""

import pytest

import s2sad


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/*.py from the current output")


@pytest.fixture(autouse=True)
def _verify_ir():
    s2sad.config.verify = True
    yield
    s2sad.config.verify = False


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
