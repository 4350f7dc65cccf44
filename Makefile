# Every target installs what it needs first, so each works on its own on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test browser bench lint format typecheck package clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## run: the whole system on this machine (embedded DynamoDB, API on :8000, PORT overrides)
run: $(STAMP)
	$(PY) -m chalicelib.cli.local

## test: every test (unit, integration, functional, e2e, browser, packaging)
test: $(STAMP) browser
	$(PY) -m pytest

## browser: Debian's Chromium and chromedriver for tests/browser (apt-get, only when missing)
browser:
	bash infra/install-browser.sh

## bench: the budgets in design.md, as a table and as .bench/results.json
bench: $(STAMP)
	$(PY) -m tests.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

## package: the CloudFormation template and deployment zip in out/
package: $(STAMP)
	$(VENV)/bin/chalice package --merge-template infra/resources.json out/

clean:
	rm -rf $(VENV) .bench out
