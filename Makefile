# The two commands: `make run` (demo on SQLite) and `make test` (whole suite, SQLite + PostgreSQL).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
STRIPE_PORT ?= 8420
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: run test install lint format translations translations-update services chromium clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Catalogues are kept in git as .po and compiled by the build.
translations: install
	$(BIN)/pybabel compile --use-fuzzy -d marketplace/translations -D messages --statistics 2>&1 | tail -n 2

translations-update: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project "alumni-marketplace" -o marketplace/translations/messages.pot .
	$(BIN)/pybabel update -i marketplace/translations/messages.pot -d marketplace/translations \
		--no-fuzzy-matching --ignore-obsolete
	# English is the source language: its catalogue repeats each msgid.
	$(BIN)/python -c 'import sys; from babel.messages.pofile import read_po, write_po; \
	path = "marketplace/translations/en/LC_MESSAGES/messages.po"; cat = read_po(open(path, "rb")); \
	[setattr(m, "string", m.id if isinstance(m.id, str) else tuple(m.id[min(i, 1)] for i in range(cat.num_plurals))) for m in cat if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]; \
	write_po(open(path, "wb"), cat, no_location=True, sort_output=True)'

.ONESHELL:
# The app's addresses follow PORT and STRIPE_PORT; `seed demo` prints the demo logins (once).
RUN_ENV := SITE_URL=http://$(HOST):$(PORT) STRIPE_API_BASE=http://127.0.0.1:$(STRIPE_PORT) \
	STRIPE_JS_URL=http://127.0.0.1:$(STRIPE_PORT)/js.stripe.com/v3/
run: install translations
	@set -euo pipefail
	mkdir -p instance
	$(RUN_ENV) $(FLASK) db upgrade
	$(RUN_ENV) $(FLASK) seed demo 2>&1 | grep -v ' INFO '
	if ! (exec 3<>/dev/tcp/127.0.0.1/$(STRIPE_PORT)) 2>/dev/null; then
	  $(BIN)/localstripe --port $(STRIPE_PORT) > instance/localstripe.log 2>&1 &
	  LOCALSTRIPE_PID=$$!
	  trap 'kill $$LOCALSTRIPE_PID 2>/dev/null || true' EXIT
	fi
	cat <<-TXT

	  Alumni marketplace running at http://$(HOST):$(PORT)/  (localstripe on port $(STRIPE_PORT))
	  Two-factor code of a demo staff account: make otp EMAIL=admin@example.org
	  E-mails are written to instance/outbox/. Stop with Ctrl-C.

	TXT
	$(RUN_ENV) $(FLASK) run --host $(HOST) --port $(PORT)

otp: install
	$(FLASK) users otp $(EMAIL)

test: install translations services chromium
	@set -euo pipefail
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	status=0
	# The two backends run side by side (each test run has its own databases, ports and
	# Redis keys): PostgreSQL's report is kept in a file and printed after SQLite's.
	mkdir -p test-output
	TEST_DATABASE=postgresql TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) \
		$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS) > test-output/pytest-postgresql.log 2>&1 &
	postgresql=$$!
	trap 'kill $$postgresql 2>/dev/null || true' EXIT
	echo "== SQLite (PostgreSQL runs beside it: test-output/pytest-postgresql.log)"
	TEST_DATABASE=sqlite $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS) || status=1
	wait $$postgresql || status=1
	echo "== PostgreSQL"
	cat test-output/pytest-postgresql.log
	exit $$status

# PostgreSQL and Redis are usually running already (CI machines start them); start them if not.
services:
	set -euo pipefail
	if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
	  command -v pg_ctlcluster >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start
	  for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	fi
	if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
	  command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	fi

chromium:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance test-output .pytest_cache .ruff_cache

# Load benchmark of issues 8 and 17 (not part of `make test`), nginx included:
# BENCH_ARGS="--size small --duration 5 --json /tmp/bench.json" (or "--no-nginx").
BENCH_ARGS ?=
bench: install services
	$(BIN)/python benchmarks/run --nginx $(BENCH_ARGS)
