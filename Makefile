# Fufen — two commands on a fresh machine:
#   make run    set up .venv, migrate, seed demo data, serve http://127.0.0.1:5000
#   make test   set up .venv (+ Chromium and a CJK font when missing), run the whole suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
FLASK  := $(VENV)/bin/flask --app app
HOST   ?= 127.0.0.1
PORT   ?= 5000
# The suite also runs against this PostgreSQL server (a fresh database per run).
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

# The date-sensitive tests, run again under three clocks (core.clock, --clock): just after
# midnight in China (16:01 UTC), just before midnight UTC, and New Year's Eve in China.
CLOCK_TESTS ?= tests/unit/test_clock.py tests/integration/test_hours_services.py \
	tests/integration/test_exchange_services.py tests/integration/test_activities_services.py \
	tests/functional/test_hours_wishes_views.py tests/functional/test_activities_views.py tests/functional/test_trust_mfa.py \
	tests/e2e/test_volunteer_journey.py::test_micro_wish_from_post_to_rating
CLOCKS ?= 2027-03-14T16:01:00+00:00 2027-03-14T23:59:00+00:00 2026-12-31T15:58:00+00:00

.PHONY: faults faults-short run test test-clocks lint venv dev-venv translations migrate seed check-migrations browser clean bench fuzz mutation mutation-ci

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
dev-venv: $(VENV)/.installed-dev

translations: venv
	sh scripts/i18n.sh compile

migrate: venv
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed-demo

run: translations seed
	FUFEN_CONFIG=development $(FLASK) run --host $(HOST) --port $(PORT)

browser:
	sh scripts/install-browser.sh

check-migrations: dev-venv
	$(PY) -m pytest -q -p no:cacheprovider tests/integration/test_migrations.py

lint: dev-venv
	$(VENV)/bin/ruff check --exclude .venv . && $(VENV)/bin/ruff format --check --exclude .venv .

test: dev-venv translations browser lint
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory faults-short
	$(MAKE) --no-print-directory test-clocks

test-clocks: dev-venv translations
	set -e; for at in $(CLOCKS); do echo "== clock $$at"; \
	  $(PY) -m pytest -q -p no:cacheprovider -k "not postgresql" --clock=$$at $(CLOCK_TESTS); done


# Fault test (docs/reliability.md): money over HTTP while gunicorn is killed -9 and PostgreSQL
# restarted. The short form runs after the suite; it restarts PostgreSQL only when no other
# client is connected to the server (a shared development server is left alone).
faults-short: dev-venv
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) timeout 480 $(PY) -m bench.faults --seconds 30 --pg-restart auto

faults: dev-venv
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m bench.faults --seconds 90 --pg-restart force

# Hypothesis exploration: fresh seeds, many more examples, the example database kept in
# .hypothesis/ (the suite itself runs the deterministic profile). Turn what it finds into @example.
fuzz: dev-venv
	HYPOTHESIS_PROFILE=fuzz TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m pytest -q \
	  tests/ledger/test_stateful.py tests/ledger/test_integrity.py -k "state_machine or serialization" $(PYTEST_ARGS)

# Mutation testing (mutmut, one core, seeded sample): see docs/reliability.md.
#   make mutation MUTATION_ARGS="--target services --backend pg --sample 150"
MUTATION_ARGS ?= --target ledger --backend sqlite --sample 300 --seed 1
mutation: dev-venv
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/mutation.py $(MUTATION_ARGS)

# The bounded sample CI runs (.ci/run): fails below the bar.
mutation-ci: dev-venv
	$(PY) scripts/mutation.py --target ledger --backend sqlite --sample 25 --seed 1 --bar 90 --quiet

bench: dev-venv
	$(PY) -m bench.ledger --help

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
