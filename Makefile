# The contracts (../shared/DESIGN.md): install, test, demo, zip. Each target sets up what it
# needs, so a fresh clone runs any of them directly.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo zip student-kit bench clean

install: $(STAMP)

$(STAMP): requirements-dev.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (none found on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lint: install
	$(BIN)/ruff check autograder tests problems examples tools
	$(BIN)/mypy

# validate and the tests share one expected-output and compilation cache (fingerprinted, so
# reusing it is safe): the references run and compile once for the whole of `make test`.
TEST_CACHE := $(CURDIR)/.cache/test/expected

# As root (CI), student code runs as the unprivileged student user, which must reach this
# Python: `harden --runtime-only` creates that user and lets others traverse (not list) the
# folders on the way to the interpreter, nothing else. The tests change no permissions
# themselves; they fail, naming this command, where it was not run.
test: lint
	if [ "$$(id -u)" = 0 ]; then $(BIN)/python -m autograder harden --runtime-only; fi
	AUTOGRADER_CACHE=$(TEST_CACHE) $(BIN)/python -m autograder validate problems
	AUTOGRADER_CACHE=$(TEST_CACHE) $(BIN)/pytest

demo: install
	@mkdir -p demo-results
	$(BIN)/python -m autograder grade examples/correct --results demo-results/correct.json
	$(BIN)/python -m autograder grade examples/classic-mistakes \
		--results demo-results/classic-mistakes.json

bench: install
	$(BIN)/python tools/bench.py
	$(BIN)/python tools/bench.py --one-core

# ASSIGNMENT=assignments/NAME.yaml: the zip and the kit of that assignment's problems alone
# (in its order, worth its points); without it, of every problem in problems/.
ASSIGNMENT ?=
ASSIGNMENT_FLAG := $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT))

zip: install
	$(BIN)/python -m autograder zip --output dist/autograder.zip $(ASSIGNMENT_FLAG)

student-kit: install
	$(BIN)/python -m autograder kit --output dist/student-kit.zip $(ASSIGNMENT_FLAG)

clean:
	rm -rf $(VENV) dist demo-results .pytest_cache .mypy_cache .ruff_cache
