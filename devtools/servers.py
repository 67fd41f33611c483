"""Local servers on loopback for tests, the demo and the benchmarks.

* ``MotoServer``: moto's AWS emulator over HTTP, in its own process.
* ``PostgresServer``: a real PostgreSQL with password (SCRAM) authentication over TCP,
  from Debian's binaries when installed, else from the ``pgserver`` wheel.
* ``RedisServer``: Debian's ``redis-server``, without persistence, as the broker of
  Prizm's workers.

Each server binds 127.0.0.1 on a free port and is stopped (process group killed) by
``stop()`` or when used as a context manager.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["MotoServer", "PostgresServer", "RedisServer", "free_port", "wait_for_port"]

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[Any] | None, timeout: float = 30
) -> None:
    """Wait until something accepts connections on ``port``, or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"server process exited with status {process.returncode}"
            )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout} s")


def _stop_process(process: subprocess.Popen[Any] | None, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


def _bin(name: str) -> str:
    """Return the path of a console script of this virtual environment."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed; run make test or make demo")
    return found


class MotoServer:
    """moto's server (``moto_server``) on a free loopback port."""

    def __init__(self, port: int | None = None, log_path: str | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> MotoServer:
        log = open(self.log_path or os.devnull, "ab")
        env = dict(os.environ)
        env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        self.process = subprocess.Popen(
            [_bin("moto_server"), "-H", HOST, "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        log.close()
        wait_for_port(self.port, self.process)
        return self

    def reset(self) -> None:
        """Forget every resource moto holds."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        _stop_process(self.process)
        self.process = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _postgres_bindir() -> str:
    """Find PostgreSQL server binaries: PRIZM_PG_BINDIR, Debian's, or pgserver's."""
    configured = os.environ.get("PRIZM_PG_BINDIR")
    if configured:
        return configured
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit() else 0,
    )
    if debian:
        return str(Path(debian[-1]).parent)
    try:
        import pgserver  # type: ignore[import-untyped]
    except ImportError as exc:
        raise FileNotFoundError(
            "no PostgreSQL binaries: install the pgserver wheel or Debian's postgresql"
        ) from exc
    return str(Path(pgserver.__file__).parent / "pginstall" / "bin")


def _service_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: return an unprivileged user to run it as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "prizmpg"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "prizmpg",
        ],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam("prizmpg")


class PostgresServer:
    """A throwaway PostgreSQL cluster with SCRAM password authentication over TCP."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.superuser = "prizm_admin"
        self.password = "admin-" + secrets.token_urlsafe(12)
        self.directory: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.bindir = _postgres_bindir()
        self.user = _service_user()

    def _run_as(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def start(self) -> PostgresServer:
        self.directory = tempfile.mkdtemp(prefix="prizm-pg-")
        data = Path(self.directory) / "data"
        password_file = Path(self.directory) / "pw"
        password_file.write_text(self.password + "\n")
        if self.user is not None:
            os.chown(self.directory, self.user.pw_uid, self.user.pw_gid)
            os.chown(password_file, self.user.pw_uid, self.user.pw_gid)
        os.chmod(password_file, 0o600)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        subprocess.run(
            [
                f"{self.bindir}/initdb",
                "-D",
                str(data),
                "-U",
                self.superuser,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            env=env,
            **self._run_as(),
        )
        log_path = Path(self.directory) / "postgres.log"
        log = open(log_path, "ab")
        if self.user is not None:
            os.chown(log_path, self.user.pw_uid, self.user.pw_gid)
        self.process = subprocess.Popen(
            [
                f"{self.bindir}/postgres",
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                f"unix_socket_directories={self.directory}",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            **self._run_as(),
        )
        log.close()
        wait_for_port(self.port, self.process)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def dsn(
        self,
        database: str = "postgres",
        user: str | None = None,
        password: str | None = None,
    ) -> str:
        """Return a libpq connection string (key=value form) for a login."""
        user = user or self.superuser
        password = self.password if password is None else password
        quoted = password.replace("\\", "\\\\").replace("'", "\\'")
        return (
            f"host={HOST} port={self.port} dbname={database} user={user} "
            f"password='{quoted}'"
        )

    def execute(self, sql: str, params: Any = None, database: str = "postgres") -> None:
        """Run one statement as the superuser, in autocommit mode."""
        import psycopg

        with psycopg.connect(self.dsn(database), autocommit=True) as connection:
            connection.execute(sql, params)  # type: ignore[arg-type]

    def stop(self) -> None:
        _stop_process(self.process)
        self.process = None
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """``redis-server`` on a free loopback port, keeping nothing on disk."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory: str | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker URL, database 0."""
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(
                "redis-server is not installed; make test installs it with "
                "apt-get install redis-server"
            )
        self.directory = tempfile.mkdtemp(prefix="prizm-redis-")
        log = open(Path(self.directory) / "redis.log", "ab")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
                "--protected-mode",
                "yes",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        _stop_process(self.process)
        self.process = None
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
