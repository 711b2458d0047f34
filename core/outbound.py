"""Where the service may send requests that users aim (webhook URLs, Web Push endpoints).

Such a URL must not reach the operator's own network: a user who could point a webhook at
127.0.0.1, 10.0.0.0/8 or the cloud metadata address (169.254.169.254) would make this server
call those for them. So a URL must be `https` and every address its host resolves to must be
public. It is checked when the URL is saved and again before each call (DNS can change
meanwhile); the caller connects only to the addresses the check returned.

`WEBHOOKS_ALLOW_PRIVATE=true` (development and tests) lifts both rules.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class OutboundURLError(ValueError):
    """The URL may not be called; the message says why, for the client (a 400)."""


def public_addresses(url: str) -> list[str]:
    """The addresses `url`'s host resolves to, every one of them public. Raises
    OutboundURLError when the URL is not `https`, has no host, does not resolve, or resolves
    to any loopback, private, link-local or otherwise non-public address."""
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise OutboundURLError("Enter a valid URL.") from error
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise OutboundURLError("The URL must start with https://.")
    if not parts.hostname:
        raise OutboundURLError("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise OutboundURLError("The URL must not carry a user name or password.")
    if port == 0:
        raise OutboundURLError("Enter a valid URL: port 0 is not a port one can call.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundURLError(f"The host {parts.hostname} does not resolve.") from error
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise OutboundURLError(
                    f"The host {parts.hostname} resolves to {address}, which is not a public "
                    "address."
                )
    return addresses


# IPv6 ranges that carry an IPv4 address in their last 32 bits and lead to it: the
# deprecated IPv4-compatible ::a.b.c.d and the NAT64 well-known prefix (RFC 6052), through
# which ::ffff:-less spellings of 10.0.0.1 or 127.0.0.1 would reach the IPv4 address.
IPV4_CARRYING = [ipaddress.ip_network("::/96"), ipaddress.ip_network("64:ff9b::/96")]


def is_public(address: str) -> bool:
    """Whether `address` is on the public internet: not loopback, private, link-local,
    shared (carrier-grade NAT), reserved, site-local, multicast or unspecified, IPv4 inside
    IPv6 included (mapped, compatible, NAT64 and 6to4 addresses are judged by the IPv4
    address they lead to)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local or ip.is_multicast:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in network for network in IPV4_CARRYING):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast
