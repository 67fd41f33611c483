"""Where Prizm may send credentials: checks for endpoint URLs and vault addresses.

An integration's endpoint is where its credentials and secret requests go, so a
person who may edit it could otherwise point Prizm at a cloud metadata service (and
read the instance's role credentials through Prizm) or at a server of their own over
plain http. URLs naming a link-local or metadata address are rejected; plain http
needs the integration's explicit ``allow_http`` setting.

NOTE: names are checked as written, not resolved: a DNS name that resolves to a
link-local address at run time is not caught here.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

__all__ = ["BLOCKED_NETWORKS", "check_endpoint_url", "forbidden_host_reason"]

BLOCKED_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::/32"),
)
"""Link-local ranges, which hold the AWS, Azure and GCP instance metadata services."""

METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
    }
)


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _address(bare: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse an IP literal, including the IPv4 spellings that resolvers accept.

    ``inet_aton`` reads decimal (``2852039166``), hexadecimal (``0xa9fea9fe``),
    octal and short (``169.254.43518``) forms, which all reach 169.254.169.254.
    """
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fx.]+", bare) and not bare.endswith("."):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def forbidden_host_reason(host: str) -> str | None:
    """Return why ``host`` may not receive credentials, or None when it may."""
    bare = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if bare in METADATA_NAMES:
        return f"{host} is a cloud metadata service name"
    address = _address(bare)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            address = address.ipv4_mapped
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for network in BLOCKED_NETWORKS:
        if address.version == network.version and address in network:
            return (
                f"{host} is a link-local or metadata address, where instance "
                "metadata services live"
            )
    return None


def check_endpoint_url(value: str, *, allow_http: bool, label: str) -> str:
    """Validate an endpoint URL; raise ``ValueError`` with the reason and the fix."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{label} must be an https URL with a host, not {value!r}")
    reason = forbidden_host_reason(parts.hostname)
    if reason is not None:
        raise ValueError(
            f"{label} may not point at {parts.hostname}: {reason}, and Prizm would "
            "send credentials there"
        )
    if parts.scheme == "http" and not allow_http:
        raise ValueError(
            f"{label} uses plain http, which would send credentials unencrypted; use "
            "https, or let an admin allow http for this integration (--allow-http)"
        )
    return value
