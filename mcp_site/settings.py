"""Django settings, derived from the environment through :mod:`mcp_site.config`.

With no variables set the project runs embedded (SQLite, local-memory cache, in-memory channel
layer, the bundled simulator as upstream). ``DATABASE_URL`` and ``REDIS_URL`` move shared state
to PostgreSQL and Redis so several replicas behave as one gateway.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import dj_database_url
from channels_redis.core import RedisChannelLayer

from core.redis_clients import channel_layer_host, connection_options
from mcp_site.config import (
    BASE_DIR,
    S3_STORAGE_BACKEND,
    Config,
    email_settings,
    load_config,
    oidc_form_action_origins,
    oidc_providers,
)
from mcp_site.logging import build_logging_config, configure_structlog

CONFIG = load_config(os.environ)

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(CONFIG.csrf_trusted_origins)
#: Origins whose pages may read the API's answers (gateway/cors.py): ``("*",)``, a list, or ``()``.
API_CORS_ORIGINS = CONFIG.api_cors_origins
TRUSTED_PROXIES = CONFIG.trusted_proxies

# daphne makes `manage.py runserver` serve ASGI (WebSockets); it is a development dependency only.
try:
    import daphne  # noqa: F401
except ImportError:
    _RUNSERVER_APPS: list[str] = []
else:
    _RUNSERVER_APPS = ["daphne"]

INSTALLED_APPS = [
    "mcp_site.apps.SiteConfig",
    *_RUNSERVER_APPS,
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # Before django_tasks_db: its db_worker command is the jobs app's, which adds the watchdog.
    "jobs",
    "django_tasks",
    "django_tasks_db",
    "django_ratelimit",
    "rest_framework_simplejwt.token_blacklist",
    # Before allauth: its page layout is overridden by the dashboard's.
    "dashboard",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "accounts",
    "plugins",
    "gateway",
    "billing",
]

MIDDLEWARE = [
    "mcp_site.middleware.request_context_middleware",
    "mcp_site.error_views.ErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "mcp_site.urls"
WSGI_APPLICATION = "mcp_site.wsgi.application"
ASGI_APPLICATION = "mcp_site.asgi.application"
AUTH_USER_MODEL = "accounts.User"

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
                "dashboard.navigation.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if CONFIG.sqlite:
    (BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI a persistent connection per thread leaks; a pool is the supported way to reuse them.
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 1, "max_size": 10, "timeout": 5}}
    # Each connection is checked as it leaves the pool (psycopg_pool's check_connection), so
    # connections pooled before a PostgreSQL restart are replaced instead of failing one request
    # each (one round trip per checkout; the hot path reads through caches).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # Writers wait for the lock instead of failing at once when the worker and the web process overlap.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # A file, not memory, so that gateway and worker processes started by tests share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis clients (core/redis_clients.py), cache and channel layer ---------------------------
#: A Redis call slower than this fails (and is retried); also the connect timeout.
REDIS_TIMEOUT_SECONDS = CONFIG.redis_timeout_ms / 1000
#: A pooled connection idle for longer is pinged before use (0: never).
REDIS_HEALTH_CHECK_SECONDS = CONFIG.redis_health_check_seconds
#: Further tries, with exponential backoff and a fresh connection, of a call that failed on a broken connection.
REDIS_RETRIES = CONFIG.redis_retries
if CONFIG.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CONFIG.redis_url,
            "KEY_PREFIX": "mcp",
            "OPTIONS": {
                "PARSER_CLASS": "redis.connection._HiredisParser",
                "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT_SECONDS,
                "SOCKET_TIMEOUT": REDIS_TIMEOUT_SECONDS,
                "CONNECTION_POOL_KWARGS": {
                    key: value
                    for key, value in connection_options(
                        timeout=REDIS_TIMEOUT_SECONDS,
                        health_check_interval=REDIS_HEALTH_CHECK_SECONDS,
                        retries=REDIS_RETRIES,
                        sync=True,
                    ).items()
                    if not key.startswith("socket_")
                },
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    channel_layer_host(
                        CONFIG.redis_url,
                        timeout=REDIS_TIMEOUT_SECONDS,
                        health_check_interval=REDIS_HEALTH_CHECK_SECONDS,
                        retries=REDIS_RETRIES,
                        blocking_seconds=RedisChannelLayer.brpop_timeout,
                    )
                ],
                "prefix": "mcp:channels",
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "mcp"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Background tasks ---------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Authentication -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "mcp_site.api_schema.AutoSchema",
    # JWT first: its WWW-Authenticate header is what turns "not authenticated" into a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["mcp_site.api_parsers.JSONParser"],
    "EXCEPTION_HANDLER": "mcp_site.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MCP Gateway API",
    "DESCRIPTION": "OpenAI-compatible gateway endpoints and the management API.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SECURITY": [{"jwtAuth": []}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gateway.openapi.add_gateway_paths",
        "jobs.openapi.add_job_paths",
        "mcp_site.api_schema.document_error_statuses",
    ],
}

# --- Accounts -----------------------------------------------------------------------------
# People sign in with e-mail + password (JWT for the API, a session for admin and dashboard) or,
# when OIDC_PROVIDER_URL is set, through an OpenID Connect provider (django-allauth). Machines
# use API keys (accounts/keyauth.py). Every variable below is parsed in mcp_site/config.py.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
REGISTRATION_MODE = CONFIG.registration_mode
INVITATION_MAX_AGE_SECONDS = CONFIG.invitation_days * 86_400
PASSWORD_RESET_TIMEOUT = 3_600
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=CONFIG.access_token_minutes),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=CONFIG.refresh_token_days),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}
# Brute-force protection (django-ratelimit, in the shared cache): "<count>/<period>" per IP and,
# for failures only, per account. A refusal is a 429 with a message saying when to retry.
ACCOUNTS_RATE_LIMITS = {
    "login": {"ip": "30/m", "account": "5/15m"},
    "register": {"ip": "10/h", "account": "3/h"},
    "password_reset": {"ip": "10/h", "account": "3/h"},
    "refresh": {"ip": "60/m", "account": "60/m"},
}
RATELIMIT_USE_CACHE = "default"
if not CONFIG.redis_url:
    # Embedded mode is one process: its local-memory cache is the right (and only) shared state.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

EMAIL_SETTINGS = email_settings(CONFIG.email_url)
globals().update(EMAIL_SETTINGS)
DEFAULT_FROM_EMAIL = CONFIG.default_from_email

# django-allauth: dashboard sign-in; OpenID Connect only when OIDC_PROVIDER_URL is set.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_PROVIDERS = oidc_providers(CONFIG)
# Sign-in may only lead to our own pages: "next" is kept only when it is same-origin (accounts.adapters).
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
# How long the provider's discovery document is reused before it is fetched again (a failed fetch is not kept).
OIDC_DISCOVERY_CACHE_SECONDS = CONFIG.oidc_discovery_cache_seconds


# --- Internationalisation, static files and storage -----------------------------------------
def _storage_options(config: Config) -> dict[str, Any]:
    if config.storage_backend != S3_STORAGE_BACKEND:
        return {}
    options = {
        "bucket_name": config.s3_bucket,
        "querystring_auth": True,
        "querystring_expire": config.jobs_result_url_seconds,
        "default_acl": None,
        "file_overwrite": False,
        "signature_version": "s3v4",
    }
    if config.s3_endpoint_url:
        options["endpoint_url"] = config.s3_endpoint_url
    if config.s3_region:
        options["region_name"] = config.s3_region
    return options


LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = CONFIG.media_root
STORAGES = {
    # Job inputs and results. S3-compatible with STORAGE_BACKEND=storages.backends.s3.S3Storage (bucket
    # private; any URL the storage hands out is presigned and expires; credentials from AWS_* env).
    "default": {"BACKEND": CONFIG.storage_backend, "OPTIONS": _storage_options(CONFIG)},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if CONFIG.production
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Upstreams ----------------------------------------------------------------------------
MCP_UPSTREAM = CONFIG.upstream
POLLINATIONS_GEN_URL = CONFIG.pollinations_gen_url
POLLINATIONS_IMAGE_URL = CONFIG.pollinations_image_url
POLLINATIONS_TEXT_URL = CONFIG.pollinations_text_url
POLLINATIONS_API_KEY = CONFIG.pollinations_api_key
FIELD_ENCRYPTION_KEY = CONFIG.field_encryption_key
#: Installed plugins (entry-point names) to skip, e.g. a misbehaving one, without uninstalling it.
MCP_BLOCKED_PLUGINS = list(CONFIG.blocked_plugins)
#: Client request headers passed on to upstreams (tracing by default; tests add the simulator's X-Sim-Fault).
MCP_FORWARD_HEADERS = list(CONFIG.forward_headers)
#: Total seconds an upstream call may take per operation (a provider's ``deadline_seconds`` option overrides).
MCP_UPSTREAM_DEADLINES = dict(CONFIG.upstream_deadlines)

# --- Jobs and webhooks (docs/jobs.md) ------------------------------------------------------
JOBS_MAX_ATTEMPTS = CONFIG.jobs_max_attempts
#: A running job whose worker has not reported for this long is handed to another worker.
JOBS_LEASE_SECONDS = CONFIG.jobs_lease_seconds
JOBS_MAX_RUNNING_PER_ORG = CONFIG.jobs_max_running_per_org
JOBS_RATE_LIMIT_MAX_WAIT_SECONDS = CONFIG.jobs_rate_limit_max_wait_seconds
JOBS_RESULT_URL_SECONDS = CONFIG.jobs_result_url_seconds
#: Finished jobs are deleted, with their stored input and result, this many days after they finished.
JOBS_RETENTION_DAYS = CONFIG.jobs_retention_days
#: Standard Webhooks secret that providers sign inbound job callbacks with (empty: callbacks refused).
JOBS_CALLBACK_SECRET = CONFIG.jobs_callback_secret
#: Delivery to loopback, private, link-local and metadata addresses: off unless explicitly allowed.
WEBHOOKS_ALLOW_PRIVATE = CONFIG.webhooks_allow_private
WEBHOOKS_TIMEOUT_SECONDS = CONFIG.webhooks_timeout_seconds
WEBHOOKS_MAX_RESPONSE_BYTES = CONFIG.webhooks_max_response_bytes
#: Seconds to wait before each retry of a failed delivery (Standard Webhooks' usual schedule: ~27 h in all).
WEBHOOKS_RETRY_DELAYS = [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
# --- Billing and limits (docs/billing.md) --------------------------------------------------
BILLING_POLICY_TTL_SECONDS = CONFIG.billing_policy_ttl_seconds
BILLING_LEDGER_FLUSH_SECONDS = CONFIG.billing_ledger_flush_ms / 1000
BILLING_DEFAULT_MAX_TOKENS = CONFIG.billing_default_max_tokens
BILLING_CONCURRENCY_LEASE_SECONDS = CONFIG.billing_concurrency_lease_seconds
BILLING_HOLD_STALE_SECONDS = CONFIG.billing_hold_stale_seconds
#: Who moves usage events from the Redis outbox into PostgreSQL: every gateway process ("web"), or
#: only `manage.py billing_flush_ledger` ("worker"), which keeps the ORM work and its GIL time off
#: the processes that serve requests (measured: p99 +110 ms at concurrency 1 when flushing in-process).
BILLING_LEDGER_FLUSHER = CONFIG.billing_ledger_flusher
BILLING_DEFAULT_PLAN = CONFIG.billing_default_plan
#: After a Redis call failed despite its retries (its pool dropped), the hot path uses this process's
#: own counters and tries Redis again this much later: shared limits are back within it.
BILLING_REDIS_RETRY_SECONDS = 1.0

# --- Security -----------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "mcp_site.error_views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
_FORM_ACTION = " ".join(("'self'", *oidc_form_action_origins(CONFIG)))
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; "
    # Sign-in through OpenID Connect POSTs to us and is redirected to the provider: its origin, and no other.
    f"form-action {_FORM_ACTION}"
)
if CONFIG.production:
    # TLS terminates at the ingress; it tells us the original scheme in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes and Prometheus reach the pod over plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Logging ------------------------------------------------------------------------------
#: The access log keeps raw paths of routes with URL parameters (Pollinations prompts) only when opted in.
LOG_PROMPTS = CONFIG.log_prompts
# /metrics carries per-organisation figures: with a token, only a scraper holding it reads them.
METRICS_TOKEN = CONFIG.metrics_token
_TRACING = bool(CONFIG.otel_traces_exporters)
LOGGING = build_logging_config(log_format=CONFIG.log_format, level=CONFIG.log_level, tracing=_TRACING)
configure_structlog(log_format=CONFIG.log_format, level=CONFIG.log_level, tracing=_TRACING)
