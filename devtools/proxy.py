"""A loopback HTTP proxy that counts API calls, adds delay and injects faults.

Put it between an AWS client and moto's server (as the integration's endpoint URL) to
count calls at the HTTP boundary, to add a fixed round-trip delay (the benchmark), or
to answer some calls with errors no emulator produces: throttling, KMS denial, a
server that hangs past the read timeout, a dropped connection.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Fault", "FaultProxy", "aws_error", "aws_query_error"]

CONTROL_PREFIX = "/__proxy/"
"""Paths under this prefix are the proxy's own: ``stats`` and ``reset``."""


def aws_error(code: str, message: str, status: int = 400) -> Fault:
    """Return a fault answering like an AWS JSON-protocol error."""
    return Fault(
        status=status,
        body=json.dumps({"__type": code, "message": message}),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "x-amzn-ErrorType": code,
        },
    )


def aws_query_error(code: str, message: str, status: int = 403) -> Fault:
    """Return a fault answering like an AWS query-protocol (XML) error, as STS does."""
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>prizm-fault-proxy</RequestId></ErrorResponse>"
    )
    return Fault(status=status, body=body, headers={"Content-Type": "text/xml"})


@dataclass
class Fault:
    """What to do with a matching request instead of forwarding it.

    ``action`` is "respond" (send ``status`` and ``body``), "hang" (wait ``delay``
    seconds, then close without answering) or "reset" (close at once).
    """

    status: int = 500
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    action: str = "respond"
    delay: float = 0.0
    operation: str | None = None
    match: str | None = None
    times: int | None = None

    def matches(self, operation: str, body: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.operation is not None and self.operation != operation:
            return False
        return self.match is None or self.match in body


def operation_of(headers: Any, body: str, path: str) -> str:
    """Name the API operation of a request: AWS JSON target, query Action or path."""
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    if "Action=" in body:
        action = parse_qs(body).get("Action")
        if action:
            return action[0]
    return urlsplit(path).path


class FaultProxy:
    """Forwards HTTP requests to ``upstream`` on loopback, recording each one.

    ``before_forward``, when set, is called with the operation and body of each
    request just before it is forwarded: a test uses it to change the upstream's
    state at an exact moment, such as rotating a secret while a read is in flight.
    """

    def __init__(self, upstream: str, *, delay: float = 0.0) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.delay = delay
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str]] = []
        self.before_forward: Callable[[str, str], None] | None = None
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.calls.clear()
            self.peak_in_flight = 0

    def counts(self) -> Counter[str]:
        """Return how many requests each operation received."""
        with self._lock:
            return Counter(operation for operation, _ in self.calls)

    def bodies(self, operation: str) -> list[str]:
        with self._lock:
            return [body for name, body in self.calls if name == operation]

    def _take_fault(self, operation: str, body: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(operation, body):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def start(self, port: int = 0) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes; without TCP_NODELAY,
                # Nagle's algorithm and delayed ACKs stall each response by ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.path.startswith(CONTROL_PREFIX):
                    self._control()
                    return
                body = raw.decode("utf-8", "replace")
                operation = operation_of(self.headers, body, self.path)
                with proxy._lock:
                    proxy.calls.append((operation, body))
                    proxy.in_flight += 1
                    proxy.peak_in_flight = max(proxy.peak_in_flight, proxy.in_flight)
                try:
                    self._respond(operation, body, raw)
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1

            def _control(self) -> None:
                """Serve the proxy's own endpoints: call counts, and reset."""
                if self.path == CONTROL_PREFIX + "reset":
                    proxy.clear()
                counts = proxy.counts()
                payload = json.dumps(
                    {"counts": dict(counts), "peak_in_flight": proxy.peak_in_flight}
                ).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _respond(self, operation: str, body: str, raw: bytes) -> None:
                if proxy.delay:
                    time.sleep(proxy.delay)
                fault = proxy._take_fault(operation, body)
                if fault is not None:
                    self._fault(fault)
                    return
                hook = proxy.before_forward
                if hook is not None:
                    hook(operation, body)
                self._forward(raw)

            def _fault(self, fault: Fault) -> None:
                if fault.action == "hang":
                    time.sleep(fault.delay)
                    self.close_connection = True
                    return
                if fault.action == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault.delay:
                    time.sleep(fault.delay)
                payload = fault.body.encode("utf-8")
                self.send_response(fault.status)
                for name, value in fault.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-amzn-RequestId", "prizm-fault-proxy")
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, raw: bytes) -> None:
                connection = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=60
                )
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower()
                    not in ("connection", "keep-alive", "proxy-connection")
                }
                try:
                    connection.request(
                        self.command, self.path, body=raw, headers=headers
                    )
                    response = connection.getresponse()
                    payload = response.read()
                finally:
                    connection.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() in (
                        "transfer-encoding",
                        "connection",
                        "content-length",
                    ):
                        continue
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle
            do_DELETE = _handle
            do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Run the proxy in its own process: ``python -m devtools.proxy UPSTREAM PORT``.

    The benchmark runs it apart so that its threads do not count in the CPU time of
    the process being measured.
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("upstream")
    parser.add_argument("port", type=int)
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds per request.")
    arguments = parser.parse_args()
    proxy = FaultProxy(arguments.upstream, delay=arguments.delay).start(arguments.port)
    try:
        threading.Event().wait()
    finally:
        proxy.stop()


if __name__ == "__main__":
    main()
