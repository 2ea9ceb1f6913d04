"""Base plus the hardening `manage.py check --deploy` asks for: what production (production.py)
and the compose demo (demo.py) share.

The app runs behind nginx, which terminates TLS and sets `X-Forwarded-Proto`. Everything else
still comes from the environment (see base.py); here only what must never be left to a default.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False

# No default: a production process without its own key must not start.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY.strip() or SECRET_KEY == "insecure-local-development-key-change-me":
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a long random value with production settings."
    )

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
