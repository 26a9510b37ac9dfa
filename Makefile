# The two commands of the README, and a few more. `make demo` and `make test` set themselves up.
VENV ?= .venv

.PHONY: setup demo test test-slow lint bench
setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/optimist demo --out optimist-report

test: setup
	$(VENV)/bin/python -m pytest -q

test-slow: setup
	$(VENV)/bin/python -m pytest -q -m slow

lint: setup
	$(VENV)/bin/ruff check packages tests benchmarks

bench: setup
	$(VENV)/bin/python benchmarks/run_all.py
