"""Fixtures shared by every test module."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.servers import MotoServer
from prizm import redaction
from prizm.cli.output import state
from prizm.integrations import forget_all_providers
from prizm.store.store import reset_stores
from tests.support.canaries import CANARIES, Canaries

__all__ = [
    "CliResult",
    "aws",
    "canaries",
    "cli",
    "leak_scan",
    "moto",
    "prizm_home",
]

ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's server over HTTP on loopback, shared by the session."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with MotoServer(log_path=str(log)) as server:
        yield server


@pytest.fixture(autouse=True)
def prizm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh PRIZM_HOME (store and key file) for every test."""
    home = tmp_path / "prizm-home"
    monkeypatch.setenv("PRIZM_HOME", str(home))
    reset_stores()
    forget_all_providers()
    yield home
    forget_all_providers()
    reset_stores()
    state.json = False
    reset_prizm_logging()


def reset_prizm_logging() -> None:
    """Undo ``configure_logging``, so Prizm's records reach caplog and the leak scan.

    The CLI sends them to the standard error of its call, which ``run_cli`` scans
    once when the call returns, and drops records below WARNING.
    """
    prizm_logger = logging.getLogger("prizm")
    for handler in list(prizm_logger.handlers):
        prizm_logger.removeHandler(handler)
    prizm_logger.propagate = True
    prizm_logger.setLevel(logging.NOTSET)


@pytest.fixture
def canaries() -> Canaries:
    return CANARIES


@pytest.fixture(autouse=True)
def leak_scan(
    request: pytest.FixtureRequest,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    prizm_home: Path,
) -> Iterator[None]:
    """After each test, scan what it left in output, logs and the store for canaries."""
    caplog.set_level(logging.DEBUG)
    yield
    captured = capfd.readouterr()
    if request.node.get_closest_marker("reveals_values") is None:
        CANARIES.scan(captured.out, "standard output")
    CANARIES.scan(captured.err, "standard error")
    formatter = logging.Formatter("%(name)s %(message)s")
    for phase in ("setup", "call", "teardown"):
        for record in caplog.get_records(phase):  # type: ignore[arg-type]
            CANARIES.scan(formatter.format(record), f"a log record of {record.name}")
    CANARIES.scan_tree(prizm_home, "the Prizm home directory")


SECRET_KEY_NAMES = re.compile(r"pass|secret|token|private|credential", re.IGNORECASE)
MIN_WATCHED_LENGTH = 12


def watch_secret(value: str | bytes) -> None:
    """Scan for the secret parts of a value a test stores, canary or not.

    A plain-text secret is watched whole; in a JSON object, string fields whose
    names look secret (password, token, ...). Short values are left out, because
    they also occur by chance in logs and output.
    """
    if isinstance(value, bytes):
        return
    try:
        document = json.loads(value)
    except ValueError:
        document = None
    if isinstance(document, dict):
        for key, leaf in document.items():
            secret_name = SECRET_KEY_NAMES.search(str(key))
            if secret_name and isinstance(leaf, str):
                if len(leaf) >= MIN_WATCHED_LENGTH:
                    CANARIES.watch(leaf)
        return
    if document is None and len(value) >= MIN_WATCHED_LENGTH:
        CANARIES.watch(value)


@dataclass
class AwsFixture:
    """moto's endpoint and a boto3 client to arrange secrets with."""

    server: MotoServer
    endpoint: str
    region: str = REGION

    def client(self, service: str = "secretsmanager", region: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.server.url,
            region_name=region or self.region,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key="moto-secret-key",
        )

    def create_secret(
        self, name: str, value: str | bytes, **kwargs: Any
    ) -> dict[str, Any]:
        watch_secret(value)
        parameters: dict[str, Any] = {"Name": name, **kwargs}
        if isinstance(value, bytes):
            parameters["SecretBinary"] = value
        else:
            parameters["SecretString"] = value
        result: dict[str, Any] = self.client().create_secret(**parameters)
        return result

    def put_value(self, name: str, value: str, **kwargs: Any) -> dict[str, Any]:
        watch_secret(value)
        result: dict[str, Any] = self.client().put_secret_value(
            SecretId=name, SecretString=value, **kwargs
        )
        return result

    def add_integration(
        self, name: str | None = None, endpoint: str | None = None, **extra: str
    ) -> str:
        """Add an access-keys integration on moto through the CLI; return its name."""
        args = ["integration", "add", "aws"]
        if name:
            args.append(name)
        args += [
            "--region",
            self.region,
            "--auth",
            "access-keys",
            "--access-key-id",
            ACCESS_KEY_ID,
            "--secret-access-key-stdin",
            "--endpoint-url",
            endpoint or self.endpoint,
            "--allow-http",
        ]
        for option, value in extra.items():
            args += [f"--{option.replace('_', '-')}", value]
        result = run_cli(args, stdin="moto-secret-key\n")
        assert result.status == 0, result.err
        return name or "aws"


@pytest.fixture
def aws(moto: MotoServer) -> AwsFixture:
    """A reset moto server; secrets created here are gone after the test."""
    moto.reset()
    return AwsFixture(server=moto, endpoint=moto.url)


@dataclass
class CliResult:
    status: int
    out: str
    err: str


def run_cli(
    args: list[str],
    *,
    stdin: str = "",
    reveals: bool = False,
    canaries: Canaries = CANARIES,
) -> CliResult:
    """Run ``prizm`` in this process and scan its output for canaries.

    ``reveals`` lets standard output carry a value (``secret get``); standard error
    is always scanned.
    """
    from prizm.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        status = main(args)
    finally:
        sys.stdin, sys.stdout, sys.stderr = old
        state.json = False
        reset_prizm_logging()
    result = CliResult(status, out.getvalue(), err.getvalue())
    if not reveals:
        canaries.scan(result.out, f"standard output of prizm {' '.join(args[:3])}")
    canaries.scan(result.err, f"standard error of prizm {' '.join(args[:3])}")
    return result


def run_cli_process(
    args: list[str],
    *,
    stdin: str = "",
    env: dict[str, str] | None = None,
    reveals: bool = False,
    timeout: float = 120,
) -> CliResult:
    """Run ``prizm`` as a separate process (with the network guard) and scan output."""
    import os

    completed = subprocess.run(
        [sys.executable, "-m", "prizm.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    result = CliResult(completed.returncode, completed.stdout, completed.stderr)
    if not reveals:
        CANARIES.scan(result.out, f"standard output of prizm {' '.join(args[:3])}")
    CANARIES.scan(result.err, f"standard error of prizm {' '.join(args[:3])}")
    return result


@pytest.fixture
def cli() -> Any:
    return run_cli


@pytest.fixture(autouse=True)
def _forget_redaction() -> Iterator[None]:
    yield
    redaction.clear()
