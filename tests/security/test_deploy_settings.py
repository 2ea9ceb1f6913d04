"""cinema.settings.production passes Django's deployment checklist and never runs the sandbox
payment provider; compose runs the same hardening with the sandbox (cinema.settings.demo)."""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.processes import manage

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


@pytest.mark.parametrize("module", [PRODUCTION, DEMO])
def test_check_deploy_is_clean(module):
    env = production_env(DJANGO_SETTINGS_MODULE=module)
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNINGS:" not in output, output


WEAK_SECRETS = {
    "unset": None,
    "empty": "",
    "blank": "   ",
    # The values published in this repository: base.py's development key, an old compose default.
    "base-default": "insecure-local-development-key-change-me",
    "compose-default": "change-me-in-production",
    # Django's own rule (check --deploy, security.W009).
    "short": "Zq8-vT3_pL0xR7sN4mK1wB6y",
    "few-distinct-characters": "abcd" * 20,
    "startproject": "django-insecure-" + "k3!x9@p0q#w7e$r2t%y5u^i8o&a1s*d4f(g6h)j" * 2,
}


@pytest.mark.parametrize("module", [PRODUCTION, DEMO])
@pytest.mark.parametrize("secret", WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_hardened_settings_refuse_to_start_with_a_weak_secret_key(module, secret):
    env = production_env(DJANGO_SETTINGS_MODULE=module)
    if secret is None:
        del env["DJANGO_SECRET_KEY"]
    else:
        env["DJANGO_SECRET_KEY"] = secret

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is refused" in result.stderr
    if secret and secret.strip():
        assert secret not in result.stderr + result.stdout  # the key is never printed


@pytest.fixture(scope="module")
def hardened():
    """cinema.settings.hardened, imported in this process with a strong key."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
        return importlib.import_module("cinema.settings.hardened")


@pytest.mark.parametrize("secret", [s for s in WEAK_SECRETS.values() if s is not None])
def test_the_secret_key_rule_refuses(hardened, secret):
    assert hardened.weak_secret_key_reason(secret)


@pytest.mark.parametrize(
    "secret",
    [
        secrets.token_urlsafe(64),
        secrets.token_hex(25),  # exactly 50 characters
        "".join(secrets.choice("abcde") for _ in range(60)) + "abcde",  # 5 distinct
    ],
)
def test_the_secret_key_rule_accepts_what_django_accepts(hardened, secret):
    from django.core.checks.security.base import _check_secret_key

    assert _check_secret_key(secret)
    assert hardened.weak_secret_key_reason(secret) is None


def test_the_secret_key_rule_is_djangos(hardened):
    from django.core.checks.security import base as django_rule

    assert hardened.SECRET_KEY_MIN_LENGTH == django_rule.SECRET_KEY_MIN_LENGTH
    assert hardened.SECRET_KEY_MIN_UNIQUE_CHARACTERS == django_rule.SECRET_KEY_MIN_UNIQUE_CHARACTERS
    assert hardened.SECRET_KEY_INSECURE_PREFIX == django_rule.SECRET_KEY_INSECURE_PREFIX


SHOW_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def test_the_demo_makes_a_random_key_once_and_keeps_it(tmp_path):
    key_file = tmp_path / "volume" / "secret_key"
    env = production_env(DJANGO_SETTINGS_MODULE=DEMO, DEMO_SECRET_KEY_FILE=str(key_file))
    del env["DJANGO_SECRET_KEY"]

    first = manage("shell", "-c", SHOW_KEY, env=env)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert len(key) >= 80
    assert key_file.read_text().strip() == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]

    # Compose passes an empty DJANGO_SECRET_KEY when none is set: the same file, the same key.
    again = manage("shell", "-c", SHOW_KEY, env={**env, "DJANGO_SECRET_KEY": ""})
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == key


def test_the_demo_takes_a_key_given_to_it(tmp_path):
    key_file = tmp_path / "secret_key"
    given = secrets.token_urlsafe(64)
    env = production_env(
        DJANGO_SETTINGS_MODULE=DEMO, DEMO_SECRET_KEY_FILE=str(key_file), DJANGO_SECRET_KEY=given
    )

    result = manage("shell", "-c", SHOW_KEY, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == given
    assert not key_file.exists()


def test_processes_starting_together_agree_on_the_demo_key(tmp_path, hardened, monkeypatch):
    monkeypatch.delenv("DEMO_SECRET_KEY_FILE", raising=False)
    from cinema.settings.demo import demo_secret_key

    key_file = tmp_path / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: demo_secret_key(key_file), range(32)))

    assert keys == {key_file.read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_production_never_makes_a_key_of_its_own(tmp_path):
    key_file = tmp_path / "secret_key"
    env = production_env(DEMO_SECRET_KEY_FILE=str(key_file))
    del env["DJANGO_SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is refused" in result.stderr
    assert not key_file.exists()


def test_demo_data_is_refused_in_production_unless_asked_for():
    """seed_demo makes users with published passwords: settings.DEMO_DATA_ALLOWED says whether
    it may run (cinema.settings.base and test leave it to the command's default: allowed)."""
    script = "from django.conf import settings; print(settings.DEMO_DATA_ALLOWED)"
    cases = [(PRODUCTION, {}, "False"), (PRODUCTION, {"DEMO_DATA_ALLOWED": "true"}, "True")]
    cases.append((DEMO, {}, "True"))
    for module, extra, expected in cases:
        env = production_env(DJANGO_SETTINGS_MODULE=module, **extra)
        result = manage("shell", "-c", script, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == expected, (module, extra)


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


def compose_default(value: str) -> str | None:
    """The default of a `${NAME:-default}` pass-through, None for a fixed value."""
    found = re.fullmatch(r"\$\{(\w+):-(.*)\}", str(value))
    return found.group(2) if found else None


@pytest.mark.parametrize("name", ["migrate", "api1", "api2", "worker", "beat"])
def test_compose_carries_no_weak_secret_key(compose, hardened, name):
    """No key in the file: an empty default, which the demo settings replace with a random key
    kept in a volume (DEMO_SECRET_KEY_FILE), or one the hardened settings would accept."""
    env = compose["services"][name]["environment"]
    default = compose_default(env["DJANGO_SECRET_KEY"])
    assert default is not None
    if default:
        assert hardened.weak_secret_key_reason(default) is None
    else:
        assert env["DJANGO_SETTINGS_MODULE"] == f"${{DJANGO_SETTINGS_MODULE:-{DEMO}}}"
        folder = env["DEMO_SECRET_KEY_FILE"].rsplit("/", 1)[0]
        volume = next(v for v in compose["services"][name]["volumes"] if v.endswith(f":{folder}"))
        assert volume.split(":")[0] in compose["volumes"]


def base_env_defaults() -> dict[str, object]:
    """`env.<type>("NAME", default=<literal>)` of cinema/settings/base.py."""
    tree = ast.parse((ROOT / "cinema/settings/base.py").read_text())
    defaults = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            for keyword in node.keywords:
                if keyword.arg == "default":
                    with contextlib.suppress(ValueError):
                        defaults[node.args[0].value] = ast.literal_eval(keyword.value)
    return defaults


# What the README and docs/payments.md say compose passes through from the shell.
PASSED_THROUGH = [
    "DJANGO_SECRET_KEY",
    "ALLOWED_HOSTS",
    "RESERVATION_TTL_SECONDS",
    "THROTTLE_RESERVATIONS",
    "THROTTLE_RESERVATIONS_IP",
    "THROTTLE_USER",
    "THROTTLE_ANON",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "PAYMENT_PROVIDER",
    "PAYMENT_PENDING_SECONDS",
    "PAYMENT_RECONCILE_AFTER_SECONDS",
    "PAYMENT_RECONCILE_INTERVAL_SECONDS",
    "PAYMENT_REFUND_MAX_RETRIES",
    "REFUND_DEADLINE_MINUTES",
    "PAYMENT_WEBHOOK_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "SEED_DEMO",
]
# Compose's own choice, not the app's default.
COMPOSE_DEFAULTS = {
    "DJANGO_SECRET_KEY": "",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,nginx",
    "LOG_FORMAT": "json",
    "SEED_DEMO": "0",
}


@pytest.mark.parametrize("name", ["migrate", "api1", "api2", "worker", "beat"])
def test_compose_passes_the_documented_settings_through_with_the_apps_defaults(compose, name):
    env = compose["services"][name]["environment"]
    base = base_env_defaults()

    for variable in PASSED_THROUGH:
        assert env.get(variable, "").startswith(f"${{{variable}:-"), variable
        default = compose_default(env[variable])
        expected = COMPOSE_DEFAULTS.get(variable, base.get(variable))
        if isinstance(expected, (int, float)) and not isinstance(expected, bool):
            assert float(default) == expected, variable
        else:
            assert default == expected, variable
    # Every payment and throttle setting the app reads is among them (the webhook URL is fixed:
    # the sandbox reaches the API through nginx).
    read = {v for v in base if v.startswith(("PAYMENT_", "THROTTLE_"))} - {"PAYMENT_WEBHOOK_URL"}
    assert read <= set(PASSED_THROUGH)
    # DJANGO_DEBUG does nothing under the hardened settings (DEBUG is always off there).
    assert "DJANGO_DEBUG" not in env


def test_compose_nginx_passes_the_host_with_its_port_and_the_scheme(compose):
    # The proxy settings are shared with `make nginx` (deploy/nginx/cinema-api.conf).
    proxy = (ROOT / compose["configs"]["nginx_api"]["file"]).read_text()

    assert "listen 8000;" in compose["configs"]["nginx_conf"]["content"]
    assert "proxy_set_header Host $http_host;" in proxy
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in proxy
    assert compose["services"]["nginx"]["ports"] == ["8000:8000"]


def test_holds_of_a_chosen_length_are_off_in_production_and_on_in_the_demo():
    script = "from django.conf import settings; print(settings.TRY_FLOW_HOLD_SECONDS_MAX)"
    for module, longest in ((PRODUCTION, "0"), (DEMO, "600")):
        result = manage("shell", "-c", script, env=production_env(DJANGO_SETTINGS_MODULE=module))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == longest, module


def test_production_refuses_holds_of_a_chosen_length():
    result = manage("check", env=production_env(TRY_FLOW_HOLD_SECONDS_MAX="600"))

    assert result.returncode != 0
    assert "TRY_FLOW_HOLD_SECONDS_MAX=600" in result.stderr
