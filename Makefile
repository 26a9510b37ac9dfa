# The two commands of the README, and a few more. `make demo` and `make test` set themselves up.
VENV ?= .venv
# `make test` spreads the test files over this many pytest-xdist workers (one torch thread each)
WORKERS ?= 2

.PHONY: setup demo test test-slow lint bench wheels
setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/optimist demo --out optimist-report

test: setup
	$(VENV)/bin/python -m pytest -q -n $(WORKERS) --dist loadfile

test-slow: setup
	bash scripts/setup-browser.sh
	$(VENV)/bin/python -m pytest -q -m slow

lint: setup
	$(VENV)/bin/ruff check packages tests benchmarks

bench: setup
	$(VENV)/bin/python benchmarks/run_all.py

# The wheelhouse: a wheel and an sdist of every package and of the umbrella in dist/ (each wheel built from its
# sdist), with the venv's pinned hatchling. Then: pip install --no-index --find-links dist optimist-shifts
wheels: setup
	rm -rf dist
	for p in packages/*/ .; do $(VENV)/bin/python -m build -q --no-isolation --outdir dist $$p >/dev/null || exit 1; done
	ls dist
