"""``prizm serve``'s app on uvicorn, and headless Chromium driven by Playwright.

Chromium is Debian's package at /usr/bin/chromium; Playwright only drives it (its
own browser downloads are never used). Chromium runs with background networking
off and a host resolver that resolves no name, so it reaches nothing but the
loopback server the test starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from devtools.servers import free_port
from prizm.cli.serve import server_options

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "ConsoleServer", "chromium_context"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-pings",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]


class ConsoleServer:
    """The app on uvicorn in a thread of this process, on a free loopback port."""

    def __init__(self, app: FastAPI, proxies: Sequence[str] = ()) -> None:
        self.port = free_port()
        options = server_options("127.0.0.1", self.port, proxies)
        config = uvicorn.Config(app, lifespan="on", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ConsoleServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def chromium_context(user_data_dir: Path) -> Iterator[object]:
    """Yield a Playwright browser context of Debian's Chromium, then close it."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing; make test installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
        )
        try:
            yield context
        finally:
            context.close()
