"""``prizm serve``: the web console and REST API on uvicorn."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from prizm.cli.context import store
from prizm.cli.worker import VERBOSITY, LogLevel, LogLevelOption
from prizm.errors import UsageError
from prizm.logging import SERVER_LOGGERS, configure_logging
from prizm.providers.azure.settings import is_loopback_host

__all__ = ["parse_proxy_addresses", "serve_command", "server_options"]

log = logging.getLogger(__name__)


def parse_proxy_addresses(text: str | None) -> list[str]:
    """Parse ``--forwarded-allow-ips``: comma-separated addresses or networks."""
    if text is None:
        return []
    addresses = [item.strip() for item in text.split(",") if item.strip()]
    for address in addresses:
        try:
            if "/" in address:
                ipaddress.ip_network(address)
            else:
                ipaddress.ip_address(address)
        except ValueError:
            raise UsageError(
                f"--forwarded-allow-ips takes IP addresses or networks, not "
                f"{address!r}.",
                hint="Name the proxy in front of Prizm, for example "
                "--forwarded-allow-ips 127.0.0.1 or --forwarded-allow-ips 10.0.0.0/24.",
            ) from None
    return addresses


def server_options(host: str, port: int, proxies: Sequence[str]) -> dict[str, Any]:
    """Return the uvicorn settings of ``prizm serve``.

    Forwarded headers (the https scheme, the client address that the sign-in
    limits count) are read only from ``proxies``, because any other client could
    choose its own address with them. uvicorn installs no log handlers, so its
    records reach the handler of ``configure_logging``.
    """
    return {
        "host": host,
        "port": port,
        "log_config": None,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": list(proxies),
        "server_header": False,
    }


def serve_command(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Only loopback by default; put a TLS proxy "
            "in front before listening on another address.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = 8080,
    workers: Annotated[
        int,
        typer.Option("--run-workers", help="Connector runs executed at once.", min=1),
    ] = 2,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            metavar="IPS",
            help="Comma-separated addresses or networks of the proxies whose "
            "X-Forwarded-For and X-Forwarded-Proto headers are trusted. Default: "
            "none, so the headers are ignored.",
        ),
    ] = None,
    loglevel: LogLevelOption = LogLevel.info,
) -> None:
    """Serve the web console and the REST API (/api/v1) over the store."""
    import uvicorn

    from prizm.web import WebSettings, create_app

    proxies = parse_proxy_addresses(forwarded_allow_ips)
    configure_logging(verbosity=VERBOSITY[loglevel], also=SERVER_LOGGERS)
    opened = store()
    if not opened.users.all():
        log.warning(
            "No users yet, so nobody can sign in. Add one with: "
            "prizm user add admin --role admin"
        )
    if not is_loopback_host(host):
        log.warning(
            "Listening on %s: serve the console over https (a TLS proxy), because "
            "passwords and session cookies cross the network.",
            host,
        )
    app = create_app(opened, WebSettings(run_workers=workers))
    shown_host = f"[{host}]" if ":" in host else host
    log.info("Prizm console on http://%s:%d/ (Ctrl+C stops it)", shown_host, port)
    uvicorn.run(app, **server_options(host, port, proxies))
