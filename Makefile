# Two commands do all the set-up from a fresh clone: `make run` and `make test`.
# Each builds the virtual environment in .venv the first time (needs python3 >= 3.11).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run serve migrate test smoke benchmark clean

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "postmortem-bot needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,test]'
	@touch $(INSTALLED)

install: $(INSTALLED)

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
	rm -rf $(VENV) *.egg-info build dist
