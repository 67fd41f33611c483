"""A small HTTPS server on loopback that hands each request to a Python function."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.azure_fake.tls import TlsFiles

__all__ = ["HttpsServer", "Request", "Response", "json_response"]


@dataclass
class Request:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {name: values[0] for name, values in parsed.items()}

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, data: Any, **headers: str) -> Response:
    return Response(
        status,
        json.dumps(data).encode("utf-8"),
        {"Content-Type": "application/json; charset=utf-8", **headers},
    )


class HttpsServer:
    """Serves ``handle`` over TLS on 127.0.0.1 and a free port, on its own thread."""

    def __init__(self, tls: TlsFiles, handle: Callable[[Request], Response]) -> None:
        self.handle = handle
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.server_certificate, tls.server_key)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                # The handshake runs here, on the request thread, so a client that
                # stalls or rejects the certificate blocks only its own connection.
                self.request.settimeout(30)
                self.request.do_handshake()
                super().setup()

            def handle(self) -> None:
                try:
                    super().handle()
                except (ssl.SSLError, ConnectionError, TimeoutError):
                    return

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                response = outer.handle(request)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = _serve
            do_POST = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(
            self._server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"https://127.0.0.1:{port}"

    def start(self) -> HttpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
