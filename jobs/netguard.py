"""SSRF protection for outbound webhooks: which addresses may be called, checked at connect time.

The host of every connection is resolved *once*, here; every resolved address is checked, and
the socket is opened to that exact address (TLS still verifies the host name). There is no
second DNS lookup between check and connect, so DNS rebinding cannot slip a private address in.
Loopback, private, link-local, shared, reserved and multicast addresses are refused unless
``WEBHOOKS_ALLOW_PRIVATE`` is on; cloud metadata addresses are refused even then.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from jobs.exceptions import UnsafeWebhookUrl

__all__ = ["BlockedDestination", "GuardedBackend", "address_allowed", "guarded_transport", "url_is_acceptable"]

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Instance metadata services (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba): never called.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)


class BlockedDestination(Exception):
    """A connection the policy refused before any packet was sent to it."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which webhooks may not call")
        self.host = host
        self.address = address


def _normalised(address: str) -> IPAddress:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Whether a webhook may connect to ``address`` (an IP literal)."""
    ip = _normalised(address)
    if ip in METADATA_ADDRESSES:
        return False
    if allow_private:
        return not ip.is_multicast and not ip.is_unspecified
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def url_is_acceptable(url: str, *, allow_private: bool | None = None) -> None:
    """Refuse, without any network access, a URL that can never be delivered to.

    Host names are checked again, resolved, when connecting; this catches what needs no lookup.

    :raises UnsafeWebhookUrl: not http(s), no host, credentials in the URL, or a refused IP literal.
    """
    allow = settings.WEBHOOKS_ALLOW_PRIVATE if allow_private is None else allow_private
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise UnsafeWebhookUrl(param="url")
    literal = _ip_literal(parts.hostname)
    if literal is not None and not address_allowed(literal, allow_private=allow):
        raise UnsafeWebhookUrl(param="url")
    if literal is None and not allow and parts.hostname.rstrip(".").lower().endswith(("localhost", ".internal")):
        raise UnsafeWebhookUrl(param="url")


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

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
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
