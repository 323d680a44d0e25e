"""Where a webhook may be sent: HTTPS to a public address, never redirected to another host.

Private, loopback, link-local, multicast and reserved addresses are refused (checked when a
subscription is saved for literal addresses and `localhost`, and at every delivery for the
addresses the name resolves to), so a subscription cannot make the server probe its own
network. OVC_WEBHOOK_ALLOW_PRIVATE=true lifts this and allows plain HTTP (tests, a closed
network). A name that resolves to a public address when checked and to a private one when
connected (DNS rebinding) is not caught: put the workers behind an egress proxy or firewall
where that matters.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class UnsafeDestination(ValueError):
    """A URL the server will not send to (the message says why, without the URL)."""


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_url(url: str, *, allow_private: bool) -> None:
    """What can be told without DNS: the scheme, a host, no credentials, literal addresses."""
    parts = urlsplit(url)
    allowed = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed:
        raise UnsafeDestination("must be an https:// URL")
    if not parts.hostname:
        raise UnsafeDestination("must name a host")
    if parts.username or parts.password:
        raise UnsafeDestination("must not carry a user name or password")
    if allow_private:
        return
    host = parts.hostname.lower().rstrip(".")
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        raise UnsafeDestination("must not point at this machine")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if _refused(address):
        raise UnsafeDestination("must not point at a private, loopback or reserved address")


async def check_destination(url: str, *, allow_private: bool) -> None:
    """Before each request: every address the host resolves to must be public."""
    check_url(url, allow_private=allow_private)
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise UnsafeDestination("the host name does not resolve") from exc
    for info in infos:
        if _refused(ipaddress.ip_address(info[4][0])):
            raise UnsafeDestination("the host resolves to a private or reserved address")


def same_origin(first: str, second: str) -> bool:
    a, b = urlsplit(first), urlsplit(second)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
