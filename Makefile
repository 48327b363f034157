# Two commands on a fresh machine:  make run   |   make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
PYTEST_ARGS ?=
# Two workers (pytest-xdist), a test file each at a time: the suite in about half the time.
PYTEST_PARALLEL ?= -n 2 --dist loadfile

# `make run` is for trying the service on this machine: development settings unless told
# otherwise (production needs APP_ENV=production and SECRET_KEY).
run: export APP_ENV ?= development
# ... and webhooks may go to a receiver on this machine (examples/host_site) over plain http.
run: export WEBHOOK_ALLOW_HTTP ?= 1
run: export WEBHOOK_ALLOW_PRIVATE ?= 1

.PHONY: run setup test lint screenshots bench bench-quality bench-moderation bench-retraining bench-queue bench-webhooks bench-load bench-abuse bench-compat bench-read bench-training clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.bench: requirements-bench.txt $(VENV)/.dev
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

## setup: install, migrate the database, train a model if none is active, create the demo
## site and an admin account, and end with one block: the address, the user name and, on the
## first run only, the password and API key
setup: $(VENV)/.runtime
	$(FLASK) db upgrade
	$(FLASK) model train --if-missing
	@$(FLASK) quickstart

# make run's settings, written once where the flask command looks (python-dotenv), so that
# `.venv/bin/flask --app wsgi ...` in a new shell runs as make run does. Production sets its
# own environment and has no such file.
.env:
	@printf '%s\n' '# Written by make run: the settings of .venv/bin/flask --app wsgi ... here.' \
	  'APP_ENV=$(APP_ENV)' 'WEBHOOK_ALLOW_HTTP=$(WEBHOOK_ALLOW_HTTP)' \
	  'WEBHOOK_ALLOW_PRIVATE=$(WEBHOOK_ALLOW_PRIVATE)' > $@

## run: set everything up, then serve on 127.0.0.1:$$PORT (8000) with gunicorn and deliver
## webhooks with a worker beside it (started again if it stops on an error); Ctrl-C stops both
run: .env setup
	@( trap 'kill $$child 2>/dev/null; wait $$child; exit 0' INT TERM; \
	   while :; do $(FLASK) worker & child=$$!; wait $$child; \
	     echo "make run: the worker stopped; starting it again in 5 s" >&2; \
	     sleep 5 & child=$$!; wait $$child; done ) & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## test: install what the tests need and run the whole suite (the browser tests drive
## Debian's chromium, the deployment test reads deploy/compose.yaml with Debian's
## docker-compose: installed here when missing and possible, those tests skipped when not)
test: $(VENV)/.dev
	@command -v chromium >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
	  || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
	  || echo "chromium could not be installed: the browser tests will be skipped" \
	          "(as root: apt-get install -y chromium)"
	@command -v docker-compose >/dev/null \
	  || DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >/dev/null \
	  || echo "docker-compose could not be installed: the compose file will not be checked" \
	          "(as root: apt-get install -y docker-compose)"
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

## lint: ruff, mypy and the import layers as pyproject.toml sets them (CI runs it before the tests)
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: speed against alt-profanity-check and a bare endpoint (not part of the tests)
bench: $(VENV)/.bench
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.http

## bench-quality: quality on public data sets against alt-profanity-check and a baseline,
## then what each decision preset does to real comments (bench.decisions)
bench-quality: $(VENV)/.bench
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.decisions

## bench-moderation: keystrokes and UI time per decision, clearing 100 held comments by
## keyboard in Debian's chromium (not part of make bench)
bench-moderation: $(VENV)/.bench
	$(BIN)/python -m bench.moderation

## bench-retraining: how many moderators' decisions a retrained model needs to beat the
## default on real comments it never saw (not part of make bench)
bench-retraining: $(VENV)/.bench
	$(BIN)/python -m bench.retraining

## screenshots: every page of the UI at 1366x768 into docs/screenshots/ (not committed)
screenshots: $(VENV)/.bench
	$(BIN)/python -m bench.screenshots

## bench-queue: queue page p95 with 1,000,000 comments on PostgreSQL (not part of make bench)
bench-queue: $(VENV)/.bench
	$(BIN)/python -m bench.queue

## bench-webhooks: webhook deliveries/s with 1 and 4 workers and approve-to-delivered p50/p99,
## on PostgreSQL (BENCH_DATABASE_URL, default a local bench_webhooks) and SQLite (not part of
## make bench)
bench-webhooks: $(VENV)/.bench
	$(BIN)/python -m bench.webhooks

## bench-load: comments at a steady 50/s for 3 minutes to gunicorn on PostgreSQL (a local
## bench_load, dropped and created anew) with webhooks delivered meanwhile: throughput,
## p50/p99, errors, then every acknowledged comment checked in the database (not part of
## make bench; BENCH_LOAD_ARGS="--rate 30 --seconds 60" to change)
bench-load: $(VENV)/.bench
	$(BIN)/python -m bench.load $(BENCH_LOAD_ARGS)

## bench-read: the read API on an article of 100,000 published comments, on PostgreSQL (a
## local bench_read, dropped and created anew; not part of make bench)
bench-read: $(VENV)/.bench
	$(BIN)/python -m bench.read_api

## bench-compat: the Perspective and OpenAI endpoints' requests/s and p99 against POST
## /v1/score on the same gunicorn (not part of make bench)
bench-compat: $(VENV)/.bench
	$(BIN)/python -m bench.compat

## bench-abuse: other clients' latency beside 200 slow connections (60 s), and beside a site
## posting scoring batches at its rate limit (not part of make bench)
bench-abuse: $(VENV)/.bench
	$(BIN)/python -m bench.abuse

## bench-training: training time and peak memory from 10,000 to 200,000 comments, each size
## in a fresh process (needs ../shared/datasets; not part of make bench)
bench-training: $(VENV)/.bench
	$(BIN)/python -m bench.training

clean:
	rm -rf $(VENV) instance .pytest_cache .env
