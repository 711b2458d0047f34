"""core/outbound.py: the rule for URLs users aim the server at (webhooks, push endpoints)."""

import pytest

from core.outbound import OutboundURLError, is_public, public_addresses

NON_PUBLIC = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "192.0.2.1",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "224.0.0.1",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_loopback_private_link_local_and_reserved_addresses_are_not_public(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_internet_addresses_are_public(address):
    assert is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://2130706433/hook",  # 127.0.0.1 spelt as one number
    ],
)
def test_a_url_on_a_non_public_address_is_refused(url):
    with pytest.raises(OutboundURLError, match="not a public address"):
        public_addresses(url)


def test_a_host_name_that_resolves_to_a_private_address_is_refused():
    with pytest.raises(OutboundURLError, match="localhost resolves to .*not a public address"):
        public_addresses("https://localhost/hook")


def test_a_host_that_does_not_resolve_is_refused():
    with pytest.raises(OutboundURLError, match="does not resolve"):
        public_addresses("https://no-such-host.invalid/hook")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://8.8.8.8/hook", "must start with https://"),
        ("ftp://8.8.8.8/hook", "must start with https://"),
        ("8.8.8.8/hook", "must start with https://"),
        ("", "must start with https://"),
        ("https:///hook", "has no host"),
        ("https://user:secret@8.8.8.8/hook", "user name or password"),
        ("https://user@8.8.8.8/hook", "user name or password"),
        ("https://8.8.8.8:99999/hook", "valid URL"),
        ("https://8.8.8.8:port/hook", "valid URL"),
        ("https://8.8.8.8:0/hook", "port 0"),
        ("https://[::1/hook", "valid URL"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(url, message):
    with pytest.raises(OutboundURLError, match=message):
        public_addresses(url)


def test_a_public_address_passes_and_is_what_the_caller_connects_to():
    assert public_addresses("https://8.8.8.8:8443/hook?x=1") == ["8.8.8.8"]
    assert public_addresses("https://[2606:4700:4700::1111]/hook") == ["2606:4700:4700::1111"]


def test_allowing_private_addresses_lifts_both_rules(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True

    assert public_addresses("http://127.0.0.1:8000/hook") == ["127.0.0.1"]
    assert "::1" in public_addresses("https://[::1]/hook")
    # What is not a URL at all stays refused.
    with pytest.raises(OutboundURLError, match="must start with https://"):
        public_addresses("ftp://127.0.0.1/hook")
    with pytest.raises(OutboundURLError, match="user name or password"):
        public_addresses("http://user:pw@127.0.0.1/hook")
