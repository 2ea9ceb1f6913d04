"""Settings for every environment, read from the process environment.

Each integration keeps its settings in one block below. Local defaults point at the services of a
developer machine (PostgreSQL, Redis and RabbitMQ on 127.0.0.1), so `make run` works unconfigured.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from apps.ops.log_config import configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# --- Django core -------------------------------------------------------------------------------
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-development-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
# Request bodies are read into memory: 1 MiB is far above any API payload (nginx's default
# client_max_body_size is 1m too); a bigger one is refused with a 400 problem (handler400).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

INSTALLED_APPS = [
    # modeltranslation must precede the admin so translated fields show side by side.
    "modeltranslation",
    # Django's admin, served by the staff site (apps/staff).
    "apps.staff.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_structlog",
    "django_prometheus",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "apps.core",
    "apps.api",
    "apps.events",
    "apps.ops",
    "apps.accounts",
    "apps.catalog",
    "apps.rooms",
    "apps.sessions",
    "apps.bookings",
    "apps.payments",
    "apps.stats",
    "apps.demo",
    "apps.staff",
]

MIDDLEWARE = [
    "apps.ops.request_metrics.RequestMetricsMiddleware",
    "apps.ops.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Sessions, the request's user and messages: Django's own, stepping aside on the token API,
    # health and metrics paths, which need none of them. (CSRF and framing stay as they are:
    # Django's deployment checks look for them by name, and they cost next to nothing.)
    "apps.ops.browser_middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "apps.ops.browser_middleware.AuthenticationMiddleware",
    "apps.ops.browser_middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "apps.api.middleware.JsonErrorsMiddleware",
]

ROOT_URLCONF = "cinema.urls"
WSGI_APPLICATION = "cinema.wsgi.application"
ASGI_APPLICATION = "cinema.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/cinema"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Parameters travel apart from the SQL and a statement run twice on a connection is prepared:
# PostgreSQL then skips parsing and planning the hot path's statements, and Python skips quoting
# every value into the SQL text (docs/performance.md has the before and after). An empty
# threshold prepares nothing (for a pooler in transaction mode, which cannot keep them). Options
# in the URL win.
_prepare_threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="2").strip()
DATABASE_PREPARE_THRESHOLD = int(_prepare_threshold) if _prepare_threshold else None
_STATEMENT_OPTIONS = {"server_side_binding": True, "prepare_threshold": DATABASE_PREPARE_THRESHOLD}
DATABASES["default"]["OPTIONS"] = {
    **_STATEMENT_OPTIONS,
    **DATABASES["default"].get("OPTIONS", {}),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# A streaming read replica of the primary (optional). Public catalogue reads go there, never a
# read that must be live or that decides a write (apps.core.db_router); without it, nothing changes.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
# After the replica failed a read, this process reads from the primary this long, then tries again.
DATABASE_REPLICA_RETRY_SECONDS = env.float("DATABASE_REPLICA_RETRY_SECONDS", default=5.0)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # A dead replica host must cost a request seconds, not the kernel's minutes of SYN retries:
    # the read then falls back to the primary. (libpq takes 2 s at the least; a `connect_timeout`
    # in the URL wins.)
    DATABASES["replica"]["OPTIONS"] = {
        "connect_timeout": env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2),
        **_STATEMENT_OPTIONS,
        **DATABASES["replica"].get("OPTIONS", {}),
    }
    # Tests read the replica's rows from the test database itself.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["apps.core.db_router.ReplicaRouter"]

# --- Redis: cache, throttles and the seat-lock fast path ---------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.25)
# With Sentinels ("host:port,host:port,..."), every Redis client asks them for the master named
# REDIS_SENTINEL_MASTER and follows a failover; REDIS_URL then gives only the database number and
# password (apps.core.redis_connections; docs/scaling.md).
REDIS_SENTINELS = [
    (host.strip(), int(port))
    for host, _, port in (item.rpartition(":") for item in env.list("REDIS_SENTINELS", default=[]))
]
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="cinema")
if REDIS_SENTINEL_MASTER.lower() != REDIS_SENTINEL_MASTER:
    # django-redis reads the name where a host would be, lower-cased: the others would not.
    raise ImproperlyConfigured("REDIS_SENTINEL_MASTER must be lower case.")


def _redis_cache_location() -> str:
    if not REDIS_SENTINELS:
        return REDIS_URL
    # django-redis reads the master's name where a host would be.
    parts = urlsplit(REDIS_URL)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{REDIS_SENTINEL_MASTER}" if userinfo else REDIS_SENTINEL_MASTER
    return urlunsplit(parts._replace(netloc=netloc))


CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": _redis_cache_location(),
        "KEY_PREFIX": "cinema",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            # Redis is a fast path, never a dependency of correctness: a cache outage degrades
            # throttling and speed, not availability.
            "IGNORE_EXCEPTIONS": True,
        },
    },
    # Per process, for what may be a moment old and is checked again where it matters.
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cinema"},
}
BOOKING_SESSION_CACHE_SECONDS = env.float("BOOKING_SESSION_CACHE_SECONDS", default=1.0)
# A rendered seat map is dropped at its next hold deadline or write, and after this at the latest.
SEAT_MAP_CACHE_SECONDS = env.float("SEAT_MAP_CACHE_SECONDS", default=10.0)
# The live seat map stream (docs/architecture.md#live-seat-map): entries kept per session's Redis
# Stream (a client further behind gets a fresh snapshot), the keep-alive comment's interval, the
# open streams allowed per client IP (per stream process), and the events queued per client
# before a client that does not keep up is dropped.
SEAT_STREAM_MAXLEN = env.int("SEAT_STREAM_MAXLEN", default=1000)
SSE_KEEPALIVE_SECONDS = env.float("SSE_KEEPALIVE_SECONDS", default=15.0)
SSE_MAX_STREAMS_PER_IP = env.int("SSE_MAX_STREAMS_PER_IP", default=20)
SSE_CLIENT_QUEUE_SIZE = env.int("SSE_CLIENT_QUEUE_SIZE", default=100)
SSE_FAN_OUT_SECONDS = env.float("SSE_FAN_OUT_SECONDS", default=0.05)
# One delivery in this many is timed for the delivery-latency histogram (seat_stream_hub).
SSE_LATENCY_SAMPLE = env.int("SSE_LATENCY_SAMPLE", default=8)
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
if REDIS_SENTINELS:
    # The master only (the default client's one server): a replica may lag, and the seat keys,
    # throttles and cached maps must be read where they are written.
    CACHES["default"]["OPTIONS"] |= {
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": REDIS_SENTINELS,
        "SENTINEL_KWARGS": {
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
# Sessions (and so allauth's session tokens) are written to PostgreSQL and read through the Redis
# cache: every authenticated request skips two queries, and logins survive a Redis outage.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Auth: custom user, allauth headless (app client) ------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "apps.accounts.backends.ModelBackend",
    "apps.accounts.backends.AuthenticationBackend",
]
# How long an authenticated user row may be served from the cache (saves drop it at once).
USER_CACHE_SECONDS = env.int("USER_CACHE_SECONDS", default=300)
# How long a process may answer for a session token from its own memory. Logins, logouts and
# user changes drop the copies everywhere at once (apps.accounts.token_cache); this bounds only
# what a lost notice could leave behind. 0 turns the per-process copies off.
AUTH_TOKEN_CACHE_SECONDS = env.float("AUTH_TOKEN_CACHE_SECONDS", default=60.0)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_RATE_LIMITS_ENABLED = env.bool("ACCOUNT_RATE_LIMITS_ENABLED", default=True)
if not ACCOUNT_RATE_LIMITS_ENABLED:
    ACCOUNT_RATE_LIMITS = False
HEADLESS_ONLY = True
HEADLESS_CLIENTS = ("app",)
HEADLESS_TOKEN_STRATEGY = "apps.accounts.tokens.SessionTokenStrategy"
# Links allauth puts in its e-mails (verification on signup, password reset) open the client app;
# without them signup fails, as "optional" verification still mails a link.
FRONTEND_URL = env.str("FRONTEND_URL", default="http://localhost:3000")
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": f"{FRONTEND_URL}/account/verify-email/{{key}}",
    "account_reset_password_from_key": f"{FRONTEND_URL}/account/password/reset/key/{{key}}",
    "account_signup": f"{FRONTEND_URL}/account/signup",
}

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Portuguese (Brazil)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
MODELTRANSLATION_DEFAULT_LANGUAGE = "pt-br"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("pt-br", "en")
TIME_ZONE = env.str("TIME_ZONE", default="America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)

# --- Django REST framework and the OpenAPI schema ----------------------------------------------
THROTTLE_RESERVATIONS = env.str("THROTTLE_RESERVATIONS", default="20/min")
THROTTLE_RESERVATIONS_IP = env.str("THROTTLE_RESERVATIONS_IP", default="120/min")
THROTTLE_USER = env.str("THROTTLE_USER", default="600/min")
THROTTLE_ANON = env.str("THROTTLE_ANON", default="60/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.api.authentication.SessionTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.api.permissions.ModelPermissionsOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.DefaultRateLimits"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": THROTTLE_ANON,
        "user": THROTTLE_USER,
        "reservations": THROTTLE_RESERVATIONS,
        "reservations_ip": THROTTLE_RESERVATIONS_IP,
    },
    "EXCEPTION_HANDLER": "apps.api.exception_handler.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.api.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Per-IP throttles key on the client address: 0 = the socket peer (X-Forwarded-For ignored, so it
# cannot be spoofed); behind one proxy (nginx in compose) set 1 to take its X-Forwarded-For hop.
REST_FRAMEWORK["NUM_PROXIES"] = env.int("NUM_PROXIES", default=0)

SPECTACULAR_SETTINGS = {
    "TITLE": "Cinema ticketing API",
    "DESCRIPTION": """Ticket sales for a cinema chain: catalogue, seat maps, seat holds and
payments. Errors are RFC 9457 problem details with a stable `code` (allauth's sign-up, login
and logout answer in allauth's own JSON). Operations with a padlock need the `X-Session-Token`
returned by `POST /_allauth/app/v1/auth/login` or `/signup`; the others are public.

**Seat ids.** A room's seats (`RoomSeat`, `GET /api/v1/rooms/{id}`) are its layout. Each session
(screening) has its own seats (`SessionSeat`, `GET /api/v1/sessions/{id}/seats`) with other ids:
reservations take those session-seat ids.

## Try the flow
1. `POST /_allauth/app/v1/auth/signup` (or `/login`) with an e-mail and a password; copy
   `meta.session_token` into **Authorize** (`SessionToken`).
2. `GET /api/v1/sessions` for a session id, then `GET /api/v1/sessions/{id}/seats` for the ids
   of seats whose `status` is `available`.
3. `POST /api/v1/reservations?hold_seconds=300` with those ids (the examples' ids are
   placeholders, a 404 as they are). A hold lasts 30 s by default, too short to go on by hand;
   `hold_seconds` gives this hold longer, where the server allows it (not in production:
   `hold_seconds_not_allowed`). The hold still ends at its `expires_at`.
4. `POST /api/v1/reservations/{id}/payment` with a `token` (the sandbox approves any but
   `tok_declined`), then `GET /api/v1/me/purchases`. `DELETE /api/v1/reservations/{id}` gives
   unpaid seats back at once.""",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # ReDoc's bundle from the sidecar too: the docs work without a CDN.
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The X-Session-Token scheme and each operation's requirement: apps.api.openapi.
    # allauth's sign-up, login and logout are not DRF views: described in apps.accounts.openapi.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.accounts.openapi.add_auth_endpoints",
        "apps.bookings.openapi.reservation_limits",
    ],
    # Several models have a `status`: each enum is named after its model.
    "ENUM_NAME_OVERRIDES": {
        "ReservationStatusEnum": "apps.bookings.models.Reservation.Status",
        "SessionStatusEnum": "apps.sessions.models.Session.Status",
        "SaleStatusEnum": "apps.payments.models.Sale.Status",
        "PaymentStatusEnum": "apps.payments.lifecycle.PaymentStatus.CHOICES",
    },
}

# --- Celery (RabbitMQ broker) ------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="amqp://guest:guest@127.0.0.1:5672//")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60
CELERY_TASK_SOFT_TIME_LIMIT = 45
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish from a web request must not hang on a dead broker: give up fast, the sweepers and the
# outbox relay catch up later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BEAT_SCHEDULE = {
    "sweep-expired-reservations": {
        "task": "apps.bookings.tasks.sweep_expired_reservations",
        "schedule": env.float("SWEEP_INTERVAL_SECONDS", default=1.0),
    },
    # A safety net: each worker's relay loop publishes as rows commit (OUTBOX_RELAY_IDLE_SECONDS).
    "relay-outbox": {
        "task": "apps.events.tasks.relay_outbox_task",
        "schedule": env.float("OUTBOX_RELAY_INTERVAL_SECONDS", default=10.0),
    },
    "reconcile-payments": {
        "task": "apps.payments.tasks.reconcile_payments",
        "schedule": env.float("PAYMENT_RECONCILE_INTERVAL_SECONDS", default=30.0),
    },
    "prune-outbox": {"task": "apps.events.tasks.prune_outbox_task", "schedule": 3600.0},
    "prune-idempotency-keys": {
        "task": "apps.api.tasks.prune_idempotency_keys_task",
        "schedule": 3600.0,
    },
}
CELERY_TIMEZONE = TIME_ZONE

# --- Logging (structlog; request ids carried into tasks and events) ----------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
configure_structlog()
# Requests bind their id themselves (apps.ops.middleware); django-structlog carries it into the
# Celery tasks they queue.
DJANGO_STRUCTLOG_CELERY_ENABLED = True

# --- Product settings --------------------------------------------------------------------------
RESERVATION_TTL_SECONDS = env.int("RESERVATION_TTL_SECONDS", default=30)
# A person trying the flow by hand (Swagger UI) cannot pay within 30 s: `POST /reservations
# ?hold_seconds=N` holds for N seconds, 1 to this many. 0 refuses the parameter; production does.
TRY_FLOW_HOLD_SECONDS_MAX = env.int("TRY_FLOW_HOLD_SECONDS_MAX", default=600)
# `manage.py seed_demo` makes users with published passwords: allowed locally, refused by the
# hardened settings unless asked for (the compose demo asks).
DEMO_DATA_ALLOWED = env.bool("DEMO_DATA_ALLOWED", default=True)
# Holds whose deadlines fall this close share one expiry task (apps.bookings.expiry_groups).
EXPIRY_GROUP_SECONDS = env.float("EXPIRY_GROUP_SECONDS", default=0.2)
MAX_SEATS_PER_RESERVATION = env.int("MAX_SEATS_PER_RESERVATION", default=10)
MIN_SEATS_PER_SESSION = 16
# Half-price tickets (meia-entrada): at most this share of a session's seats, held or sold at once.
HALF_PRICE_SHARE = env.float("HALF_PRICE_SHARE", default=0.4)
# The door lets tickets in from this long before the session starts until it ends.
CHECKIN_OPENS_MINUTES = env.int("CHECKIN_OPENS_MINUTES", default=60)
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# How long a retry waits for the first request with its Idempotency-Key before a 409.
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=5.0)
# A payment's Idempotency-Key is claimed before the provider is called; a claim left by a request
# that died is taken over by a retry after this long (longer than any provider call may take).
IDEMPOTENCY_CLAIM_SECONDS = env.float("IDEMPOTENCY_CLAIM_SECONDS", default=60.0)
# How long a request waits for a row lock before giving up with a retryable 409.
LOCK_TIMEOUT_SECONDS = env.float("LOCK_TIMEOUT_SECONDS", default=3.0)
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=2.0)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Cinema <tickets@cinema.example>")
# With EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend: the mail server.
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Django waits forever by default: a mail server that hangs would stall every event consumer of
# the worker. The ticket e-mail gives up after this long, and its event is retried with backoff.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)

# --- Payments (apps.payments.providers) --------------------------------------------------------
# "fake" (the local sandbox provider, the default) or "stripe".
PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="fake")
PAYMENT_CURRENCY = "BRL"
# Starting a payment that settles later (PIX, 3-D Secure) extends the hold once, to at least this.
PAYMENT_PENDING_SECONDS = env.int("PAYMENT_PENDING_SECONDS", default=300)
# Reconciliation asks the provider about payments left processing or pending this long.
PAYMENT_RECONCILE_AFTER_SECONDS = env.int("PAYMENT_RECONCILE_AFTER_SECONDS", default=60)
# A refund the provider refuses or cannot take is retried this often (backoff), then flagged.
PAYMENT_REFUND_MAX_RETRIES = env.int("PAYMENT_REFUND_MAX_RETRIES", default=8)
# The buyer may refund a sale until this long before the session starts; staff until it starts.
REFUND_DEADLINE_MINUTES = env.int("REFUND_DEADLINE_MINUTES", default=120)
# The fake provider signs its webhooks with this secret and delivers them to this URL.
PAYMENT_WEBHOOK_SECRET = env.str("PAYMENT_WEBHOOK_SECRET", default="whsec-local-fake-provider")
PAYMENT_WEBHOOK_URL = env.str(
    "PAYMENT_WEBHOOK_URL", default="http://127.0.0.1:8000/api/v1/payments/webhooks/fake"
)
# Signed webhooks older (or newer) than this are refused: a captured one cannot be replayed later.
PAYMENT_WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe (PAYMENT_PROVIDER=stripe): test-mode keys from the dashboard. STRIPE_API_BASE exists for
# tests, which point the official SDK at a local stub.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
# Stripe's search lags its writes (about a minute, more while it recovers from an outage): an
# attempt missing from it is taken as never charged only once it is older than this.
STRIPE_SEARCH_LAG_SECONDS = env.float("STRIPE_SEARCH_LAG_SECONDS", default=900.0)
# Where Stripe sends the buyer back after 3-D Secure.
STRIPE_RETURN_URL = env.str("STRIPE_RETURN_URL", default=f"{FRONTEND_URL}/payments/return")

# --- Domain events (transactional outbox -> RabbitMQ -> consumers) ----------------------------
EVENTS_BROKER_URL = env.str("EVENTS_BROKER_URL", default=CELERY_BROKER_URL)
EVENTS_EXCHANGE = "cinema.events"
EVENTS_BROKER_TIMEOUT_SECONDS = env.float("EVENTS_BROKER_TIMEOUT_SECONDS", default=3.0)
# How long the relay waits for RabbitMQ to confirm a batch before it gives up (the rows stay).
EVENTS_CONFIRM_TIMEOUT_SECONDS = env.float("EVENTS_CONFIRM_TIMEOUT_SECONDS", default=10.0)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=200)
# The workers' relay loops publish on each commit's notification, and look at least this often.
OUTBOX_RELAY_IDLE_SECONDS = env.float("OUTBOX_RELAY_IDLE_SECONDS", default=1.0)
# After a notification the loop waits this long for more commits before its pass.
OUTBOX_RELAY_GATHER_SECONDS = env.float("OUTBOX_RELAY_GATHER_SECONDS", default=0.05)
OUTBOX_RETENTION = timedelta(days=env.int("OUTBOX_RETENTION_DAYS", default=7))
# Consumers started by the Celery worker, each on its own queue bound to cinema.events.
EVENT_CONSUMERS = env.list(
    "EVENT_CONSUMERS",
    default=[
        "apps.bookings.consumers.ExpirySchedulerConsumer",
        "apps.payments.consumers.TicketEmailConsumer",
        "apps.payments.consumers.RefundEmailConsumer",
        "apps.stats.consumers.SessionStatsConsumer",
    ],
)
EVENT_QUEUE_PREFIX = env.str("EVENT_QUEUE_PREFIX", default="")
# Declare the consumers' queues (main, retry, dead-letter) as quorum queues: replicated across a
# cluster's nodes and kept on disk, so a node that fails or restarts takes no event with it.
# Off for a single node. A queue cannot change type once declared: see docs/operations.md.
EVENTS_QUORUM_QUEUES = env.bool("EVENTS_QUORUM_QUEUES", default=False)
# Failed deliveries are retried after d/2..d seconds, d = base * 2^(attempt-1) capped at the max
# (equal jitter: delays grow and spread), then dead-lettered to <queue>.dlq. The relay publishes
# with EVENTS_BROKER_URL and the worker consumes with CELERY_BROKER_URL: same broker and vhost.
EVENT_MAX_RETRIES = env.int("EVENT_MAX_RETRIES", default=5)
EVENT_RETRY_BASE_SECONDS = env.float("EVENT_RETRY_BASE_SECONDS", default=1.0)
EVENT_RETRY_MAX_SECONDS = env.float("EVENT_RETRY_MAX_SECONDS", default=300.0)
