# Every target makes its own virtual environment, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYENV_ROOT ?= $(HOME)/.pyenv
VERSIONS ?= 3.10 3.11 3.12 3.13

.PHONY: demo test test-all bench golden lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/lecture.py

test: $(VENV)/.installed
	$(PY) -m pytest

# The tests on every CPython installed under pyenv (3.10 to 3.13), each in its own venv.
test-all:
	@set -e; for v in $(VERSIONS); do \
	  py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python 2>/dev/null | tail -n 1); \
	  if [ -z "$$py" ]; then echo "Python $$v: not installed under $(PYENV_ROOT)"; exit 1; fi; \
	  echo "== Python $$v ($$py)"; \
	  $(MAKE) --no-print-directory test PYTHON=$$py VENV=.venv-$$v; \
	done

$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

bench: $(VENV)/.bench
	$(PY) bench/bench.py

# Rewrite the golden files of the emitted source after an intended change.
golden: $(VENV)/.installed
	$(PY) -m pytest tests/test_golden.py --update-golden

clean:
	rm -rf .venv .venv-* *.egg-info .pytest_cache
