# Every target makes its own virtual environment, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYENV_ROOT ?= $(HOME)/.pyenv
VERSIONS ?= 3.10 3.11 3.12 3.13

.PHONY: demo test test-all test-min lint bench golden docs examples fuzz clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/lecture.py

# -q once (pyproject.toml adds none): the last line stays the "N passed" summary CI reads.
test: $(VENV)/.installed
	$(PY) -m pytest -q

# The tests on every CPython installed under pyenv (3.10 to 3.13), each in its own venv,
# then with the lowest dependency versions allowed; every run happens, failures are summed up,
# and a version missing under pyenv is a failure. .ci/run runs this.
test-all:
	@failed=""; for v in $(VERSIONS); do \
	  py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python 2>/dev/null | sort -V | tail -n 1); \
	  if [ -z "$$py" ]; then echo "== Python $$v: NOT INSTALLED under $(PYENV_ROOT)/versions"; \
	    failed="$$failed $$v"; continue; fi; \
	  echo "== Python $$v ($$py)"; \
	  $(MAKE) --no-print-directory test PYTHON=$$py VENV=.venv-$$v || failed="$$failed $$v"; \
	done; \
	echo "== lowest dependency versions (tests/min-versions.txt, Python 3.10)"; \
	$(MAKE) --no-print-directory test-min || failed="$$failed min-versions"; \
	if [ -n "$$failed" ]; then echo "test-all: FAILED on$$failed"; exit 1; fi; \
	echo "test-all: passed on $(VERSIONS) and min-versions"

# Python 3.10 with the oldest gast, astor and NumPy that pyproject.toml admits.
PY310 = $(lastword $(shell ls -d $(PYENV_ROOT)/versions/3.10.*/bin/python 2>/dev/null | sort -V))

.venv-min/.installed: pyproject.toml tests/min-versions.txt
	@test -n "$(PY310)" || { echo "Python 3.10 is not installed under $(PYENV_ROOT)/versions"; \
	  exit 1; }
	$(PY310) -m venv .venv-min
	.venv-min/bin/python -m pip install --quiet --upgrade pip
	.venv-min/bin/python -m pip install --quiet -r tests/min-versions.txt
	.venv-min/bin/python -m pip install --quiet --no-deps -e .
	touch $@

test-min: .venv-min/.installed
	.venv-min/bin/python -m pytest -q

# ruff, pinned so that a new release's rules do not turn CI red by themselves. tests/ is not
# clean yet under this release's default rules.
RUFF ?= ruff==0.17.5

$(VENV)/.lint: $(VENV)/.installed
	$(PY) -m pip install --quiet "$(RUFF)"
	touch $@

lint: $(VENV)/.lint
	$(VENV)/bin/ruff check s2sad tools

$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

bench: $(VENV)/.bench
	$(PY) bench/bench.py

# Rewrite the golden files of the emitted source after an intended change.
golden: $(VENV)/.installed
	$(PY) -m pytest tests/test_golden.py --update-golden

# Every example in examples/; each checks its own numbers. Figures only if matplotlib is installed
# (pip install -e ".[examples]").
examples: $(VENV)/.installed
	@set -e; for f in examples/[a-z]*.py; do echo "== $$f"; $(PY) $$f; done

# Regenerate the NumPy coverage table; tests/test_docs.py fails when it is stale.
docs: $(VENV)/.installed
	$(PY) tools/coverage.py > docs/numpy-coverage.md

# Generated programs through both modes against finite differences (tools/fuzz.py --help);
# reproducers of crashes and wrong results go to fuzz-out/.
N ?= 1000
SEED ?= 0
FUZZFLAGS ?=
fuzz: $(VENV)/.installed
	$(PY) tools/fuzz.py -n $(N) --seed $(SEED) --out fuzz-out $(FUZZFLAGS)

clean:
	rm -rf .venv .venv-* *.egg-info .pytest_cache fuzz-out
