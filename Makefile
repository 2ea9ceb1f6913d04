# Every process of the system starts through a target here: `make run` locally, and the Docker
# image runs the same targets (see Dockerfile and docker-compose.yml).

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
BIND ?= 127.0.0.1:8000
# Per web instance: granian worker processes, and the threads each runs the app in. On 2 cores,
# two instances of one process and 8 threads each answered most (docs/performance.md); granian
# warns at start-up that 8 threads are many for 2 cores: they were measured, the warning may be
# ignored.
WEB_WORKERS ?= 1
WEB_THREADS ?= 8
WORKER_CONCURRENCY ?= 2
PYTEST_ARGS ?=
# nginx in front of the two web instances in `make run`, when it is installed.
NGINX ?= $(shell command -v nginx 2>/dev/null || (test -x /usr/sbin/nginx && echo /usr/sbin/nginx))
NGINX_LISTEN ?= 127.0.0.1:8000
NGINX_UPSTREAMS ?= 127.0.0.1:8001 127.0.0.1:8002
# The stream server (ASGI, uvicorn): the live seat map's server-sent events, apart from the WSGI
# instances so that open streams never take their threads. nginx sends the stream path to it.
STREAM_BIND ?= 127.0.0.1:8003
NGINX_STREAM_UPSTREAMS ?= $(STREAM_BIND)
NGINX_PREFIX ?= /tmp/cinema-nginx
PROCFILE := $(if $(NGINX),Procfile.nginx,Procfile)
# Processes of one node share their Prometheus metrics through this folder.
METRICS_DIR ?= /tmp/cinema-metrics
METRICS_ENV = PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR)
# The host and the port of a host:port address (BIND, STREAM_BIND).
bind_host = $(word 1,$(subst :, ,$(1)))
bind_port = $(word 2,$(subst :, ,$(1)))
# Set (host:port), the Celery worker serves its node's metrics itself (deploy/worker_metrics.py):
# compose does, where the worker has a container of its own. `make run` needs no such thing: the
# web instances share METRICS_DIR with the worker, and their /metrics shows it.
WORKER_METRICS_BIND ?=
# Dependencies: requirements.txt (runtime) and requirements-dev.txt (tools) are the pins people
# edit; `make lock` resolves them into requirements.lock (what the image installs) and
# requirements-dev.lock (what `make install` and CI install), every file with its PyPI hashes.
# A lock keeps its pins while they still satisfy the inputs; `make lock LOCK_ARGS=--upgrade` takes
# the newest versions of everything that is not pinned by hand.
LOCK_INDEX ?= https://pypi.org/simple
LOCK_ARGS ?=
LOCK = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--no-config --index-url $(LOCK_INDEX) --custom-compile-command "make lock" $(LOCK_ARGS)

.PHONY: help install bench-install lock run web stream worker beat nginx createdb migrate seed messages static test lint format rush bench clean

help:
	@echo "make run    - migrate, then serve the API, a Celery worker and beat on local services"
	@echo "make test   - lint, migration drift check and the whole test suite (real services)"
	@echo "make seed   - demo data (idempotent)"
	@echo "make rush   - the ticket-rush demo against a running stack"
	@echo "make bench  - benchmark report of the reservation path"
	@echo "make lock   - re-resolve requirements*.lock after editing requirements*.txt"

install: $(VENV)/.installed

# Only the hashed lock is installed (pip itself included), so every machine and CI get the very
# files PyPI published; an edited lock reinstalls.
$(VENV)/.installed: requirements-dev.lock requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# The runtime lock first: the dev lock is constrained to its versions, so both agree.
lock: install
	$(LOCK) requirements.txt -o requirements.lock
	$(LOCK) requirements-dev.txt --constraint requirements.lock -o requirements-dev.lock
	$(LOCK) requirements-bench.txt --constraint requirements-dev.lock -o requirements-bench.lock

# The benchmark's own packages (matplotlib for its chart): never installed by `make run` or CI.
bench-install: $(VENV)/.bench-installed

$(VENV)/.bench-installed: requirements-bench.lock $(VENV)/.installed
	$(PY) -m pip install --quiet --require-hashes -r requirements-bench.lock
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

# The servers are exec'd: make's own child is then granian, uvicorn or celery itself, and the
# SIGTERM that stops make (docker stop, honcho) reaches it and starts its graceful shutdown.
# granian (WSGI, HTTP/1.1 as nginx speaks it upstream) on SIGTERM stops listening and closes its
# idle connections, lets the requests in flight finish, and kills a worker still busy after
# --workers-kill-timeout. A worker that dies is started again at once (one that dies again within
# seconds is a crash loop: the instance stops). No access log: the app logs every request itself.
web:
	@mkdir -p $(METRICS_DIR)
	exec env $(METRICS_ENV) $(BIN)/granian --interface wsgi --http 1 \
		--host $(call bind_host,$(BIND)) --port $(call bind_port,$(BIND)) \
		--workers $(WEB_WORKERS) --blocking-threads $(WEB_THREADS) \
		--respawn-failed-workers --workers-kill-timeout 20 --no-access-log cinema.wsgi:application

# One process, one event loop: an open stream is a coroutine, not a thread. On SIGTERM open streams
# get a few seconds, then are closed; their clients reconnect (to another stream server).
stream:
	@mkdir -p $(METRICS_DIR)
	exec env $(METRICS_ENV) $(BIN)/uvicorn cinema.asgi:application \
		--host $(call bind_host,$(STREAM_BIND)) --port $(call bind_port,$(STREAM_BIND)) \
		--loop uvloop --http httptools --lifespan off --no-access-log \
		--timeout-graceful-shutdown 5

worker:
	@mkdir -p $(METRICS_DIR)
	exec env $(METRICS_ENV) $(if $(WORKER_METRICS_BIND),WORKER_METRICS_BIND=$(WORKER_METRICS_BIND)) \
		$(BIN)/celery -A cinema worker --loglevel=INFO --concurrency=$(WORKER_CONCURRENCY) \
		$(if $(WORKER_METRICS_BIND),--include deploy.worker_metrics)

beat:
	exec $(BIN)/celery -A cinema beat --loglevel=INFO --schedule=/tmp/cinema-celerybeat-schedule

nginx:
	@test -n "$(NGINX)" || { echo "nginx is not installed"; exit 1; }
	@mkdir -p $(NGINX_PREFIX)/tmp
	@sed -e 's|@LISTEN@|$(NGINX_LISTEN)|' \
		-e 's|@UPSTREAMS@|$(foreach u,$(NGINX_UPSTREAMS),server $(u) max_fails=3 fail_timeout=5s;)|' \
		-e 's|@STREAM_UPSTREAMS@|$(foreach u,$(NGINX_STREAM_UPSTREAMS),server $(u);)|' \
		-e 's|@API_CONF@|$(CURDIR)/deploy/nginx/cinema-api.conf|' \
		deploy/nginx/local.conf > $(NGINX_PREFIX)/nginx.conf
	exec $(NGINX) -p $(NGINX_PREFIX) -c $(NGINX_PREFIX)/nginx.conf -g 'daemon off;'

run: install createdb migrate static
	@echo "API:      http://127.0.0.1:8000/api/v1/  ($(if $(NGINX),nginx in front of :8001 and :8002,second instance: http://127.0.0.1:8001))"
	@echo "API docs: http://127.0.0.1:8000/api-docs"
	@echo "Admin:    http://127.0.0.1:8000/admin/"
	@echo "Live seat map: http://127.0.0.1:$(if $(NGINX),8000,8003)/api/v1/sessions/{id}/seats/stream"
	@echo "Health:   http://127.0.0.1:8000/health/ready    Metrics: http://127.0.0.1:$(if $(NGINX),8001,8000)/metrics$(if $(NGINX), (nginx keeps /metrics off port 8000))"
	@echo "Demo data: make seed. Stop with Ctrl-C."
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	$(BIN)/honcho start -f $(PROCFILE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

rush: install
	$(PY) -m bench.rush

bench: bench-install
	$(PY) -m bench.reservations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis staticfiles
