"""A socket guard that fails any connection or name lookup outside loopback.

Installed by ``tests/conftest.py`` in the test process, and in child Python processes
through ``devtools/guard/sitecustomize.py`` when ``PRIZM_NETGUARD=1``. Cloud SDKs
reach for metadata addresses and login hosts on their own; this makes such an attempt
fail loudly instead of leaving the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

__all__ = ["BLOCKED", "BlockedConnection", "install", "is_loopback"]

ALLOWED_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

BLOCKED: list[str] = []
"""Every host this process tried to reach and was stopped from, in order. SDKs
often swallow the error, so tests read this list to prove no attempt was made."""


class BlockedConnection(OSError):
    """Raised when code tries to reach an address outside loopback."""


def is_loopback(host: str) -> bool:
    """Return whether ``host`` is a loopback address or name."""
    host = host.strip("[]").split("%", 1)[0]
    if host.lower() in ALLOWED_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


_installed = False
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_getaddrinfo = socket.getaddrinfo
_original_sendto = socket.socket.sendto


def _check(address: Any, family: int) -> None:
    if family == getattr(socket, "AF_UNIX", None):
        return
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if not is_loopback(host):
            BLOCKED.append(host)
            raise BlockedConnection(
                f"network guard: connection to {host} is not loopback"
            )


def _connect(self: socket.socket, address: Any) -> None:
    _check(address, self.family)
    _original_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(address, self.family)
    return _original_connect_ex(self, address)


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    address = args[-1]
    _check(address, self.family)
    return _original_sendto(self, data, *args)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not is_loopback(name):
            BLOCKED.append(name)
            raise BlockedConnection(f"network guard: lookup of {name} is not loopback")
    return _original_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    """Patch the socket module so only loopback can be reached. Idempotent."""
    global _installed
    if _installed:
        return
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = _getaddrinfo
    _installed = True
