# Every process of the system starts through a target here: `make run` locally, and the Docker
# image runs the same targets (see Dockerfile and docker-compose.yml).

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
BIND ?= 127.0.0.1:8000
WEB_WORKERS ?= 3
WORKER_CONCURRENCY ?= 2
PYTEST_ARGS ?=

.PHONY: help install run web worker beat migrate seed messages static test lint format bench clean

help:
	@echo "make run    - migrate, then serve the API, a Celery worker and beat on local services"
	@echo "make test   - lint, migration drift check and the whole test suite (real services)"
	@echo "make seed   - demo data (idempotent)"

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

migrate:
	$(PY) manage.py migrate --noinput

seed:
	$(PY) manage.py seed_demo

messages:
	$(PY) manage.py compilemessages --ignore=.venv >/dev/null

static:
	$(PY) manage.py collectstatic --noinput >/dev/null

web:
	$(BIN)/gunicorn cinema.wsgi:application --bind $(BIND) --workers $(WEB_WORKERS) \
		--access-logfile - --graceful-timeout 20 --timeout 30

worker:
	$(BIN)/celery -A cinema worker --loglevel=INFO --concurrency=$(WORKER_CONCURRENCY)

beat:
	$(BIN)/celery -A cinema beat --loglevel=INFO --schedule=/tmp/cinema-celerybeat-schedule

run: install migrate static
	@echo "API:      http://$(BIND)/api/v1/"
	@echo "API docs: http://$(BIND)/api-docs"
	@echo "Admin:    http://$(BIND)/admin/"
	@echo "Health:   http://$(BIND)/health/ready"
	@echo "Demo data: make seed. Stop with Ctrl-C."
	@trap 'kill 0' INT TERM EXIT; \
		$(MAKE) --no-print-directory worker & \
		$(MAKE) --no-print-directory beat & \
		$(MAKE) --no-print-directory web

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m tests.bench.reservations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis staticfiles
