# One image for every process; the command picks the Makefile target (web, worker, beat, migrate),
# the same targets `make run` starts locally.
#
# Two stages. `build` makes the virtualenv from requirements.lock (hashed: pip installs exactly the
# files PyPI published, wheels only) and generates what the code needs at run time (compiled
# messages, collected static files, bytecode). `runtime` takes the result and nothing else: no
# compilers, no gettext, no pip cache, no dev tools; the code is root's and read-only to the app
# user, which only runs it. The base image is pinned to an exact Python and Debian release.

FROM python:3.11.15-slim-bookworm AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends make gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The lock alone first: the dependency layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN python -m venv .venv \
    && .venv/bin/pip install --require-hashes --only-binary=:all: -r requirements.lock

COPY . .
# Bytecode with checked hashes: valid whatever the files' times, and the app user cannot write it.
RUN make messages static \
    && .venv/bin/python -m compileall -q -f --invalidation-mode checked-hash apps cinema deploy \
    && chmod -R go-w /app


FROM python:3.11.15-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BIND=0.0.0.0:8000 \
    LOG_FORMAT=json

# make runs the targets; the app user owns only /var/lib/cinema, where the compose demo keeps the
# secret key it generates (a named volume; cinema/settings/demo.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 --user-group app \
    && install -d -o app -g app -m 0700 /var/lib/cinema

WORKDIR /app
# Owned by root (COPY's default): the app user reads and runs the code, never changes it.
COPY --from=build /app /app

USER app
EXPOSE 8000
CMD ["make", "web"]
