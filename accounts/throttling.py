"""Brute-force protection for sign-in, token, registration and password-reset views.

Two django-ratelimit counters in the shared cache per scope (``settings.ACCOUNTS_RATE_LIMITS``):
every attempt counts against the client's IP; only *failed* attempts count against the account,
so a user under attack from many addresses is locked out for the window while the attacker
learns nothing. A refusal raises :class:`TooManyAttempts` (429) and is audited; counters that
cannot be reached (Redis down) raise :class:`ThrottleUnavailable` (503): never an uncounted attempt.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress

import redis
import structlog
from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from accounts.exceptions import ThrottleUnavailable, TooManyAttempts
from accounts.models import AuditEvent
from accounts.services import audit_event_record

__all__ = ["attempt_check", "attempt_failed", "client_ip"]

log = structlog.get_logger(__name__)


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the peer's, or, when the peer is one of ``TRUSTED_PROXIES``, the
    address its ``X-Forwarded-For`` names.

    That header is read right to left, skipping our own proxies: each proxy appends (or, like
    ingress-nginx by default, sets) the address it was reached from, so the first address that is
    not ours is the client as our edge saw it; what lies further left the client wrote itself and
    could forge.
    """
    peer = request.META.get("REMOTE_ADDR") or None
    networks = _proxy_networks(tuple(settings.TRUSTED_PROXIES or ()))
    if peer is None or not _trusted(_parsed(peer), networks):
        return peer
    nearest = None
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        hop = entry.strip()
        address = _parsed(hop)
        if address is None:
            break  # a malformed entry: nothing to its left can be trusted either
        if not _trusted(address, networks):
            return hop
        nearest = nearest or hop
    # Every hop is in a trusted network (a client inside the cluster): the one our edge proxy saw.
    return nearest or peer


@functools.lru_cache(maxsize=1)
def _proxy_networks(networks: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(network) for network in networks)


def _parsed(value: str) -> _Address | None:
    """The address ``value`` spells, or ``None`` when it is not one."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: _Address | None, networks: tuple[_Network, ...]) -> bool:
    # An address of one IP version is never in a network of the other (no error either).
    return address is not None and any(address in network for network in networks)


def _account_key(account: str) -> str:
    # Hashed so that e-mail addresses do not appear in cache keys.
    return hashlib.sha256(account.strip().lower().encode()).hexdigest()


def _usage(request: HttpRequest, scope: str, kind: str, value: str, increment: bool) -> dict | None:
    rate = settings.ACCOUNTS_RATE_LIMITS[scope][kind]
    try:
        return get_usage(
            request,
            group=f"accounts.{scope}.{kind}",
            key=lambda _group, _request: value,
            rate=rate,
            increment=increment,
        )
    except redis.RedisError as exc:
        # Fail closed, as credits do: an outage must not switch brute-force protection off.
        log.warning("accounts.throttle_unavailable", scope=scope, error_type=type(exc).__name__)
        raise ThrottleUnavailable() from None


def attempt_check(request: HttpRequest, *, scope: str, account: str | None, count_account: bool = False) -> None:
    """Count this attempt against the IP and refuse if the IP or the account is over its limit.

    :param count_account: also count this attempt against the account (registration, password
        reset); sign-in counts only failures, through :func:`attempt_failed`.
    """
    ip = client_ip(request) or "unknown"
    checks = [(_usage(request, scope, "ip", ip, increment=True), True)]
    if account:
        checks.append(
            (_usage(request, scope, "account", _account_key(account), increment=count_account), count_account)
        )
    for usage, counted in checks:
        # A counted attempt is over the limit past it; a read-only check (failures so far) at it.
        if usage is not None and (usage["should_limit"] or (not counted and usage["count"] >= usage["limit"])):
            if scope == "login":
                audit_event_record(
                    action=AuditEvent.Action.LOGIN_LOCKED_OUT,
                    actor_email=(account or "")[:254],
                    ip=client_ip(request),
                    detail={"scope": scope},
                )
            retry = max(1, int(usage.get("time_left") or 60))
            # Only a sign-in can be helped by a new password.
            advice = ", or reset your password" if scope == "login" else ""
            raise TooManyAttempts(
                f"Too many attempts. Wait {retry} seconds before trying again{advice}.", retry_after=retry
            )


def attempt_failed(request: HttpRequest, *, scope: str, account: str | None) -> None:
    """Count a failed attempt against the account (the IP was counted by :func:`attempt_check`)."""
    if account:
        _usage(request, scope, "account", _account_key(account), increment=True)
