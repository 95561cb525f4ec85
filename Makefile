# Every target makes its own virtual environment, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYENV_ROOT ?= $(HOME)/.pyenv
VERSIONS ?= 3.10 3.11 3.12 3.13

.PHONY: demo test test-all test-min bench golden docs examples fuzz clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/lecture.py

test: $(VENV)/.installed
	$(PY) -m pytest

# The tests on every CPython installed under pyenv (3.10 to 3.13), each in its own venv,
# then with the lowest dependency versions allowed; every run happens, failures are summed up.
test-all:
	@failed=""; for v in $(VERSIONS); do \
	  py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python 2>/dev/null | tail -n 1); \
	  if [ -z "$$py" ]; then echo "== Python $$v: not installed under $(PYENV_ROOT)"; \
	    failed="$$failed $$v"; continue; fi; \
	  echo "== Python $$v ($$py)"; \
	  $(MAKE) --no-print-directory test PYTHON=$$py VENV=.venv-$$v || failed="$$failed $$v"; \
	done; \
	echo "== lowest dependency versions"; \
	$(MAKE) --no-print-directory test-min || failed="$$failed min-versions"; \
	if [ -n "$$failed" ]; then echo "test-all: failed on$$failed"; exit 1; fi; \
	echo "test-all: passed on $(VERSIONS) and min-versions"

# Python 3.10 with the oldest gast, astor and NumPy that pyproject.toml admits.
test-min:
	@py=$$(ls -d $(PYENV_ROOT)/versions/3.10.*/bin/python 2>/dev/null | tail -n 1); \
	test -n "$$py" || { echo "Python 3.10 is not installed under $(PYENV_ROOT)"; exit 1; }; \
	test -f .venv-min/.installed || { $$py -m venv .venv-min && \
	  .venv-min/bin/python -m pip install --quiet -r tests/min-versions.txt && \
	  .venv-min/bin/python -m pip install --quiet --no-deps -e . && touch .venv-min/.installed; }; \
	.venv-min/bin/python -m pytest

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
