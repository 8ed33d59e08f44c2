"""allauth's OpenID Connect provider, with the provider's discovery document cached in the shared cache.

The cache only saves a round trip: while it is unreachable (Redis down), each sign-in asks the
provider for the document again.
"""

from __future__ import annotations

import hashlib
from typing import Any

import redis
import requests
import structlog
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.core.cache import cache

#: The fields of a discovery document the sign-in flow needs.
REQUIRED_FIELDS = ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
_CACHE_PREFIX = "oidc:discovery:"
log = structlog.get_logger(__name__)


class ProviderUnavailable(requests.RequestException):
    """The provider's discovery document could not be fetched or is not usable.

    A ``requests.RequestException``, so allauth's callback view turns it into an authentication error.
    """


def _cache_key(url: str) -> str:
    return _CACHE_PREFIX + hashlib.sha256(url.encode()).hexdigest()


def discovery_document(url: str) -> dict[str, Any]:
    """The provider's ``/.well-known/openid-configuration``, fetched once per ``OIDC_DISCOVERY_CACHE_SECONDS``.

    Only a usable document is cached: after a failure the next sign-in asks the provider again.

    :raises ProviderUnavailable: the provider did not answer, answered an error, or sent no usable document.
    """
    key = _cache_key(url)
    try:
        document = cache.get(key)
    except redis.RedisError as exc:
        log.warning("oidc.discovery_cache_unavailable", error_type=type(exc).__name__)
        document = None
    if document is not None:
        return document
    try:
        with get_adapter().get_requests_session() as session:
            response = session.get(url)
            response.raise_for_status()
            document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"discovery document {url}: {type(exc).__name__}: {exc}") from exc
    missing = [f for f in REQUIRED_FIELDS if not isinstance(document, dict) or not isinstance(document.get(f), str)]
    if missing:
        raise ProviderUnavailable(f"discovery document {url} lacks {', '.join(missing)}")
    try:
        cache.set(key, document, settings.OIDC_DISCOVERY_CACHE_SECONDS)
    except redis.RedisError as exc:
        log.warning("oidc.discovery_cache_unavailable", error_type=type(exc).__name__)
    return document


class GatewayOpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    """allauth's adapter, reading the discovery document through :func:`discovery_document`."""

    @property
    def openid_config(self) -> dict[str, Any]:
        if not hasattr(self, "_openid_config"):
            provider = self.get_provider()
            config = dict(discovery_document(provider.server_url))
            config.update(provider.app.settings.get("openid_configuration_overrides", {}))
            self._openid_config = config
        return self._openid_config


class GatewayOpenIDConnectProvider(OpenIDConnectProvider):
    """allauth's provider with our adapter; its URLs come from :mod:`accounts.oidc.urls`."""

    oauth2_adapter_class = GatewayOpenIDConnectAdapter
