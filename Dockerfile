# One image for every process; the command picks the Makefile target (web, worker, beat, migrate),
# the same targets `make run` starts locally.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BIND=0.0.0.0:8000 \
    LOG_FORMAT=json

RUN apt-get update \
    && apt-get install -y --no-install-recommends make gettext curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 app

WORKDIR /app
COPY requirements.txt ./
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements.txt

COPY --chown=app:app . .
RUN DJANGO_SECRET_KEY=build-only .venv/bin/python manage.py collectstatic --noinput \
    && make messages

USER app
EXPOSE 8000
CMD ["make", "web"]
