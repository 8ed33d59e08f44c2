"""The SSRF policy over the whole address table: every non-global address, and every IPv4 address an
IPv6 address or a numeric host name can carry, is refused both when a URL is validated and when a
connection is about to be opened (no packet is ever sent)."""

from __future__ import annotations

import re

import httpcore
import pytest

from jobs.addresses import embedded_ipv4, numeric_host, parse_address
from jobs.exceptions import InvalidWebhookUrl, UnsafeWebhookUrl
from jobs.netguard import BlockedDestination, GuardedBackend, address_allowed, webhook_url_validate

#: Addresses no webhook may reach when private addresses are not allowed, one per reason.
NON_GLOBAL = [
    "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
    "0.1.2.3",
    "10.0.0.1",
    "100.64.0.1",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "172.16.0.1",
    "192.0.0.8",
    "192.0.0.9",
    "192.0.0.192",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "100::1",
    "2001:db8::1",
    "2001:2::1",
    "3fff::1",
    "5f00::1",
    "::ffff:0:0:1",
    # IPv4 wrapped in IPv6: mapped, translated, compatible, NAT64 (well-known and local-use), 6to4, Teredo, ISATAP
    "::ffff:127.0.0.1",
    "::ffff:a9fe:a9fe",
    "::ffff:0:a9fe:a9fe",
    "::a9fe:a9fe",
    "::127.0.0.1",
    "::10.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::7f00:1",
    "64:ff9b::c000:8",
    "64:ff9b:1::a9fe:a9fe",
    "64:ff9b:1:a9fe:a9:fe00::",
    "64:ff9b:1:0:a9:fea9:fe00:0",
    "64:ff9b:1::808:808",
    "2002:a9fe:a9fe::1",
    "2002:7f00:1::1",
    "2002:c0a8:101::1",
    "2002:808:808::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001::1",
    "2001:0:808:808:0:0:56f7:56f7",
    "fe80::5efe:a9fe:a9fe",
    "2a00:1450::5efe:a9fe:a9fe",
    "2a00:1450::200:5efe:7f00:1",
]

#: Reachable public addresses, also when carried by a form that only wraps them.
GLOBAL = ["93.184.216.34", "8.8.8.8", "2a00:1450:4001:81c::200e", "::ffff:93.184.216.34", "64:ff9b::808:808"]

#: Refused even when WEBHOOKS_ALLOW_PRIVATE is on, however they are written.
METADATA = [
    "169.254.169.254",
    "fd00:ec2::254",
    "100.100.100.200",
    "169.254.170.2",
    "168.63.129.16",
    "192.0.0.192",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a9fe:a9fe",
    "::a9fe:a9fe",
    "2002:a9fe:a9fe::1",
    "2001:0:4136:e378:8000:63bf:5601:5601",
    "fe80::5efe:a9fe:a9fe",
]

#: Host names written as numbers, as inet_aton and browsers read them: all mean 127.0.0.1 or 0.0.0.0.
NUMERIC_LOOPBACK = [
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7F000001",
    "0177.0.0.1",
    "0x7f.1",
    "0x7f.0.0.1",
    "017700000001",
    "127.0.0.1.",
    "0",
    "0x0",
    "00",
    "0.0",
]


class NoConnect(httpcore.NetworkBackend):
    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        raise AssertionError(f"a connection to {host}:{port} was attempted")


def url_for(address: str) -> str:
    return f"http://[{address}]:8212/x" if ":" in address else f"http://{address}:8212/x"


@pytest.mark.parametrize("address", NON_GLOBAL)
def test_a_non_global_address_is_refused_by_the_policy(address):
    assert not address_allowed(address, allow_private=False)


@pytest.mark.parametrize("address", NON_GLOBAL)
def test_a_non_global_address_literal_is_refused_when_the_url_is_validated(address):
    with pytest.raises(UnsafeWebhookUrl) as refused:
        webhook_url_validate(url_for(address), param="webhook.url", allow_private=False)
    assert refused.value.param == "webhook.url"


@pytest.mark.parametrize("address", NON_GLOBAL)
def test_a_host_resolving_to_a_non_global_address_is_refused_before_connecting(address):
    backend = GuardedBackend(allow_private=False, resolver=lambda host, port: [address], inner=NoConnect())
    with pytest.raises(BlockedDestination):
        backend.connect_tcp("hooks.example.com", 443)


@pytest.mark.parametrize("address", GLOBAL)
def test_a_global_address_is_allowed_at_validation_and_at_connect_time(address):
    assert webhook_url_validate(url_for(address), allow_private=False) == url_for(address)
    backend = GuardedBackend(allow_private=False, resolver=lambda host, port: [address], inner=NoConnect())
    with pytest.raises(AssertionError, match="connection to"):
        backend.connect_tcp("hooks.example.com", 443)


@pytest.mark.parametrize("address", METADATA)
def test_metadata_addresses_are_refused_however_wrapped_even_when_private_addresses_are_allowed(address):
    assert not address_allowed(address, allow_private=True)
    with pytest.raises(UnsafeWebhookUrl):
        webhook_url_validate(url_for(address), allow_private=True)
    backend = GuardedBackend(allow_private=True, resolver=lambda host, port: [address], inner=NoConnect())
    with pytest.raises(BlockedDestination):
        backend.connect_tcp("metadata.example.com", 80)


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("::ffff:a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("::a9fe:a9fe", "169.254.169.254"),
        ("2002:a9fe:a9fe::1", "169.254.169.254"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),
        ("fe80::5efe:a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b:1:a9fe:a9:fe00::", "169.254.169.254"),
    ],
)
def test_every_ipv4_address_an_ipv6_address_carries_is_unwrapped(address, carried):
    assert parse_address(carried) in embedded_ipv4(parse_address(address))


@pytest.mark.parametrize("host", NUMERIC_LOOPBACK)
def test_inet_aton_shorthand_hosts_mean_the_address_they_spell(host):
    assert str(numeric_host(host)) in ("127.0.0.1", "0.0.0.0")  # noqa: S104


@pytest.mark.parametrize("host", NUMERIC_LOOPBACK)
def test_inet_aton_shorthand_hosts_of_private_addresses_are_refused_naming_the_field(host):
    with pytest.raises(UnsafeWebhookUrl) as refused:
        webhook_url_validate(f"http://{host}:8212/x", param="webhook.url", allow_private=False)
    assert refused.value.param == "webhook.url"


@pytest.mark.parametrize("host", ["0x5db8d822", "1572395042", "93.184.55330", "0135.0270.0330.042"])
def test_shorthand_hosts_of_public_addresses_are_refused_as_ambiguous_never_looked_up(host):
    with pytest.raises(InvalidWebhookUrl, match=re.escape("(93.184.216.34)")):
        webhook_url_validate(f"http://{host}/x", allow_private=False)


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1.1.1", "08", "0x1g", "4294967296", "a.0x1", "example.123"])
def test_hosts_ending_in_a_number_that_are_no_address_are_invalid(host):
    with pytest.raises(InvalidWebhookUrl):
        webhook_url_validate(f"http://{host}/x", allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "http://",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://example.com:x/",
        "https://" + "a" * 2000 + ".com/",
        42,
        None,
    ],
)
def test_malformed_urls_are_invalid(url):
    with pytest.raises(InvalidWebhookUrl):
        webhook_url_validate(url, allow_private=True)


UNSAFE_FORMS = [
    "ftp://example.com/h",
    "file:///etc/passwd",
    "http://localhost./x",
    "http://metadata.google.internal/x",
    "http://x.localhost/x",
    "https://user:pw@example.com/h",  # pragma: allowlist secret
]


@pytest.mark.parametrize("url", UNSAFE_FORMS)
def test_other_schemes_credentials_and_local_names_are_unsafe(url):
    with pytest.raises(UnsafeWebhookUrl):
        webhook_url_validate(url, allow_private=False)


#: The URLs an outside probe sent: each must be a 400 naming the field wherever a webhook URL is taken.
PROBED_URLS = [
    "http://127.1:8212/x",
    "http://2130706433/x",
    "http://0x7f000001/x",
    "http://0/x",
    "http://0177.0.0.1/x",
    "http://[64:ff9b::a9fe:a9fe]/x",
    "http://[64:ff9b:1::a9fe:a9fe]/x",
    "http://[::a9fe:a9fe]/x",
    "http://[2002:a9fe:a9fe::1]/x",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
    "http://192.0.0.8/x",
]
