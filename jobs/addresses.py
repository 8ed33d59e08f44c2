"""Which IP addresses an outbound webhook may reach: the IANA special-purpose tables, every IPv4
address an IPv6 address can carry, and the host forms ``inet_aton`` accepts.

Python's own ``is_global`` follows the registries of the interpreter's release (3.11 calls
``192.0.0.8`` and ``64:ff9b:1::/48`` global), so the tables are written out here.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = [
    "METADATA_ADDRESSES",
    "WRAPPERS",
    "IPAddress",
    "embedded_ipv4",
    "is_global",
    "numeric_host",
    "parse_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_v4, _v6 = ipaddress.IPv4Network, ipaddress.IPv6Network

#: Instance metadata and host services (AWS, GCP, Azure incl. its wire server, OpenStack, AWS IPv6,
#: Alibaba, Oracle, ECS task metadata): never called, even when private addresses are allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2", "168.63.129.16", "192.0.0.192")
)

#: IPv4 ranges that are not globally reachable (IANA IPv4 special-purpose registry), multicast and
#: the retired 6to4 relay anycast included.
NON_GLOBAL_V4 = tuple(
    _v4(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)

#: Global unicast IPv6 is 2000::/3; inside it, these are not globally reachable (IANA IPv6
#: special-purpose registry) or only tunnel to an IPv4 address (Teredo in 2001::/23, 6to4).
GLOBAL_UNICAST_V6 = _v6("2000::/3")
NON_GLOBAL_V6 = tuple(_v6(n) for n in ("2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20"))

#: IPv6 forms that merely carry an IPv4 address to the same host: judged by that address alone.
_IPV4_MAPPED = _v6("::ffff:0:0/96")
_IPV4_TRANSLATED = _v6("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = _v6("::/96")
_NAT64_WELL_KNOWN = _v6("64:ff9b::/96")
_NAT64_LOCAL = _v6("64:ff9b:1::/48")
WRAPPERS = (_IPV4_MAPPED, _IPV4_TRANSLATED, _NAT64_WELL_KNOWN)
_TEREDO = _v6("2001::/32")
_SIX_TO_FOUR = _v6("2002::/16")
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)


def parse_address(address: str) -> IPAddress:
    """An IP literal (IPv6 zone ids dropped) as an address object.

    :raises ValueError: not an IP literal.
    """
    return ipaddress.ip_address(address.strip("[]").split("%", 1)[0])


def _rfc6052(value: int, prefix_length: int) -> ipaddress.IPv4Address:
    """The IPv4 address in an RFC 6052 IPv4-embedded IPv6 address with a prefix of ``prefix_length``
    bits (bits 64–71, the "u" octet, are skipped)."""
    bits = f"{value:0128b}"
    if prefix_length == 96:
        embedded = bits[96:]
    else:
        embedded = (bits[prefix_length:64] + bits[72:])[:32] if prefix_length < 64 else bits[72:104]
    return ipaddress.IPv4Address(int(embedded, 2))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """Every IPv4 address ``ip`` carries: IPv4-mapped, -translated and -compatible, NAT64 (the
    well-known prefix and every prefix length of the local-use 64:ff9b:1::/48), 6to4, Teredo
    (server and client) and ISATAP. Empty for a plain IPv6 address."""
    value = int(ip)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []
    if (
        ip in _IPV4_MAPPED
        or ip in _IPV4_TRANSLATED
        or ip in _NAT64_WELL_KNOWN
        or (ip in _IPV4_COMPATIBLE and value > 1)
    ):
        found.append(low32)
    elif ip in _NAT64_LOCAL:
        found.extend(_rfc6052(value, length) for length in (48, 56, 64, 96))
    if ip in _SIX_TO_FOUR and ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip in _TEREDO and ip.teredo is not None:
        found.extend(ip.teredo)
    if (value >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        found.append(low32)
    return tuple(dict.fromkeys(found))


def is_global(ip: IPAddress) -> bool:
    """Whether ``ip`` is globally reachable unicast (IPv4-carrying forms are judged separately)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in network for network in NON_GLOBAL_V4)
    return ip in GLOBAL_UNICAST_V6 and not any(ip in network for network in NON_GLOBAL_V6)


_NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)")


def _number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


def numeric_host(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host name written as numbers means to ``inet_aton`` and to browsers
    (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``0``…); ``None`` for a name.

    A host whose last label is a number is an address, never a name (the WHATWG URL standard's
    rule), so a form that is not a valid address is refused rather than looked up.

    :raises ValueError: the host ends in a number but is not a valid IPv4 address.
    """
    labels = host.rstrip(".").split(".") if host not in ("", ".") else [""]
    if not _NUMBER.fullmatch(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMBER.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    try:
        parts = [_number(label) for label in labels]
    except ValueError:  # an 8 or 9 in an octal part
        raise ValueError(f"{host!r} is not a valid IPv4 address") from None
    *leading, last = parts
    if any(part > 255 for part in leading) or last >= 256 ** (5 - len(parts)):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    value = last
    for index, part in enumerate(leading):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)
