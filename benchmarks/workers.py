"""Benchmark: job runs per minute through the queue, with one and with four workers.

Local servers stand in for the fleet's services. PostgreSQL serves the Prizm store
and the database each job scans, and Redis is the broker. moto's Secrets Manager
stores the login, behind a loopback proxy that counts API calls and adds a fixed
delay to each (one network round trip). Each worker is a ``prizm worker`` process
with a concurrency of 1. For each fleet size, the benchmark queues a batch of runs
and measures the time from the first enqueue until the last run is recorded. A
baseline runs the same job in this process, one run after another, without the
queue. The numbers are written to docs/benchmarks.md. This is a measurement, not
a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
import psycopg
from sqlalchemy import func, select

from devtools.proxy import FaultProxy
from devtools.servers import MotoServer, PostgresServer, RedisServer

REPOSITORY = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
SECRET = "prizm/bench-db"
START_MARK = "<!-- workers benchmark: start -->"
END_MARK = "<!-- workers benchmark: end -->"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SCANNED_SCHEMA = """
create schema sales;
create table public.customers (id bigint primary key, name text not null);
create table sales.orders (
    id bigint primary key,
    customer_id bigint references public.customers (id),
    amount numeric(12, 2) not null
);
insert into public.customers select i, 'c' || i from generate_series(1, 100) i;
analyze;
"""


def prepare_environment(home: Path, pg: PostgresServer, redis: RedisServer) -> None:
    """Point this process and the workers at the local servers, loopback only."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "PRIZM_")):
            del os.environ[name]
    os.environ.update(
        {
            "PRIZM_HOME": str(home),
            "PRIZM_DATABASE_URL": (
                f"postgresql+psycopg://{pg.superuser}:{pg.password}"
                f"@127.0.0.1:{pg.port}/prizm_store"
            ),
            "PRIZM_BROKER_URL": redis.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PRIZM_NETGUARD": "1",
            "PYTHONPATH": str(REPOSITORY / "devtools" / "guard"),
        }
    )


def prepare_data(pg: PostgresServer, moto: MotoServer, proxy: FaultProxy) -> None:
    """Create the store, the scanned database, the secret, integration and connector."""
    from prizm.connector_service import ConnectorService
    from prizm.integrations import IntegrationService
    from prizm.store import open_store

    password = "bench-" + os.urandom(8).hex()
    pg.execute("create database prizm_store")
    pg.execute(f"create role bench_reader login password '{password}'")
    pg.execute("create database scanned owner bench_reader")
    with psycopg.connect(
        pg.dsn("scanned", "bench_reader", password), autocommit=True
    ) as connection:
        connection.execute(SCANNED_SCHEMA)
    boto3.client(
        "secretsmanager",
        endpoint_url=moto.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key="moto-secret-key",
    ).create_secret(
        Name=SECRET,
        SecretString=json.dumps({"username": "bench_reader", "password": password}),
    )
    store = open_store()
    IntegrationService(store).add(
        "aws",
        "aws",
        {
            "region": REGION,
            "auth": "access-keys",
            "access_key_id": ACCESS_KEY_ID,
            "secret_access_key": "moto-secret-key",
            "endpoint_url": proxy.url,
            "allow_http": True,
        },
    )
    ConnectorService(store).add(
        "postgres",
        "bench",
        {
            "host": "127.0.0.1",
            "port": str(pg.port),
            "database": "scanned",
            "username": f"vault://aws/{SECRET}#username",
            "password": f"vault://aws/{SECRET}#password",
            "sslmode": "disable",
        },
    )


def in_process_baseline(runs: int, proxy: FaultProxy) -> dict[str, Any]:
    """Run the job ``runs`` times in this process, one after another."""
    from prizm.jobs import JobService
    from prizm.store import open_store

    jobs = JobService(open_store())
    jobs.run("bench")
    proxy.clear()
    started = time.perf_counter()
    statuses = Counter(jobs.run("bench").status for _ in range(runs))
    seconds = time.perf_counter() - started
    return result_row("in process, no queue", runs, seconds, statuses, proxy)


class WorkerFleet:
    """``prizm worker --concurrency 1`` processes, one log file each."""

    def __init__(self, count: int, directory: Path) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        for index in range(count):
            log_path = directory / f"worker-{count}-{index}.log"
            with open(log_path, "wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "prizm.cli.main",
                            "worker",
                            "--concurrency",
                            "1",
                            "--name",
                            f"bench{index}@%h",
                            "--loglevel",
                            "info",
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        cwd=REPOSITORY,
                    )
                )
            self.logs.append(log_path)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for process, log in zip(self.processes, self.logs, strict=True):
            while " ready." not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker not ready:\n{log.read_text()}")
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def finished_count(run_ids: list[int]) -> int:
    from prizm.store import open_store
    from prizm.store.database import session_scope
    from prizm.store.models import RunRow

    with session_scope(open_store().sessions) as session:
        count = session.scalar(
            select(func.count())
            .select_from(RunRow)
            .where(RunRow.id.in_(run_ids), RunRow.status.in_(("succeeded", "failed")))
        )
    return int(count or 0)


def queued_batch(
    workers: int, runs: int, proxy: FaultProxy, directory: Path
) -> dict[str, Any]:
    """Queue ``runs`` runs for ``workers`` ready workers and time the batch."""
    from prizm.store import open_store
    from prizm.worker.queue import RunQueue

    fleet = WorkerFleet(workers, directory)
    try:
        fleet.wait_ready()
        queue = RunQueue.from_environment(open_store())
        proxy.clear()
        started = time.perf_counter()
        run_ids = [queue.enqueue("bench").id for _ in range(runs)]
        deadline = time.monotonic() + 600
        while finished_count(run_ids) < runs:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{workers} workers did not finish in 600 s")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        fleet.stop()
    records = [open_store().runs.get(run_id) for run_id in run_ids]
    statuses = Counter(record.status for record in records)
    row = result_row(
        f"{workers} worker process{'es' if workers > 1 else ''}",
        runs,
        seconds,
        statuses,
        proxy,
    )
    row["claimed_twice"] = sum(1 for record in records if record.claims != 1)
    return row


def result_row(
    label: str,
    runs: int,
    seconds: float,
    statuses: Counter[str],
    proxy: FaultProxy,
) -> dict[str, Any]:
    calls = proxy.counts()
    row = {
        "label": label,
        "runs": runs,
        "seconds": seconds,
        "runs_per_minute": runs / seconds * 60,
        "calls_per_run": sum(calls.values()) / runs,
        "calls": dict(calls),
        "failed": runs - statuses["succeeded"],
        "claimed_twice": 0,
    }
    print(
        f"{label}: {row['runs_per_minute']:.0f} runs/min "
        f"({runs} runs in {seconds:.1f} s), {row['calls_per_run']:.2f} API calls "
        f"per run {dict(calls)}, {row['failed']} failed",
        flush=True,
    )
    return row


def machine(pg: PostgresServer) -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    redis_version = (
        subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=False
        )
        .stdout.split(" v=")[-1]
        .split(" ")[0]
    )
    with psycopg.connect(pg.dsn()) as connection:
        row = connection.execute("show server_version").fetchone()
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": ", ".join(
            [f"{name} {version(name)}" for name in ("celery", "kombu", "redis")]
            + [
                f"redis-server {redis_version}",
                f"PostgreSQL {row[0] if row else 'unknown'}",
                f"moto {version('moto')}",
            ]
        ),
    }


def markdown(result: dict[str, Any], info: dict[str, str], command: str) -> str:
    rows = "\n".join(
        f"| {row['label']} | {row['runs']} | {row['seconds']:.1f} | "
        f"{row['runs_per_minute']:.0f} | {row['calls_per_run']:.2f} | "
        f"{row['failed']} | {row['claimed_twice']} |"
        for row in result["rows"]
    )
    return f"""{START_MARK}
## Workers

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}` on {info["cpu"]}
({info["cores"]} cores), {info["os"]}, Python {info["python"]}; {info["versions"]}.

One run: resolve two references to one JSON secret in moto's Secrets Manager, behind
a loopback proxy that adds {result["delay_ms"]:.0f} ms to every request, then log
in to PostgreSQL and scan its catalog (2 schemas, 2 tables). Each worker is a
`prizm worker --concurrency 1` process; the store is PostgreSQL and the broker
Redis, all on this machine. Runs per minute count from the first enqueue until the
last run is recorded; API calls are counted at the proxy. Each row is one batch,
not a median, so a repeat gives somewhat different numbers.

| fleet | runs | seconds | runs per minute | API calls per run | failed | claimed >1 |
|---|---|---|---|---|---|---|
{rows}

Every process shares the machine's {info["cores"]} cores with PostgreSQL, Redis,
moto and the proxy, so four workers here measure the cost of the queue and the
claims more than the capacity of four hosts. A run's secrets are read once per run
(one GetSecretValue for both fields), whichever worker runs it.
{END_MARK}"""


def write_docs(section: str) -> Path:
    path = REPOSITORY / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if START_MARK in text and END_MARK in text:
        before = text[: text.index(START_MARK)]
        after = text[text.index(END_MARK) + len(END_MARK) :]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="Runs per fleet size.")
    parser.add_argument(
        "--delay-ms", type=float, default=20.0, help="Delay the proxy adds per call."
    )
    parser.add_argument(
        "--workers", default="1,4", help="Fleet sizes, comma-separated."
    )
    parser.add_argument(
        "--no-write", action="store_true", help="Print only; leave the docs alone."
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="prizm-bench-") as directory:
        work = Path(directory)
        with (
            PostgresServer() as pg,
            RedisServer() as redis,
            MotoServer() as moto,
            FaultProxy(moto.url, delay=args.delay_ms / 1000) as proxy,
        ):
            prepare_environment(work / "home", pg, redis)
            from devtools.netguard import install

            install()
            prepare_data(pg, moto, proxy)
            rows = [in_process_baseline(min(args.runs, 60), proxy)]
            for count in (int(part) for part in args.workers.split(",")):
                rows.append(queued_batch(count, args.runs, proxy, work))
            info = machine(pg)
            from prizm.store.store import reset_stores

            reset_stores()
    result = {"rows": rows, "delay_ms": args.delay_ms}
    section = markdown(result, info, "make bench-workers")
    print(section)
    if not args.no_write:
        print(f"written to {write_docs(section)}")


if __name__ == "__main__":
    main()
