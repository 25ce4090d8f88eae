# From a fresh clone, each of `make demo`, `make run` and `make test` does all the set-up it needs.
# Each builds the virtual environment in .venv the first time (needs python3 >= 3.11).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install demo screenshot run serve migrate test smoke benchmark clean

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "postmortem-bot needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools tells every editable install of a flat layout to beware of same-named folders (a Python warning,
	@# not trouble: this folder is the project); pip's own warnings and errors still show.
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[postgres,test]'
	@touch $(INSTALLED)

install: $(INSTALLED)

## See it work, no Slack needed: the real app plays a security post-mortem against a built-in Slack double
## and writes the report, the Slack summary and the invite to demo-output/.
demo: $(INSTALLED)
	$(BIN)/postmortem-bot demo

## The README's picture of the demo's HTML report (docs/report-screenshot.png); needs Chromium.
screenshot: demo
	$(BIN)/python scripts/screenshot_report.py

## Socket Mode (SLACK_BOT_TOKEN, SLACK_APP_TOKEN)
run: $(INSTALLED)
	$(BIN)/postmortem-bot run

## HTTP mode on 127.0.0.1:3000 (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)
serve: $(INSTALLED)
	$(BIN)/postmortem-bot serve

migrate: $(INSTALLED)
	$(BIN)/postmortem-bot db upgrade

## The whole suite: SQLite always, PostgreSQL too when TEST_DATABASE_URL is set.
test: $(INSTALLED)
	$(BIN)/python -m pytest

## Build the wheel, install it in a fresh venv outside the tree, serve it against the Slack double.
smoke: $(INSTALLED)
	$(BIN)/python -m tests.wheel_smoke

benchmark: $(INSTALLED)
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info build dist demo-output
