"""``prizm serve``: the web console and REST API on uvicorn."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from prizm.cli.context import store
from prizm.providers.azure.settings import is_loopback_host

__all__ = ["serve_command"]

log = logging.getLogger(__name__)


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
) -> None:
    """Serve the web console and the REST API (/api/v1) over the store."""
    import uvicorn

    from prizm.web import WebSettings, create_app

    opened = store()
    if not opened.users.all():
        sys.stderr.write(
            "No users yet, so nobody can sign in. Add one with: "
            "prizm user add admin --role admin\n"
        )
    if not is_loopback_host(host):
        sys.stderr.write(
            f"Listening on {host}: serve the console over https (a TLS proxy), "
            "because passwords and session cookies cross the network.\n"
        )
    app = create_app(opened, WebSettings(run_workers=workers))
    sys.stderr.write(f"Prizm console on http://{host}:{port}/ (Ctrl+C stops it)\n")
    # Forwarded headers (the https scheme, the client address) are trusted only
    # from a proxy on this machine.
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1,::1",
        server_header=False,
    )
