"""cinema.settings.production passes Django's deployment checklist and never runs the sandbox
payment provider; compose runs the same hardening with the sandbox (cinema.settings.demo)."""

from __future__ import annotations

import importlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = "cinema.settings.production"
DEMO = "cinema.settings.demo"


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PYTEST_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE=PRODUCTION,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("module", [PRODUCTION, DEMO])
def test_check_deploy_is_clean(module):
    env = production_env(DJANGO_SETTINGS_MODULE=module)
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNINGS:" not in output, output


@pytest.mark.parametrize("secret", [None, "", "insecure-local-development-key-change-me"])
def test_production_refuses_to_start_without_a_secret_key(secret):
    env = production_env()
    if secret is None:
        del env["DJANGO_SECRET_KEY"]
    else:
        env["DJANGO_SECRET_KEY"] = secret

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_the_sandbox_payment_provider():
    result = manage("check", env=production_env(PAYMENT_PROVIDER="fake"))

    assert result.returncode != 0
    assert "PAYMENT_PROVIDER='fake'" in result.stderr


def test_production_pays_through_stripe_and_the_demo_through_the_sandbox():
    script = "from django.conf import settings; print(settings.PAYMENT_PROVIDER)"
    for module, provider in ((PRODUCTION, "stripe"), (DEMO, "fake")):
        result = manage("shell", "-c", script, env=production_env(DJANGO_SETTINGS_MODULE=module))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == provider


@pytest.fixture
def production_security(settings, monkeypatch):
    """Apply the production module's security settings to this test's (in-process) settings."""
    monkeypatch.setenv("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
    monkeypatch.delenv("DJANGO_SECURE_SSL_REDIRECT", raising=False)
    module = importlib.import_module(PRODUCTION)
    for name in dir(module):
        if (
            name.startswith(("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_"))
            or name == "X_FRAME_OPTIONS"
        ):
            setattr(settings, name, getattr(module, name))
    return module


@pytest.mark.django_db
def test_plain_http_is_redirected_but_health_is_not(client, production_security):
    assert production_security.SECURE_SSL_REDIRECT is True

    api = client.get("/api/v1/movies")
    assert api.status_code == 301
    assert api["Location"] == "https://testserver/api/v1/movies"

    # Inside the compose network the probes speak plain HTTP to the instances.
    assert client.get("/health").status_code == 200
    assert client.get("/health/ready").status_code in (200, 503)
    assert client.get("/healthz").status_code == 301

    # Behind nginx terminating TLS: X-Forwarded-Proto says https, no redirect, HSTS sent.
    secure = client.get("/api/v1/movies", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert secure["X-Content-Type-Options"] == "nosniff"
    assert secure["Referrer-Policy"] == "same-origin"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("name", ["migrate", "api1", "api2", "worker", "beat"])
def test_compose_runs_the_hardened_demo_settings_over_plain_http(compose, name):
    env = compose["services"][name]["environment"]

    assert env["DJANGO_SETTINGS_MODULE"] == f"${{DJANGO_SETTINGS_MODULE:-{DEMO}}}"
    # The sandbox provider's webhooks reach the API through nginx, as a provider's would.
    assert env["PAYMENT_WEBHOOK_URL"] == "http://nginx:8000/api/v1/payments/webhooks/fake"
    # nginx listens on plain HTTP port 8000: redirecting to HTTPS would break `docker compose up`.
    assert env["DJANGO_SECURE_SSL_REDIRECT"] == "${DJANGO_SECURE_SSL_REDIRECT:-false}"
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:-")


def test_compose_nginx_passes_the_host_with_its_port_and_the_scheme(compose):
    # The proxy settings are shared with `make nginx` (deploy/nginx/cinema-api.conf).
    proxy = (ROOT / compose["configs"]["nginx_api"]["file"]).read_text()

    assert "listen 8000;" in compose["configs"]["nginx_conf"]["content"]
    assert "proxy_set_header Host $http_host;" in proxy
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in proxy
    assert compose["services"]["nginx"]["ports"] == ["8000:8000"]
