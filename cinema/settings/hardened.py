"""Base plus the hardening `manage.py check --deploy` asks for: what production (production.py)
and the compose demo (demo.py) share.

The app runs behind nginx, which terminates TLS and sets `X-Forwarded-Proto`. Everything else
still comes from the environment (see base.py); here only what must never be left to a default.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False

# --- The secret key -------------------------------------------------------------------------------
# No default: a production process without a key of its own must not start, nor with one anybody
# could know: the values published in this repository (base.py's development key, an old compose
# default) or one that fails Django's own rule (`check --deploy`, security.W009: 50 characters or
# more, 5 distinct ones or more, no "django-insecure-" prefix of startproject's keys).
PUBLISHED_SECRET_KEYS = frozenset(
    {"insecure-local-development-key-change-me", "change-me-in-production"}
)
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
SECRET_KEY_INSECURE_PREFIX = "django-insecure-"


def weak_secret_key_reason(key: str) -> str | None:
    """Why `key` must not sign anything in production, or None when it may."""
    if not key.strip():
        return "it is not set"
    if key in PUBLISHED_SECRET_KEYS:
        return "it is a value published in this repository"
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"it starts with {SECRET_KEY_INSECURE_PREFIX!r} (a development key)"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it is shorter than {SECRET_KEY_MIN_LENGTH} characters"
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return f"it has fewer than {SECRET_KEY_MIN_UNIQUE_CHARACTERS} distinct characters"
    return None


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if (_weak := weak_secret_key_reason(SECRET_KEY)) is not None:
    # The key itself is never printed.
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is refused with production settings: {_weak}. Set it to a long "
        "random value, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
    )

# --- Demo data ------------------------------------------------------------------------------------
# `manage.py seed_demo` makes users with published passwords (a staff account among them): never
# in production unless asked for explicitly. The compose demo (demo.py) allows it.
DEMO_DATA_ALLOWED = env.bool("DEMO_DATA_ALLOWED", default=False)

# --- HTTPS, behind the proxy ----------------------------------------------------------------------
# nginx sets X-Forwarded-Proto itself (overwriting any client value); trust it for is_secure().
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Plain HTTP is redirected to HTTPS. `docker compose up` serves plain HTTP on port 8000 for local
# use and turns this off with DJANGO_SECURE_SSL_REDIRECT=false.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Probes (compose healthchecks, load balancers) call the instances over plain HTTP inside the
# network: /health and /health/ready answer them, never redirect. (Paths lose their leading "/".)
SECURE_REDIRECT_EXEMPT = [r"^health(/ready)?$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

# --- Cookies and headers --------------------------------------------------------------------------
# API clients authenticate with the X-Session-Token header; cookies are the admin's only.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
