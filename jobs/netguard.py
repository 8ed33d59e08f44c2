"""SSRF protection for outbound webhooks: which addresses may be called, checked at connect time.

The host of every connection is resolved *once*, here; every resolved address is checked, and
the socket is opened to that exact address (TLS still verifies the host name). There is no
second DNS lookup between check and connect, so DNS rebinding cannot slip a private address in.
Every address that is not globally reachable (loopback, private, link-local, shared, reserved,
documentation, benchmarking, multicast; :mod:`jobs.addresses` holds the tables) is refused unless
``WEBHOOKS_ALLOW_PRIVATE`` is on; cloud metadata addresses are refused even then. An IPv6 address
is judged by every IPv4 address it carries (NAT64, 6to4, Teredo, IPv4-mapped and -compatible).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from jobs.addresses import (
    METADATA_ADDRESSES,
    WRAPPERS,
    IPAddress,
    embedded_ipv4,
    is_global,
    numeric_host,
    parse_address,
)
from jobs.exceptions import InvalidWebhookUrl, UnsafeWebhookUrl

__all__ = ["BlockedDestination", "GuardedBackend", "address_allowed", "guarded_transport", "webhook_url_validate"]

Resolver = Callable[[str, int], list[str]]


class BlockedDestination(Exception):
    """A connection the policy refused before any packet was sent to it."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which webhooks may not call")
        self.host = host
        self.address = address


def _refused(ip: IPAddress, *, allow_private: bool) -> bool:
    if ip in METADATA_ADDRESSES or ip.is_multicast or ip.is_unspecified:
        return True
    return not allow_private and not is_global(ip)


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Whether a webhook may connect to ``address`` (an IP literal).

    An IPv6 address is refused when any IPv4 address it carries is (NAT64, 6to4, Teredo, mapped…);
    one that only carries an IPv4 address to the same host (mapped, NAT64) is judged by it alone.
    """
    ip = parse_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if any(_refused(v4, allow_private=allow_private) for v4 in inner):
            return False
        if inner and any(ip in wrapper for wrapper in WRAPPERS):
            return True
    return not _refused(ip, allow_private=allow_private)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _ip_literal(host: str) -> str | None:
    try:
        return str(parse_address(host))
    except ValueError:
        return None


_validate_form = URLValidator(schemes=("http", "https"))
#: C0 controls and DEL: Django's URL validator lets NUL and DEL through, and PostgreSQL cannot store NUL.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
MAX_URL_LENGTH = 2000


def webhook_url_validate(url: Any, *, param: str = "url", allow_private: bool | None = None) -> str:
    """The one check of every webhook URL (job webhooks, endpoints, the admin, each redirect), made
    without any network access; host names are resolved and checked again when connecting.

    :param param: the request field the URL came from, named in the error.
    :returns: the URL, unchanged.
    :raises InvalidWebhookUrl: not a well-formed URL, or a host written as numbers in a form other
        than ``a.b.c.d`` (``127.1``, ``2130706433``, ``0x7f000001``…) that means a callable address.
    :raises UnsafeWebhookUrl: not http(s), credentials in it, or a host that is, or means, an address
        webhooks may not call.
    """
    allow = settings.WEBHOOKS_ALLOW_PRIVATE if allow_private is None else allow_private
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(
            f"'{param}' must be an http(s) URL of at most {MAX_URL_LENGTH} characters.", param=param
        )
    if _CONTROL_CHARACTER.search(url):
        raise InvalidWebhookUrl(f"'{param}' may not contain control characters.", param=param)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise InvalidWebhookUrl(f"'{param}' is not a valid URL.", param=param) from None
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise UnsafeWebhookUrl(f"'{param}' must be an http:// or https:// URL.", param=param)
    if not parts.scheme or not parts.hostname:
        raise InvalidWebhookUrl(f"'{param}' is not a valid URL: use https://host/path.", param=param)
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl(
            f"'{param}' may not carry credentials: sign with the webhook secret instead.", param=param
        )
    host = parts.hostname
    literal = _ip_literal(host)
    if literal is None:
        try:
            numeric = numeric_host(host)
        except ValueError:
            raise InvalidWebhookUrl(
                f"'{param}' has a host that is neither a name nor an IP address.", param=param
            ) from None
        if numeric is not None:
            if not address_allowed(str(numeric), allow_private=allow):
                raise UnsafeWebhookUrl(param=param)
            raise InvalidWebhookUrl(
                f"'{param}': write the IPv4 address as four decimal numbers ({numeric}).", param=param
            )
    if literal is not None and not address_allowed(literal, allow_private=allow):
        raise UnsafeWebhookUrl(param=param)
    if literal is None and not allow and host.rstrip(".").lower().endswith(("localhost", ".internal")):
        raise UnsafeWebhookUrl(param=param)
    try:
        _validate_form(url)
    except ValidationError:
        raise InvalidWebhookUrl(f"'{param}' is not a valid URL.", param=param) from None
    return url


class GuardedBackend(httpcore.NetworkBackend):
    """A network backend that resolves, checks every address, then connects to the checked address.

    :param resolver: host, port → addresses (tests inject one; the default asks the system).
    :param inner: the backend that opens sockets (tests inject one that fails on any connect).
    """

    def __init__(
        self, *, allow_private: bool, resolver: Resolver = resolve, inner: httpcore.NetworkBackend | None = None
    ) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        host = host.strip("[]")
        try:
            addresses = self._resolver(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            if not address_allowed(address, allow_private=self._allow_private):
                raise BlockedDestination(host, address)
        return self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable | None = None
    ) -> NoReturn:
        raise BlockedDestination(path, "unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__(trust_env=False)  # an environment proxy would connect on our behalf, unchecked
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=backend, max_connections=10
        )


def guarded_transport(
    *, allow_private: bool | None = None, resolver: Resolver = resolve, inner: httpcore.NetworkBackend | None = None
) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through :class:`GuardedBackend`."""
    allow = settings.WEBHOOKS_ALLOW_PRIVATE if allow_private is None else allow_private
    return _GuardedTransport(GuardedBackend(allow_private=allow, resolver=resolver, inner=inner))
