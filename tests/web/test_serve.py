"""``prizm serve`` as a separate process on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from devtools.servers import free_port, wait_for_port

pytestmark = pytest.mark.slow


def test_serve_answers_health_check(prizm_home: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "prizm.cli.main", "serve", "--port", str(port)],
        env={**os.environ, "PRIZM_HOME": str(prizm_home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
            health = json.loads(response.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as response:
            server_header = response.headers.get("server")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)

    assert health == {"status": "ok"}
    assert server_header is None
    assert "No users yet" in err
    assert f"http://127.0.0.1:{port}/" in err
    assert "Logging error" not in out + err
    assert "Traceback" not in out + err
    assert '"GET /healthz HTTP/1.1" 200' in out + err
    assert process.returncode == 0
