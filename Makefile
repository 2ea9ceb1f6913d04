# Every process of the system starts through a target here: `make run` locally, and the Docker
# image runs the same targets (see Dockerfile and docker-compose.yml).

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
BIND ?= 127.0.0.1:8000
WEB_WORKERS ?= 3
WEB_THREADS ?= 4
WORKER_CONCURRENCY ?= 2
PYTEST_ARGS ?=
# nginx in front of the two web instances in `make run`, when it is installed.
NGINX ?= $(shell command -v nginx 2>/dev/null || (test -x /usr/sbin/nginx && echo /usr/sbin/nginx))
NGINX_LISTEN ?= 127.0.0.1:8000
NGINX_UPSTREAMS ?= 127.0.0.1:8001 127.0.0.1:8002
NGINX_PREFIX ?= /tmp/cinema-nginx
PROCFILE := $(if $(NGINX),Procfile.nginx,Procfile)
# Processes of one node share their Prometheus metrics through this folder.
METRICS_DIR ?= /tmp/cinema-metrics
METRICS_ENV = PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR)

.PHONY: help install run web worker beat nginx createdb migrate seed messages static test lint format rush bench clean

help:
	@echo "make run    - migrate, then serve the API, a Celery worker and beat on local services"
	@echo "make test   - lint, migration drift check and the whole test suite (real services)"
	@echo "make seed   - demo data (idempotent)"
	@echo "make rush   - the ticket-rush demo against a running stack"
	@echo "make bench  - benchmark report of the reservation path"

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

createdb:
	$(PY) manage.py create_database

migrate:
	$(PY) manage.py migrate --noinput

seed:
	$(PY) manage.py seed_demo

messages:
	$(PY) manage.py compilemessages --ignore=.venv >/dev/null

static:
	$(PY) manage.py collectstatic --noinput >/dev/null

web:
	@mkdir -p $(METRICS_DIR)
	$(METRICS_ENV) $(BIN)/gunicorn cinema.wsgi:application --bind $(BIND) \
		--workers $(WEB_WORKERS) --worker-class gthread --threads $(WEB_THREADS) \
		--control-socket /tmp/cinema-gunicorn-$(subst :,-,$(BIND)).ctl \
		--graceful-timeout 20 --timeout 30

worker:
	@mkdir -p $(METRICS_DIR)
	$(METRICS_ENV) $(BIN)/celery -A cinema worker --loglevel=INFO --concurrency=$(WORKER_CONCURRENCY)

beat:
	$(BIN)/celery -A cinema beat --loglevel=INFO --schedule=/tmp/cinema-celerybeat-schedule

nginx:
	@test -n "$(NGINX)" || { echo "nginx is not installed"; exit 1; }
	@mkdir -p $(NGINX_PREFIX)/tmp
	@sed -e 's|@LISTEN@|$(NGINX_LISTEN)|' \
		-e 's|@UPSTREAMS@|$(foreach u,$(NGINX_UPSTREAMS),server $(u) max_fails=3 fail_timeout=5s;)|' \
		-e 's|@API_CONF@|$(CURDIR)/deploy/nginx/cinema-api.conf|' \
		deploy/nginx/local.conf > $(NGINX_PREFIX)/nginx.conf
	exec $(NGINX) -p $(NGINX_PREFIX) -c $(NGINX_PREFIX)/nginx.conf -g 'daemon off;'

run: install createdb migrate static
	@echo "API:      http://127.0.0.1:8000/api/v1/  ($(if $(NGINX),nginx in front of :8001 and :8002,second instance: http://127.0.0.1:8001))"
	@echo "API docs: http://127.0.0.1:8000/api-docs"
	@echo "Admin:    http://127.0.0.1:8000/admin/"
	@echo "Health:   http://127.0.0.1:8000/health/ready    Metrics: http://127.0.0.1:8000/metrics"
	@echo "Demo data: make seed. Stop with Ctrl-C."
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	$(BIN)/honcho start -f $(PROCFILE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

rush: install
	$(PY) -m tests.bench.rush

bench: install
	$(PY) -m tests.bench.reservations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis staticfiles
