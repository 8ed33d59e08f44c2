"""Settings are parsed from the environment; bad values stop start-up naming the variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from mcp_site.config import SIMULATOR_API_KEY, load_config, simulator_url

STRONG_KEY = "k3y-" + "x1Y2z3W4v5" * 6
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "gw.example.com",
    "FIELD_ENCRYPTION_KEY": "f13ld-" + "k3yK3YkeY" * 4,
    "REGISTRATION_MODE": "invite",
}


def test_no_environment_gives_the_embedded_defaults():
    config = load_config({})
    assert config.environment == "development"
    assert config.debug is True
    assert config.database_url.startswith("sqlite:///")
    assert config.redis_url is None
    assert config.upstream == "simulator"
    assert config.pollinations_gen_url == simulator_url() == "http://127.0.0.1:8001"
    assert config.pollinations_image_url == f"{simulator_url()}/legacy/image"
    assert config.pollinations_api_key == SIMULATOR_API_KEY
    assert config.log_format == "console"


def test_simulator_port_moves_every_default_upstream_url():
    config = load_config({"SIMULATOR_PORT": "9123"})
    assert config.simulator_port == 9123
    assert config.pollinations_gen_url == "http://127.0.0.1:9123"
    assert config.pollinations_image_url == "http://127.0.0.1:9123/legacy/image"
    assert config.pollinations_text_url == "http://127.0.0.1:9123/legacy/text"


def test_simulator_port_does_not_override_an_explicit_upstream_url():
    config = load_config({"SIMULATOR_PORT": "9123", "POLLINATIONS_GEN_URL": "http://sim.internal:7000"})
    assert config.pollinations_gen_url == "http://sim.internal:7000"
    assert config.pollinations_text_url == "http://127.0.0.1:9123/legacy/text"


@pytest.mark.parametrize("value", ["0", "65536", "eight"])
def test_an_invalid_simulator_port_stops_start_up_naming_it(value):
    with pytest.raises(ImproperlyConfigured, match="SIMULATOR_PORT"):
        load_config({"SIMULATOR_PORT": value})


def test_live_upstream_points_at_pollinations_and_needs_its_own_key():
    config = load_config({"MCP_UPSTREAM": "live"})
    assert config.pollinations_gen_url == "https://gen.pollinations.ai"
    assert config.pollinations_text_url == "https://text.pollinations.ai"
    assert config.pollinations_api_key == ""


def test_explicit_urls_are_kept_without_trailing_slash():
    config = load_config({"POLLINATIONS_GEN_URL": "http://10.1.2.3:9000/", "REDIS_URL": "redis://r:6379/1"})
    assert config.pollinations_gen_url == "http://10.1.2.3:9000"
    assert config.redis_url == "redis://r:6379/1"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL is not a valid URL"),
        ("DATABASE_URL", "not a url", "DATABASE_URL is not a valid URL"),
        ("REDIS_URL", "http://redis:6379", "REDIS_URL is not a valid URL"),
        ("POLLINATIONS_GEN_URL", "ftp://x", "POLLINATIONS_GEN_URL is not a valid URL"),
        ("MCP_UPSTREAM", "mock", "MCP_UPSTREAM='mock' is not valid: use one of simulator, live"),
        ("DJANGO_ENV", "staging", "DJANGO_ENV='staging' is not valid"),
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT='xml' is not valid"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='loud' is not valid"),
        ("CSRF_TRUSTED_ORIGINS", "gw.example.com", "CSRF_TRUSTED_ORIGINS entry 'gw.example.com' is not valid"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,ingress", "TRUSTED_PROXIES entry 'ingress' is not an address or network"),
    ],
)
def test_invalid_values_are_refused_naming_the_variable(variable, value, expected):
    with pytest.raises(ImproperlyConfigured, match=expected):
        load_config({variable: value})


def test_trusted_proxies_are_none_by_default_and_read_as_networks():
    assert load_config({}).trusted_proxies == ()
    assert load_config({"TRUSTED_PROXIES": "10.1.2.3/8, 192.0.2.7, 2001:db8::/32"}).trusted_proxies == (
        "10.0.0.0/8",
        "192.0.2.7/32",
        "2001:db8::/32",
    )


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        load_config({**PRODUCTION, "SECRET_KEY": ""})


@pytest.mark.parametrize("weak", ["short", "django-insecure-" + "a1" * 40, "a" * 80])
def test_production_refuses_a_weak_secret_key(weak):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is too weak"):
        load_config({**PRODUCTION, "SECRET_KEY": weak})


def test_production_refuses_debug():
    with pytest.raises(ImproperlyConfigured, match="DEBUG=true is refused"):
        load_config({**PRODUCTION, "DEBUG": "true"})


@pytest.mark.parametrize("hosts", ["", "*"])
def test_production_requires_explicit_allowed_hosts(hosts):
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        load_config({**PRODUCTION, "ALLOWED_HOSTS": hosts})


def test_production_defaults_to_json_logs_and_no_debug():
    config = load_config(PRODUCTION)
    assert config.production
    assert config.debug is False
    assert config.log_format == "json"


def test_production_requires_a_field_encryption_key():
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY is required"):
        load_config({**PRODUCTION, "FIELD_ENCRYPTION_KEY": ""})


def test_the_container_build_may_use_production_settings_without_secrets():
    config = load_config({"DJANGO_ENV": "production", "DJANGO_BUILD": "1", "SECRET_KEY": "build-only-not-secret"})
    assert config.environment == "production"
    assert config.debug is False


def test_media_root_and_blocked_plugins_come_from_the_environment():
    config = load_config({"MEDIA_ROOT": "/data/media", "MCP_BLOCKED_PLUGINS": "bad-plugin, other"})
    assert config.media_root == "/data/media"
    assert config.blocked_plugins == ("bad-plugin", "other")


def test_accounts_defaults_are_open_registration_short_tokens_console_mail_and_no_oidc():
    config = load_config({})
    assert config.registration_mode == "open"
    assert (config.access_token_minutes, config.refresh_token_days, config.invitation_days) == (5, 7, 7)
    assert config.email_url == "console://"
    assert config.oidc_provider_url is None


def test_accounts_variables_are_parsed():
    config = load_config(
        {
            "REGISTRATION_MODE": "Invite",
            "ACCESS_TOKEN_MINUTES": "15",
            "REFRESH_TOKEN_DAYS": "30",
            "INVITATION_DAYS": "3",
            "EMAIL_URL": "smtp://mailer:s3cret@smtp.example.com:2525",  # pragma: allowlist secret
            "OIDC_PROVIDER_URL": "https://id.example.com/realms/main/",
            "OIDC_CLIENT_ID": "gateway",
            "OIDC_CLIENT_SECRET": "oidc-secret",  # pragma: allowlist secret
        }
    )
    assert config.registration_mode == "invite"
    assert (config.access_token_minutes, config.refresh_token_days, config.invitation_days) == (15, 30, 3)
    assert config.oidc_provider_url == "https://id.example.com/realms/main"
    assert config.oidc_discovery_cache_seconds == 3600


def test_email_url_becomes_django_smtp_settings():
    from mcp_site.config import email_settings

    smtp = email_settings("smtp://mailer:p%40ss@smtp.example.com:2525")  # pragma: allowlist secret
    assert smtp["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (smtp["EMAIL_HOST"], smtp["EMAIL_PORT"], smtp["EMAIL_HOST_USER"]) == ("smtp.example.com", 2525, "mailer")
    assert smtp["EMAIL_HOST_PASSWORD"] == "p@ss"  # pragma: allowlist secret
    assert smtp["EMAIL_USE_TLS"]
    assert not smtp["EMAIL_USE_SSL"]
    smtps = email_settings("smtps://smtp.example.com")
    assert smtps["EMAIL_PORT"] == 465
    assert smtps["EMAIL_USE_SSL"]
    assert not smtps["EMAIL_USE_TLS"]
    assert email_settings("console://")["EMAIL_BACKEND"].endswith("console.EmailBackend")


def test_oidc_providers_are_configured_only_when_the_url_is_set():
    from mcp_site.config import oidc_providers

    assert oidc_providers(load_config({}))["openid_connect"]["APPS"] == []
    config = load_config(
        {"OIDC_PROVIDER_URL": "https://id.example.com", "OIDC_CLIENT_ID": "gw", "OIDC_CLIENT_SECRET": "x"}
    )
    app = oidc_providers(config)["openid_connect"]["APPS"][0]
    assert (app["provider_id"], app["client_id"], app["settings"]["server_url"]) == (
        "oidc",
        "gw",
        "https://id.example.com",
    )


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"REGISTRATION_MODE": "closed"}, "REGISTRATION_MODE='closed' is not valid: use one of open, invite"),
        ({"ACCESS_TOKEN_MINUTES": "0"}, "ACCESS_TOKEN_MINUTES='0' is not valid: use a whole number from 1 to 60"),
        ({"ACCESS_TOKEN_MINUTES": "ten"}, "ACCESS_TOKEN_MINUTES='ten' is not valid"),
        ({"REFRESH_TOKEN_DAYS": "365"}, "REFRESH_TOKEN_DAYS='365' is not valid"),
        ({"EMAIL_URL": "mailto:x@y"}, "EMAIL_URL is not valid"),
        ({"EMAIL_URL": "smtp://"}, "EMAIL_URL is not valid"),
        ({"OIDC_PROVIDER_URL": "id.example.com"}, "OIDC_PROVIDER_URL is not a valid URL"),
        ({"OIDC_PROVIDER_URL": "https://id.example.com"}, "OIDC_CLIENT_ID or OIDC_CLIENT_SECRET is missing"),
        ({"OIDC_DISCOVERY_CACHE_SECONDS": "0"}, "OIDC_DISCOVERY_CACHE_SECONDS='0' is not valid"),
    ],
)
def test_invalid_accounts_values_are_refused_naming_the_variable(environ, expected):
    with pytest.raises(ImproperlyConfigured, match=expected):
        load_config(environ)


def test_jobs_and_webhooks_settings_have_safe_defaults_and_come_from_the_environment():
    default = load_config({})
    assert default.webhooks_allow_private is False
    assert (default.jobs_max_attempts, default.jobs_lease_seconds, default.jobs_max_running_per_org) == (3, 30, 4)
    assert default.jobs_rate_limit_max_wait_seconds == 3600
    assert default.jobs_retention_days == 30
    assert load_config({"JOBS_RETENTION_DAYS": "7"}).jobs_retention_days == 7
    assert load_config({"JOBS_RATE_LIMIT_MAX_WAIT_SECONDS": "0"}).jobs_rate_limit_max_wait_seconds == 0
    config = load_config(
        {
            "WEBHOOKS_ALLOW_PRIVATE": "true",
            "JOBS_MAX_ATTEMPTS": "5",
            "WEBHOOKS_TIMEOUT_SECONDS": "3",
            "STORAGE_BACKEND": "storages.backends.s3.S3Storage",
            "S3_BUCKET": "results",
        }
    )
    assert config.webhooks_allow_private and config.jobs_max_attempts == 5 and config.webhooks_timeout_seconds == 3
    assert config.storage_backend == "storages.backends.s3.S3Storage"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JOBS_MAX_ATTEMPTS", "0"),
        ("JOBS_LEASE_SECONDS", "1"),
        ("JOBS_RETENTION_DAYS", "0"),
        ("JOBS_RETENTION_DAYS", "1"),  # webhook retries of a finished job last about 28 hours
        ("JOBS_RETENTION_DAYS", "a month"),
        ("JOBS_CALLBACK_SECRET", "plain"),
        ("WEBHOOKS_ALLOW_PRIVATE", "maybe"),
    ],
)
def test_invalid_jobs_settings_are_refused_naming_the_variable(variable, value):
    with pytest.raises(ImproperlyConfigured, match=variable):
        load_config({variable: value})


def test_billing_settings_have_defaults_and_come_from_the_environment():
    defaults = load_config({})
    assert (defaults.billing_policy_ttl_seconds, defaults.billing_ledger_flush_ms) == (5, 1000)
    assert (defaults.billing_default_max_tokens, defaults.billing_concurrency_lease_seconds) == (1024, 900)
    assert defaults.billing_hold_stale_seconds == 1200
    config = load_config(
        {
            "BILLING_POLICY_TTL_SECONDS": "0",
            "BILLING_LEDGER_FLUSH_MS": "250",
            "BILLING_DEFAULT_MAX_TOKENS": "4096",
            "BILLING_CONCURRENCY_LEASE_SECONDS": "60",
            "BILLING_HOLD_STALE_SECONDS": "600",
        }
    )
    assert (config.billing_policy_ttl_seconds, config.billing_ledger_flush_ms) == (0, 250)
    assert (config.billing_default_max_tokens, config.billing_concurrency_lease_seconds) == (4096, 60)
    assert config.billing_hold_stale_seconds == 600


@pytest.mark.parametrize(
    "name", ["BILLING_POLICY_TTL_SECONDS", "BILLING_LEDGER_FLUSH_MS", "BILLING_HOLD_STALE_SECONDS"]
)
def test_a_bad_billing_setting_stops_start_up_naming_it(name):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_config({name: "-3"})


def test_s3_storage_needs_a_bucket():
    with pytest.raises(ImproperlyConfigured, match="needs S3_BUCKET"):
        load_config({"STORAGE_BACKEND": "storages.backends.s3.S3Storage"})


def test_s3_compatible_storage_signs_expiring_result_urls_without_calling_the_store():
    from tests.conftest import run_django

    result = run_django(
        "from django.core.files.storage import default_storage\nprint(default_storage.url('results/job-1.jpg'))\n",
        env={
            "STORAGE_BACKEND": "storages.backends.s3.S3Storage",
            "S3_BUCKET": "mcp-results",
            "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "S3_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "test-access-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret-key",  # pragma: allowlist secret
            "JOBS_RESULT_URL_SECONDS": "600",
        },
    )
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:9000/mcp-results/results/job-1.jpg?")
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=600" in url
