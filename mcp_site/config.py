"""Typed configuration read once from the environment.

Every setting the project reads from the environment is parsed here, in one place, into a frozen
:class:`Config`. ``settings.py`` turns it into Django settings; tests call :func:`load_config` with a
plain dict. An invalid value raises :class:`ImproperlyConfigured` naming the variable and the form
that is expected, so start-up stops with a message an operator can act on.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from mcp_site.devsecrets import dev_secrets

BASE_DIR = Path(__file__).resolve().parent.parent

ENVIRONMENTS = ("development", "production", "test")
UPSTREAM_MODES = ("simulator", "live")
LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
REGISTRATION_MODES = ("open", "invite")
EMAIL_SCHEMES = ("console", "smtp", "smtps", "locmem")

#: Where the bundled simulator listens in development (``make run`` starts it there; ``SIMULATOR_PORT`` moves it).
SIMULATOR_HOST = "127.0.0.1"
DEFAULT_SIMULATOR_PORT = 8001
#: The simulator's built-in secret key (public, for offline development only).
SIMULATOR_API_KEY = "sk_simulatorsimulatorsimulator12345"  # pragma: allowlist secret
LIVE_GEN_URL = "https://gen.pollinations.ai"
LIVE_IMAGE_URL = "https://image.pollinations.ai"
LIVE_TEXT_URL = "https://text.pollinations.ai"

#: django-storages' S3 backend: any S3-compatible object store (AWS, MinIO, R2, GCS interop…).
S3_STORAGE_BACKEND = "storages.backends.s3.S3Storage"
#: Where development keeps the secrets it draws at random (``DEV_SECRETS_FILE`` overrides it).
DEV_SECRETS_FILE = BASE_DIR / "var" / "dev-secrets.json"
_INSECURE_KEY_PREFIX = "django-insecure-"
_MIN_SECRET_KEY_LENGTH = 50
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, kw_only=True)
class _AccountsConfig:
    """The accounts part of :class:`Config` (:func:`_accounts`)."""

    registration_mode: str
    access_token_minutes: int
    refresh_token_days: int
    invitation_days: int
    email_url: str
    default_from_email: str
    oidc_provider_url: str | None
    oidc_client_id: str
    oidc_client_secret: str
    oidc_provider_name: str
    oidc_discovery_cache_seconds: int


@dataclass(frozen=True, kw_only=True)
class _JobsConfig:
    """The jobs and webhooks part of :class:`Config` (:func:`_jobs`)."""

    jobs_max_attempts: int
    jobs_lease_seconds: int
    jobs_max_running_per_org: int
    jobs_rate_limit_max_wait_seconds: int
    jobs_result_url_seconds: int
    jobs_retention_days: int
    jobs_callback_secret: str
    storage_backend: str
    s3_bucket: str
    s3_endpoint_url: str | None
    s3_region: str
    webhooks_allow_private: bool
    webhooks_timeout_seconds: int
    webhooks_max_response_bytes: int


@dataclass(frozen=True, kw_only=True)
class _BillingConfig:
    """The billing part of :class:`Config` (:func:`_billing`)."""

    billing_policy_ttl_seconds: int
    billing_ledger_flush_ms: int
    billing_default_max_tokens: int
    billing_concurrency_lease_seconds: int
    billing_hold_stale_seconds: int
    billing_ledger_flusher: str
    billing_default_plan: str


@dataclass(frozen=True, kw_only=True)
class _RedisConfig:
    """The Redis clients' part of :class:`Config` (:func:`_redis`)."""

    redis_timeout_ms: int
    redis_health_check_seconds: int
    redis_retries: int


@dataclass(frozen=True, kw_only=True)
class Config(_AccountsConfig, _JobsConfig, _BillingConfig, _RedisConfig):
    """Everything the environment decides, validated (each section's fields in its own class)."""

    environment: str
    debug: bool
    secret_key: str
    allowed_hosts: tuple[str, ...]
    csrf_trusted_origins: tuple[str, ...]
    #: Origins whose pages may read the API's answers (``*``: any; empty: none). See gateway/cors.py.
    api_cors_origins: tuple[str, ...]
    #: Networks of the reverse proxies in front (``TRUSTED_PROXIES``): a peer in one of them has its
    #: client's address read from ``X-Forwarded-For``.
    trusted_proxies: tuple[str, ...]
    database_url: str
    redis_url: str | None
    upstream: str
    simulator_port: int
    pollinations_gen_url: str
    pollinations_image_url: str
    pollinations_text_url: str
    pollinations_api_key: str
    #: operation (``chat``, ``image``, ``speech``, ``transcription``, ``native``) → total seconds allowed
    upstream_deadlines: Mapping[str, float]
    field_encryption_key: str
    media_root: str
    blocked_plugins: tuple[str, ...]
    forward_headers: tuple[str, ...]
    log_format: str
    log_level: str
    log_prompts: bool
    metrics_port: int
    #: When set, ``/metrics`` on the HTTP port answers only ``Authorization: Bearer <this>``.
    metrics_token: str
    #: Span exporters (``otlp``, ``console``); empty: tracing off. From the standard OTEL_* variables.
    otel_traces_exporters: tuple[str, ...]
    #: Library instrumentations left off (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``; unset:
    #: :data:`DEFAULT_DISABLED_INSTRUMENTATIONS`, set but empty: none).
    otel_disabled_instrumentations: tuple[str, ...]

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")


class _Env:
    """Reads one variable at a time and names it in every error."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        return None if value is None else value.strip()

    def string(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None or value == "" else value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of true/false/1/0.")

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        normalised = value.upper() if choices == LOG_LEVELS else value.lower()
        if normalised not in choices:
            raise ImproperlyConfigured(f"{name}={value!r} is not valid: use one of {', '.join(choices)}.")
        return normalised

    def csv(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return default
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if not minimum <= number <= maximum:
            raise ImproperlyConfigured(
                f"{name}={value!r} is not valid: use a whole number from {minimum} to {maximum}."
            )
        return number

    def url(self, name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
        value = self.raw(name)
        if value is None or value == "":
            return default
        parts = urlsplit(value)
        if parts.scheme not in schemes or (not parts.netloc and parts.scheme != "sqlite"):
            raise ImproperlyConfigured(
                f"{name} is not a valid URL: expected {' or '.join(s + '://…' for s in schemes)}."
            )
        return value.rstrip("/") if parts.scheme in ("http", "https") else value


def load_config(environ: Mapping[str, str]) -> Config:
    """Parse and validate the environment.

    :param environ: usually ``os.environ``; tests pass a dict.
    :returns: the validated configuration.
    :raises ImproperlyConfigured: naming the variable at fault and the expected form.
    """
    env = _Env(environ)
    environment = env.choice("DJANGO_ENV", ENVIRONMENTS, "development")
    # The container build collects static files with production settings but without any secrets.
    building = env.boolean("DJANGO_BUILD", default=False)
    production = environment == "production" and not building
    debug = env.boolean("DEBUG", default=environment != "production")
    if environment == "production" and debug:
        raise ImproperlyConfigured("DEBUG=true is refused when DJANGO_ENV=production.")

    secret_key = env.string("SECRET_KEY", "")
    kept = _kept_dev_secrets(env, environment, secret_key)
    if production:
        _require_strong_secret_key(secret_key)
    elif not secret_key:
        # Development: drawn once and kept in DEV_SECRETS_FILE, so every local process agrees.
        secret_key = kept.get("SECRET_KEY") or _INSECURE_KEY_PREFIX + secrets.token_urlsafe(50)

    default_hosts = () if production else ("127.0.0.1", "localhost", "[::1]", "testserver")
    allowed_hosts = env.csv("ALLOWED_HOSTS", default_hosts)
    if production and not allowed_hosts:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the gateway's host names when DJANGO_ENV=production.")
    if production and "*" in allowed_hosts:
        raise ImproperlyConfigured("ALLOWED_HOSTS='*' is refused when DJANGO_ENV=production: list the host names.")

    upstream = env.choice("MCP_UPSTREAM", UPSTREAM_MODES, "simulator")
    live = upstream == "live"
    port = simulator_port(environ)
    simulator = simulator_url(port)
    http = ("http", "https")
    sqlite_default = f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
    return Config(
        environment=environment,
        debug=debug,
        secret_key=secret_key,
        allowed_hosts=allowed_hosts,
        csrf_trusted_origins=tuple(_origins(env)),
        api_cors_origins=_cors_origins(env),
        trusted_proxies=_proxies(env),
        database_url=env.url("DATABASE_URL", sqlite_default, ("postgres", "postgresql", "sqlite")) or "",
        redis_url=env.url("REDIS_URL", None, ("redis", "rediss", "unix")),
        upstream=upstream,
        simulator_port=port,
        pollinations_gen_url=env.url("POLLINATIONS_GEN_URL", LIVE_GEN_URL if live else simulator, http) or "",
        pollinations_image_url=env.url(
            "POLLINATIONS_IMAGE_URL", LIVE_IMAGE_URL if live else f"{simulator}/legacy/image", http
        )
        or "",
        pollinations_text_url=env.url(
            "POLLINATIONS_TEXT_URL", LIVE_TEXT_URL if live else f"{simulator}/legacy/text", http
        )
        or "",
        pollinations_api_key=env.string("POLLINATIONS_API_KEY", "" if live else SIMULATOR_API_KEY),
        upstream_deadlines=_deadlines(env),
        field_encryption_key=_field_encryption_key(env, production, kept.get("FIELD_ENCRYPTION_KEY", "")),
        media_root=env.string("MEDIA_ROOT", str(BASE_DIR / "var" / "media")),
        blocked_plugins=env.csv("MCP_BLOCKED_PLUGINS", ()),
        forward_headers=tuple(h.lower() for h in env.csv("MCP_FORWARD_HEADERS", ("traceparent", "tracestate"))),
        log_format=env.choice("LOG_FORMAT", LOG_FORMATS, "json" if production else "console"),
        log_level=env.choice("LOG_LEVEL", LOG_LEVELS, "INFO"),
        log_prompts=env.boolean("LOG_PROMPTS", default=False),
        # Processes without HTTP (job worker, ledger writer) serve /metrics on this port; 0: not at all.
        metrics_port=env.integer("METRICS_PORT", 0, minimum=0, maximum=65535),
        metrics_token=_metrics_token(env),
        otel_traces_exporters=_tracing(env),
        otel_disabled_instrumentations=tuple(
            name.lower() for name in env.csv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", DEFAULT_DISABLED_INSTRUMENTATIONS)
        ),
        **vars(_accounts(env)),
        **vars(_jobs(env)),
        **vars(_billing(env)),
        **vars(_redis(env)),
    )


def simulator_port(environ: Mapping[str, str]) -> int:
    """``SIMULATOR_PORT``: where ``make run`` starts the simulator and where the default upstream URLs point.

    The one reading of the variable: ``scripts/run.py`` calls it too, so the two never disagree.
    """
    return _Env(environ).integer("SIMULATOR_PORT", DEFAULT_SIMULATOR_PORT, minimum=1, maximum=65_535)


def simulator_url(port: int = DEFAULT_SIMULATOR_PORT) -> str:
    """The bundled simulator's base URL on loopback."""
    return f"http://{SIMULATOR_HOST}:{port}"


TRACE_EXPORTERS = ("otlp", "console")
#: Off unless asked for: the gateway's own spans already time the Redis round trips, and this
#: instrumentation costs every request, sampled or not (bench/tracing.py). The upstream call is the
#: gateway's own client (core/http_client.py), traced by its ``mcp.upstream.attempt`` span.
DEFAULT_DISABLED_INSTRUMENTATIONS = ("redis",)


def _tracing(env: _Env) -> tuple[str, ...]:
    """Which span exporters the standard OpenTelemetry variables ask for; none means tracing is off.

    Only these few variables are read here, to decide; the SDK reads the rest (service name,
    sampler, endpoint, headers, batching) itself.
    """
    if env.boolean("OTEL_SDK_DISABLED", default=False):
        return ()
    named = tuple(name.lower() for name in env.csv("OTEL_TRACES_EXPORTER", ()))
    if named == ("none",):
        return ()
    unknown = [name for name in named if name not in TRACE_EXPORTERS]
    if unknown:
        raise ImproperlyConfigured(
            f"OTEL_TRACES_EXPORTER={','.join(named)!r} is not supported: use otlp (OTLP over HTTP), console, or none."
        )
    protocol = env.string("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.string("OTEL_EXPORTER_OTLP_PROTOCOL", ""))
    if protocol not in ("", "http/protobuf"):
        raise ImproperlyConfigured(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: the gateway exports OTLP over "
            "http/protobuf (port 4318 of a collector)."
        )
    if named:
        return named
    endpoint = env.string("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") or env.string("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    return ("otlp",) if endpoint else ()


_CALLBACK_KEY_FORMAT_HELP = (
    "JOBS_CALLBACK_SECRET must be a Standard Webhooks key: 'whsec_' followed by base64 "
    "(python -c 'import base64, os; print(\"whsec_\" + base64.b64encode(os.urandom(24)).decode())')."
)


#: Default total time per operation, from the first upstream attempt to the answer's last byte.
DEFAULT_UPSTREAM_DEADLINES: Mapping[str, float] = {
    "chat": 300.0,
    "image": 180.0,
    "speech": 180.0,
    "transcription": 300.0,
    "native": 300.0,
}


def _deadlines(env: _Env) -> dict[str, float]:
    """``MCP_UPSTREAM_DEADLINES=chat=120,image=60``: overrides of :data:`DEFAULT_UPSTREAM_DEADLINES`."""
    deadlines = dict(DEFAULT_UPSTREAM_DEADLINES)
    for item in env.csv("MCP_UPSTREAM_DEADLINES", ()):
        operation, _, seconds = item.partition("=")
        try:
            value = float(seconds)
        except ValueError:
            value = 0.0
        if operation.strip() not in deadlines or not 1 <= value <= 3600:
            raise ImproperlyConfigured(
                f"MCP_UPSTREAM_DEADLINES item {item!r} is not valid: use operation=seconds (1-3600) with "
                f"operations {', '.join(deadlines)}, e.g. chat=120,image=60."
            )
        deadlines[operation.strip()] = value
    return deadlines


def _jobs(env: _Env) -> _JobsConfig:
    """Async jobs, result storage and outbound webhooks (see docs/jobs.md)."""
    secret = env.string("JOBS_CALLBACK_SECRET", "")
    if secret and not secret.startswith("whsec_"):
        raise ImproperlyConfigured(_CALLBACK_KEY_FORMAT_HELP)
    backend = env.string("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
    bucket = env.string("S3_BUCKET", "")
    if backend == S3_STORAGE_BACKEND and not bucket:
        raise ImproperlyConfigured(
            f"STORAGE_BACKEND={S3_STORAGE_BACKEND} needs S3_BUCKET (and S3_ENDPOINT_URL for a non-AWS "
            "S3-compatible service; credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)."
        )
    return _JobsConfig(
        jobs_max_attempts=env.integer("JOBS_MAX_ATTEMPTS", 3, minimum=1, maximum=20),
        jobs_lease_seconds=env.integer("JOBS_LEASE_SECONDS", 30, minimum=2, maximum=3600),
        jobs_max_running_per_org=env.integer("JOBS_MAX_RUNNING_PER_ORG", 4, minimum=1, maximum=1000),
        jobs_rate_limit_max_wait_seconds=env.integer(
            "JOBS_RATE_LIMIT_MAX_WAIT_SECONDS", 3600, minimum=0, maximum=7 * 86_400
        ),
        jobs_result_url_seconds=env.integer("JOBS_RESULT_URL_SECONDS", 3600, minimum=60, maximum=7 * 86_400),
        # At least two days: a job's webhook is retried for about 28 hours after it finished.
        jobs_retention_days=env.integer("JOBS_RETENTION_DAYS", 30, minimum=2, maximum=3650),
        jobs_callback_secret=secret,
        storage_backend=backend,
        s3_bucket=bucket,
        s3_endpoint_url=env.url("S3_ENDPOINT_URL", None, ("http", "https")),
        s3_region=env.string("S3_REGION", ""),
        webhooks_allow_private=env.boolean("WEBHOOKS_ALLOW_PRIVATE", default=False),
        webhooks_timeout_seconds=env.integer("WEBHOOKS_TIMEOUT_SECONDS", 10, minimum=1, maximum=60),
        webhooks_max_response_bytes=env.integer(
            "WEBHOOKS_MAX_RESPONSE_BYTES", 64 * 1024, minimum=0, maximum=10 * 1024 * 1024
        ),
    )


def _billing(env: _Env) -> _BillingConfig:
    """Billing and limits: cache lifetimes, ledger flush interval, reservation defaults."""
    return _BillingConfig(
        billing_policy_ttl_seconds=env.integer("BILLING_POLICY_TTL_SECONDS", 5, minimum=0, maximum=300),
        billing_ledger_flush_ms=env.integer("BILLING_LEDGER_FLUSH_MS", 1000, minimum=10, maximum=3_600_000),
        billing_default_max_tokens=env.integer("BILLING_DEFAULT_MAX_TOKENS", 1024, minimum=1, maximum=10_000_000),
        billing_concurrency_lease_seconds=env.integer(
            "BILLING_CONCURRENCY_LEASE_SECONDS", 900, minimum=10, maximum=86_400
        ),
        billing_hold_stale_seconds=env.integer("BILLING_HOLD_STALE_SECONDS", 1200, minimum=10, maximum=604_800),
        billing_ledger_flusher=env.choice("BILLING_LEDGER_FLUSHER", ("web", "worker"), "web"),
        billing_default_plan=env.string("BILLING_DEFAULT_PLAN", "").strip(),
    )


def _redis(env: _Env) -> _RedisConfig:
    """How the gateway's Redis clients wait, check and retry (core/redis_clients.py)."""
    return _RedisConfig(
        redis_timeout_ms=env.integer("REDIS_TIMEOUT_MS", 1000, minimum=50, maximum=60_000),
        redis_health_check_seconds=env.integer("REDIS_HEALTH_CHECK_SECONDS", 5, minimum=0, maximum=3600),
        redis_retries=env.integer("REDIS_RETRIES", 2, minimum=0, maximum=10),
    )


def _accounts(env: _Env) -> _AccountsConfig:
    """The accounts settings: registration, JWT lifetimes, e-mail delivery, OpenID Connect sign-in."""
    oidc_url = env.url("OIDC_PROVIDER_URL", None, ("http", "https"))
    oidc_client_id = env.string("OIDC_CLIENT_ID", "")
    oidc_client_secret = env.string("OIDC_CLIENT_SECRET", "")
    if oidc_url and not (oidc_client_id and oidc_client_secret):
        raise ImproperlyConfigured(
            "OIDC_PROVIDER_URL is set but OIDC_CLIENT_ID or OIDC_CLIENT_SECRET is missing: set both, "
            "or unset OIDC_PROVIDER_URL to turn OpenID Connect sign-in off."
        )
    return _AccountsConfig(
        registration_mode=env.choice("REGISTRATION_MODE", REGISTRATION_MODES, "open"),
        access_token_minutes=env.integer("ACCESS_TOKEN_MINUTES", 5, minimum=1, maximum=60),
        refresh_token_days=env.integer("REFRESH_TOKEN_DAYS", 7, minimum=1, maximum=90),
        invitation_days=env.integer("INVITATION_DAYS", 7, minimum=1, maximum=30),
        email_url=_email_url(env),
        default_from_email=env.string("DEFAULT_FROM_EMAIL", "MCP Gateway <noreply@localhost>"),
        oidc_provider_url=oidc_url,
        oidc_client_id=oidc_client_id,
        oidc_client_secret=oidc_client_secret,
        oidc_provider_name=env.string("OIDC_PROVIDER_NAME", "Single sign-on"),
        oidc_discovery_cache_seconds=env.integer("OIDC_DISCOVERY_CACHE_SECONDS", 3600, minimum=1, maximum=86_400),
    )


def _email_url(env: _Env) -> str:
    value = env.string("EMAIL_URL", "console://")
    parts = urlsplit(value)
    if parts.scheme not in EMAIL_SCHEMES or (parts.scheme.startswith("smtp") and not parts.hostname):
        raise ImproperlyConfigured(
            "EMAIL_URL is not valid: use console:// (print e-mails, the default) or "
            "smtp://user:password@host:587 (STARTTLS) "  # pragma: allowlist secret
            "or smtps://user:password@host:465 (TLS)."  # pragma: allowlist secret
        )
    return value


def _require_strong_secret_key(secret_key: str) -> None:
    if not secret_key:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DJANGO_ENV=production: set it to 50+ random characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
        )
    if (
        secret_key.startswith(_INSECURE_KEY_PREFIX)
        or len(secret_key) < _MIN_SECRET_KEY_LENGTH
        or len(set(secret_key)) < 5
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak for production: use at least {_MIN_SECRET_KEY_LENGTH} random characters."
        )


def _kept_dev_secrets(env: _Env, environment: str, secret_key: str) -> dict[str, str]:
    """Outside production, the secrets kept in ``DEV_SECRETS_FILE`` when any is left unset."""
    if environment == "production" or (secret_key and env.string("FIELD_ENCRYPTION_KEY", "")):
        return {}
    return dev_secrets(Path(env.string("DEV_SECRETS_FILE", str(DEV_SECRETS_FILE))))


def _metrics_token(env: _Env) -> str:
    token = env.string("METRICS_TOKEN", "")
    if token and len(token) < _MIN_METRICS_TOKEN_LENGTH:
        raise ImproperlyConfigured(
            f"METRICS_TOKEN is too short: use at least {_MIN_METRICS_TOKEN_LENGTH} random characters."
        )
    return token


_MIN_METRICS_TOKEN_LENGTH = 24


def _field_encryption_key(env: _Env, production: bool, development_key: str) -> str:
    """One key, or several separated by commas: the first encrypts, each decrypts (rotation)."""
    value = env.string("FIELD_ENCRYPTION_KEY", "")
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if production and (not keys or any(len(key) < 32 for key in keys)):
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY is required when DJANGO_ENV=production (32+ random characters, or several "
            "such keys separated by commas, the new one first): it encrypts upstream credentials and webhook "
            "secrets stored in the database. Keep it apart from SECRET_KEY."
        )
    return ",".join(keys) or development_key


def _origins(env: _Env) -> list[str]:
    origins = list(env.csv("CSRF_TRUSTED_ORIGINS", ()))
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ImproperlyConfigured(
                f"CSRF_TRUSTED_ORIGINS entry {origin!r} is not valid: use scheme://host, e.g. https://gw.example.com."
            )
    return origins


def _cors_origins(env: _Env) -> tuple[str, ...]:
    origins = env.csv("API_CORS_ORIGINS", ("*",))
    if "*" in origins and len(origins) > 1:
        raise ImproperlyConfigured("API_CORS_ORIGINS is either * alone or a list of origins, not both.")
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query):
            raise ImproperlyConfigured(
                f"API_CORS_ORIGINS entry {origin!r} is not an origin: use scheme://host[:port], e.g. https://app.example.com."
            )
    return origins


def _proxies(env: _Env) -> tuple[str, ...]:
    networks = []
    for entry in env.csv("TRUSTED_PROXIES", ()):
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES entry {entry!r} is not an address or network: use e.g. 10.0.0.0/8 or 192.0.2.7."
            ) from None
    return tuple(networks)


def email_settings(email_url: str) -> dict[str, Any]:
    """Django e-mail settings for ``EMAIL_URL`` (already validated by :func:`load_config`)."""
    parts = urlsplit(email_url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    query = parse_qs(parts.query)
    implicit_tls = parts.scheme == "smtps"
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "",
        "EMAIL_PORT": parts.port or (465 if implicit_tls else 587),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": implicit_tls,
        "EMAIL_USE_TLS": not implicit_tls and query.get("tls", ["true"])[0].lower() in _TRUE,
        "EMAIL_TIMEOUT": 10,
    }


#: The allauth provider id of the one configured OpenID Connect provider (URLs: /accounts/oidc/<id>/…).
OIDC_PROVIDER_ID = "oidc"


#: Our OpenID Connect provider class (allauth's, with a cached discovery document and clear failures).
OIDC_PROVIDER_CLASS = "accounts.oidc.provider.GatewayOpenIDConnectProvider"


def oidc_providers(config: Config) -> dict[str, Any]:
    """allauth's ``SOCIALACCOUNT_PROVIDERS``: one OpenID Connect app when configured, otherwise none.

    The provider class is always ours, so the sign-in URLs and their failure pages do not depend on
    whether a provider was configured when the process started.
    """
    apps = []
    if config.oidc_provider_url:
        apps.append(
            {
                "provider_id": OIDC_PROVIDER_ID,
                "name": config.oidc_provider_name,
                "client_id": config.oidc_client_id,
                "secret": config.oidc_client_secret,
                "settings": {"server_url": config.oidc_provider_url},
            }
        )
    return {"openid_connect": {"provider_class": OIDC_PROVIDER_CLASS, "OAUTH_PKCE_ENABLED": True, "APPS": apps}}


def oidc_form_action_origins(config: Config) -> tuple[str, ...]:
    """The origins a sign-in form may lead to besides our own: the OpenID Connect provider's, when set.

    The Content-Security-Policy's ``form-action`` governs the redirect that follows a form's POST, so the
    provider's origin must be listed for "Continue" to reach its sign-in page.
    """
    if not config.oidc_provider_url:
        return ()
    parts = urlsplit(config.oidc_provider_url)
    return (f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}",)
