"""``prizm serve``: its process, its log lines and its forwarded-header trust."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devtools.servers import free_port, wait_for_port
from prizm.store import open_store
from prizm.users import UserService
from tests.support.canaries import Canaries
from tests.support.fixtures import run_cli
from tests.web.browser import ConsoleServer
from tests.web.support import PASSWORD, Web, csrf_from

pytestmark = pytest.mark.slow


@dataclass
class Served:
    """A ``prizm serve`` process's port, and its output once it has stopped."""

    port: int
    out: str = ""
    err: str = ""
    status: int | None = None


@contextmanager
def serve_process(
    prizm_home: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Run ``prizm serve`` on a free loopback port and stop it with SIGINT."""
    served = Served(free_port())
    command = [sys.executable, "-m", "prizm.cli.main", "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(served.port), *args],
        env={**os.environ, "PRIZM_HOME": str(prizm_home), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(served.port, process)
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        served.out, served.err = process.communicate(timeout=30)
        served.status = process.returncode


def sign_in(
    base_url: str, name: str, password: str, forwarded_for: str = ""
) -> httpx.Response:
    """Submit the sign-in form over HTTP, from ``forwarded_for`` when given."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with httpx.Client(base_url=base_url, headers=headers) as client:
        page = client.get("/login")
        return client.post(
            "/login",
            data={
                "username": name,
                "password": password,
                "csrf_token": csrf_from(page.text),
            },
        )


def test_serve_answers_health_check(prizm_home: Path) -> None:
    with serve_process(prizm_home) as served:
        url = f"http://127.0.0.1:{served.port}"
        with urllib.request.urlopen(f"{url}/healthz") as response:
            health = json.loads(response.read())
        with urllib.request.urlopen(f"{url}/login") as response:
            server_header = response.headers.get("server")
    output = served.out + served.err

    assert health == {"status": "ok"}
    assert server_header is None
    assert "No users yet" in served.err
    assert f"http://127.0.0.1:{served.port}/" in served.err
    assert "Logging error" not in output
    assert "Traceback" not in output
    assert '"GET /healthz HTTP/1.1" 200' in output
    assert served.status == 0


def test_json_log_every_line(prizm_home: Path, canaries: Canaries) -> None:
    UserService(open_store()).add("ana", "admin", PASSWORD)
    forged = "ana\nforged line"

    with serve_process(prizm_home, env={"PRIZM_LOG_FORMAT": "json"}) as served:
        url = f"http://127.0.0.1:{served.port}"
        sign_in(url, "ana", canaries.make("wrong-password"))
        sign_in(url, forged, "wrong password")
    output = served.out + served.err
    records = [json.loads(line) for line in output.split("\n") if line]
    loggers = {record["logger"] for record in records}
    failures = [
        record["message"]
        for record in records
        if record["message"].startswith("sign-in failed")
    ]

    canaries.scan(output, "the log of prizm serve")
    assert served.status == 0
    assert all(isinstance(record, dict) for record in records)
    assert {"uvicorn.error", "uvicorn.access", "prizm.web.app"} <= loggers
    assert failures == [
        "sign-in failed user=ana address=127.0.0.1",
        f"sign-in failed user=(invalid name, {len(forged)} characters) "
        "address=127.0.0.1",
    ]


def test_failed_sign_in_name_withheld(prizm_home: Path, canaries: Canaries) -> None:
    password_as_name = canaries.make_plain("password")
    forged = "nobody\n2026-01-01 INFO forged"

    with serve_process(prizm_home) as served:
        url = f"http://127.0.0.1:{served.port}"
        sign_in(url, password_as_name, "wrong password")
        sign_in(url, forged, "wrong password")
    lines = served.err.split("\n")
    failures = [line for line in lines if "sign-in failed" in line]

    canaries.scan(served.err, "the log of prizm serve")
    assert len(failures) == 2
    assert f"user=(unknown user, {len(password_as_name)} characters)" in failures[0]
    assert f"user=(invalid name, {len(forged)} characters)" in failures[1]
    assert not any(line.startswith("2026-01-01") for line in lines)


def test_spoofed_forwarded_for_ignored(web: Web) -> None:
    """By default a client cannot escape the per-address limit (6 here)."""
    with ConsoleServer(web.app) as server:
        url = server.url
        for index in range(6):
            response = sign_in(url, f"user{index}", "wrong", f"10.0.0.{index}")
            assert response.status_code == 401, index
        locked = sign_in(url, "someone-else", "wrong", "10.0.0.99")

    assert locked.status_code == 429
    assert "your address" in locked.text


def test_forwarded_for_from_named_proxy(web: Web) -> None:
    """The limit counts the address the trusted proxy forwards."""
    with ConsoleServer(web.app, proxies=["127.0.0.1"]) as server:
        url = server.url
        for index in range(6):
            response = sign_in(url, f"user{index}", "wrong", f"10.0.0.{index}")
            assert response.status_code == 401, index
        other = sign_in(url, "someone-else", "wrong", "10.0.0.99")
        for index in range(5):
            sign_in(url, f"again{index}", "wrong", "10.0.0.0")
        repeated = sign_in(url, "last", "wrong", "10.0.0.0")

    assert other.status_code == 401
    assert repeated.status_code == 429
    assert "your address" in repeated.text


def test_forwarded_allow_ips_checked() -> None:
    result = run_cli(["serve", "--forwarded-allow-ips", "127.0.0.1,*"])

    assert result.status == 2
    assert result.err.startswith("error[usage_error]")
    assert "'*'" in result.err
