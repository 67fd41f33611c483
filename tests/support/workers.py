"""Redis as the broker, and real ``prizm worker`` and ``prizm scheduler`` processes.

Every process started here inherits this process's environment: the network
guard, ``PRIZM_HOME`` (and so the master key), ``PRIZM_DATABASE_URL`` and
``PRIZM_BROKER_URL``. Each one runs in its own process group, so a test can kill
a worker with its pool processes, and teardown stops whatever is left.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from devtools.servers import RedisServer
from tests.support.canaries import CANARIES

__all__ = [
    "Broker",
    "Fleet",
    "ServiceProcess",
    "broker",
    "fleet",
    "redis_server",
    "wait_for",
]

QUEUE = "prizm"


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server on loopback for the session, without persistence."""
    with RedisServer() as server:
        yield server


@dataclass
class Broker:
    """The Redis broker of one test, and a client to read its raw content."""

    server: RedisServer
    client: redis.Redis

    @property
    def url(self) -> str:
        return self.server.url

    def queued_messages(self) -> list[bytes]:
        """Return the raw messages waiting in the ``prizm`` queue, oldest first."""
        raw: list[bytes] = self.client.lrange(QUEUE, 0, -1)
        return list(reversed(raw))

    def unacked(self) -> dict[bytes, bytes]:
        """Return the messages delivered to a worker and not yet acknowledged."""
        return dict(self.client.hgetall("unacked"))

    def everything(self) -> bytes:
        """Return the content of every key, for the leak scan."""
        chunks: list[bytes] = []
        for key in self.client.keys("*"):
            kind = self.client.type(key)
            chunks.append(key)
            if kind == b"string":
                chunks.append(self.client.get(key) or b"")
            elif kind == b"list":
                chunks.extend(self.client.lrange(key, 0, -1))
            elif kind == b"hash":
                for name, value in self.client.hgetall(key).items():
                    chunks += [name, value]
            elif kind == b"set":
                chunks.extend(self.client.smembers(key))
            elif kind == b"zset":
                chunks.extend(self.client.zrange(key, 0, -1))
        return b"\n".join(chunks)


def message_body(raw: bytes) -> Any:
    """Decode a kombu message from Redis: its JSON envelope and base64 body."""
    envelope = json.loads(raw)
    assert envelope["properties"]["body_encoding"] == "base64"
    return json.loads(base64.b64decode(envelope["body"]))


def scan_broker(current: Broker, where: str = "the Redis broker") -> None:
    """Scan every key of the broker, raw and with message bodies decoded."""
    content = current.everything()
    CANARIES.scan(content, where)
    for raw in current.client.lrange(QUEUE, 0, -1):
        CANARIES.scan(json.dumps(message_body(raw)), f"a message body in {where}")
    for raw in current.unacked().values():
        envelope = json.dumps(json.loads(raw)[0]).encode()
        CANARIES.scan(
            json.dumps(message_body(envelope)), f"an unacknowledged message in {where}"
        )


@pytest.fixture
def broker(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Broker]:
    """An empty broker for this test, set in ``PRIZM_BROKER_URL``."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    monkeypatch.setenv("PRIZM_BROKER_URL", redis_server.url)
    current = Broker(redis_server, client)
    yield current
    scan_broker(current)
    client.flushall()
    client.close()


@dataclass
class ServiceProcess:
    """A ``prizm worker`` or ``prizm scheduler`` process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until Celery reports the worker ready to take messages."""
        wait_for(
            lambda: f"{self.name} ready." in self.log() or self._exited(),
            timeout,
            f"worker {self.name} to be ready",
        )
        assert self.process.poll() is None, f"{self.name} exited:\n{self.log()}"

    def _exited(self) -> bool:
        return self.process.poll() is not None

    def kill(self) -> None:
        """Kill the whole process group (the worker and its pool) with SIGKILL."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        """Stop with SIGTERM (a warm shutdown), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # The pool processes of a killed worker may outlive it briefly.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class Fleet:
    """Starts worker and scheduler processes for one test and stops them after."""

    directory: Path
    processes: list[ServiceProcess] = field(default_factory=list)

    def _start(
        self, name: str, args: list[str], env: dict[str, str] | None
    ) -> ServiceProcess:
        log_path = self.directory / f"{name.split('@')[0]}.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "prizm.cli.main", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        log.close()
        service = ServiceProcess(name, process, log_path)
        self.processes.append(service)
        return service

    def worker(
        self,
        name: str,
        concurrency: int = 1,
        env: dict[str, str] | None = None,
        wait: bool = True,
        pool: str = "prefork",
    ) -> ServiceProcess:
        """Start ``prizm worker`` with node name ``name@test``."""
        node = f"{name}@test"
        args = ["worker", "--concurrency", str(concurrency), "--name", node]
        args += ["--pool", pool]
        service = self._start(node, args, env)
        if wait:
            service.wait_ready()
        return service

    def scheduler(
        self, name: str, tick: float = 0.2, env: dict[str, str] | None = None
    ) -> ServiceProcess:
        """Start ``prizm scheduler`` ticking every ``tick`` seconds."""
        return self._start(name, ["scheduler", "--tick", str(tick)], env)

    def stop(self) -> None:
        for service in self.processes:
            service.stop()
        for service in self.processes:
            CANARIES.scan(service.log(), f"the log of {service.name}")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """Worker and scheduler processes, stopped and their logs scanned at teardown."""
    directory = tmp_path / "fleet"
    directory.mkdir()
    current = Fleet(directory)
    yield current
    current.stop()
