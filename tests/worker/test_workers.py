"""Queued runs executed by real ``prizm worker`` processes over Redis.

The store is a PostgreSQL database shared by every process, secrets come from
moto's Secrets Manager, and each connector scans a real PostgreSQL database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devtools.servers import free_port
from prizm.connector_service import ConnectorService
from prizm.integrations import IntegrationService
from prizm.store import open_store
from prizm.store.runs import RunRecord
from prizm.store.store import reset_stores
from prizm.worker.app import celery_app
from prizm.worker.queue import CeleryPublisher, RunQueue
from tests.support.canaries import Canaries
from tests.support.fixtures import ACCESS_KEY_ID, AwsFixture, run_cli
from tests.support.postgres import Database, StoreDatabase
from tests.support.workers import Broker, Fleet, message_body, wait_for

SECRET = "prizm/analytics"
FINISHED = ("succeeded", "failed")


def add_connector(
    aws: AwsFixture, database: Database, secret_access_key: str | None = None
) -> str:
    """Store the database's login in moto and add a connector; return the version.

    With ``secret_access_key``, the integration is added with that key (moto
    accepts any), so a canary can stand for the integration's credential.
    """
    if secret_access_key is None:
        aws.add_integration()
    else:
        IntegrationService(open_store()).add(
            "aws",
            "aws",
            {
                "region": aws.region,
                "auth": "access-keys",
                "access_key_id": ACCESS_KEY_ID,
                "secret_access_key": secret_access_key,
                "endpoint_url": aws.endpoint,
                "allow_http": True,
            },
        )
    created = aws.create_secret(SECRET, json.dumps(database.secret_json()))
    ConnectorService(open_store()).add(
        "postgres",
        "analytics",
        {
            "host": database.host,
            "port": str(database.port),
            "database": database.name,
            "username": f"vault://aws/{SECRET}#username",
            "password": f"vault://aws/{SECRET}#password",
            "sslmode": "disable",
        },
    )
    return str(created["VersionId"])


def rotate(aws: AwsFixture, database: Database, password: str) -> str:
    database.set_password(password)
    return str(aws.put_value(SECRET, json.dumps(database.secret_json()))["VersionId"])


def enqueue(count: int) -> list[int]:
    queue = RunQueue.from_environment(open_store())
    return [queue.enqueue("analytics").id for _ in range(count)]


def runs(run_ids: list[int]) -> list[RunRecord]:
    return [open_store().runs.get(run_id) for run_id in run_ids]


def wait_finished(run_ids: list[int], timeout: float = 180) -> list[RunRecord]:
    wait_for(
        lambda: all(record.status in FINISHED for record in runs(run_ids)),
        timeout,
        f"{len(run_ids)} runs to finish",
        interval=0.25,
    )
    return runs(run_ids)


def node(record: RunRecord) -> str:
    assert record.worker is not None
    return record.worker.split("@")[0]


def scheduler_tick() -> dict[str, Any]:
    result = run_cli(["scheduler", "--once", "--json"])
    assert result.status == 0, result.err
    report: dict[str, Any] = json.loads(result.out)
    return report


def finished_after_tick(run_id: int) -> bool:
    """Run one scheduler tick, then return whether the run has finished."""
    scheduler_tick()
    return open_store().runs.get(run_id).status in FINISHED


def active_tasks(node: str) -> list[dict[str, Any]]:
    """Ask a worker for its running tasks with ``celery inspect``, as Flower does."""
    celery = Path(sys.executable).parent / "celery"
    completed = subprocess.run(
        [
            *(str(celery), "-A", "prizm.worker.app", "inspect", "active"),
            *("--json", "--destination", node, "--timeout", "10"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    replies: dict[str, list[dict[str, Any]]] = json.loads(completed.stdout)
    return replies[node]


class CatalogLock:
    """Holds pg_namespace locked in the scanned database, so a catalog scan blocks."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.connection = psycopg.connect(database.server.dsn(database.name))
        self.connection.execute(
            "lock table pg_catalog.pg_namespace in access exclusive mode"
        )

    def blocked_scans(self) -> int:
        """Return how many of the connector's sessions wait for the lock."""
        with psycopg.connect(self.database.server.dsn(), autocommit=True) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity "
                "where datname = %s and usename = %s and wait_event_type = 'Lock'",
                (self.database.name, self.database.user),
            ).fetchone()
        return int(row[0]) if row else 0

    def release(self) -> None:
        if not self.connection.closed:
            self.connection.rollback()
            self.connection.close()


@pytest.fixture
def catalog_lock(database: Database) -> Iterator[CatalogLock]:
    lock = CatalogLock(database)
    yield lock
    lock.release()


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2-second lease for this process and the workers it starts."""
    monkeypatch.setenv("PRIZM_RUN_LEASE_SECONDS", "2")


class TestFleet:
    def test_fifty_runs_across_two_workers(
        self,
        aws: AwsFixture,
        database: Database,
        pg_store: StoreDatabase,
        broker: Broker,
        fleet: Fleet,
    ) -> None:
        version = add_connector(aws, database)
        fleet.worker("w1", concurrency=2)
        fleet.worker("w2", concurrency=2, pool="threads")  # both pools are supported

        run_ids = enqueue(50)
        records = wait_finished(run_ids)

        failed = [(r.id, r.error_message) for r in records if r.status != "succeeded"]
        assert failed == []
        assert {node(record) for record in records} == {"w1", "w2"}
        for record in records:
            assert record.claims == 1, f"run {record.id} was claimed twice"
            assert sorted(use.field for use in record.fields) == [
                "password",
                "username",
            ]
            assert {use.version_id for use in record.fields} == {version}
        assert len(open_store().runs.recent("analytics", limit=100)) == 50
        wait_for(
            lambda: not broker.unacked() and not broker.queued_messages(),
            timeout=30,
            what="every message to be acknowledged",
        )

    def test_rotated_secret_reaches_next_run_on_any_worker(
        self,
        aws: AwsFixture,
        database: Database,
        pg_store: StoreDatabase,
        broker: Broker,
        fleet: Fleet,
        canaries: Canaries,
    ) -> None:
        first_version = add_connector(aws, database)
        fleet.worker("w1")
        fleet.worker("w2")
        before = wait_finished(enqueue(4))

        second_version = rotate(aws, database, canaries.make("rotated-password"))
        after = wait_finished(enqueue(6))

        for record in before:
            assert record.status == "succeeded", record.error_message
            assert {use.version_id for use in record.fields} == {first_version}
        for record in after:
            assert record.status == "succeeded", record.error_message
            assert {use.version_id for use in record.fields} == {second_version}
            assert all(use.attempt == 1 for use in record.fields)
        canaries.scan(pg_store.rows_as_text(), "the PostgreSQL store")


class TestMessages:
    def test_messages_carry_only_the_run_id(
        self,
        aws: AwsFixture,
        database: Database,
        pg_store: StoreDatabase,
        broker: Broker,
        fleet: Fleet,
        canaries: Canaries,
    ) -> None:
        add_connector(aws, database, canaries.make_plain("secret-access-key"))
        rotate(aws, database, canaries.make("queued-password"))

        queued = []
        for _ in range(3):
            result = run_cli(["run", "analytics", "--queue", "--json"])
            assert result.status == 0, result.err
            queued.append(json.loads(result.out))
        listing = run_cli(["runs", "--status", "queued"])

        assert [record["status"] for record in queued] == ["queued"] * 3
        assert "waiting" in listing.out
        messages = broker.queued_messages()
        assert len(messages) == 3
        for raw, record in zip(messages, queued, strict=True):
            canaries.scan(raw, "a raw message in Redis")
            args, kwargs, _ = message_body(raw)
            assert args == [record["id"]]
            assert kwargs == {}
            envelope = json.loads(raw)
            assert envelope["headers"]["task"] == "prizm.run"
            assert envelope["headers"]["argsrepr"] == repr([record["id"]])

        fleet.worker("w1")
        records = wait_finished([record["id"] for record in queued])

        assert [record.status for record in records] == ["succeeded"] * 3
        canaries.scan(broker.everything(), "Redis after the runs")
        canaries.scan(pg_store.rows_as_text(), "the PostgreSQL store")

    def test_unreachable_broker_fails_the_run(
        self,
        pg_store: StoreDatabase,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        open_store().connectors.add("analytics", "postgres", {"host": "127.0.0.1"})
        monkeypatch.setenv("PRIZM_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")

        result = run_cli(["run", "analytics", "--queue"])

        assert result.status == 1
        assert result.err.startswith("error[broker_unavailable]")
        assert "PRIZM_BROKER_URL" in result.err
        [record] = open_store().runs.recent("analytics")
        assert record.status == "failed"
        assert record.error_code == "broker_unavailable"


class TestLostWorker:
    def block_run(
        self, fleet: Fleet, catalog_lock: CatalogLock, env: dict[str, str] | None = None
    ) -> RunRecord:
        """Start worker w1, queue a run and wait until its scan waits for the lock."""
        fleet.worker("w1", env=env)
        [run_id] = enqueue(1)
        wait_for(catalog_lock.blocked_scans, timeout=60, what="the scan to block")
        record = open_store().runs.get(run_id)
        assert record.status == "running"
        assert node(record) == "w1"
        return record

    def test_killed_worker_run_is_retried_elsewhere(
        self,
        aws: AwsFixture,
        database: Database,
        pg_store: StoreDatabase,
        broker: Broker,
        fleet: Fleet,
        catalog_lock: CatalogLock,
        short_lease: None,
    ) -> None:
        add_connector(aws, database)
        blocked = self.block_run(fleet, catalog_lock)
        listing = run_cli(["runs", "--status", "running"])
        [active] = active_tasks("w1@test")

        fleet.processes[0].kill()
        assert open_store().runs.get(blocked.id).status == "running"
        catalog_lock.release()
        fleet.worker("w2")
        wait_for(
            lambda: finished_after_tick(blocked.id),
            timeout=90,
            what="the lost run to be queued again and finished",
            interval=0.5,
        )
        record = open_store().runs.get(blocked.id)

        assert "w1@test" in listing.out
        assert "heartbeat" in listing.out
        assert active["name"] == "prizm.run"
        assert active["args"] == [blocked.id]
        assert record.status == "succeeded", record.error_message
        assert record.claims == 2
        assert node(record) == "w2"
        assert sorted(use.field for use in record.fields) == ["password", "username"]
        assert len(open_store().runs.recent("analytics")) == 1

        RunQueue.from_environment(open_store()).dispatch([record.id])
        wait_for(
            lambda: "reason=succeeded" in fleet.processes[1].log(),
            timeout=60,
            what="the repeated message to be skipped",
        )
        assert open_store().runs.get(record.id) == record

    def test_killed_pool_process_run_is_retried(
        self,
        aws: AwsFixture,
        database: Database,
        pg_store: StoreDatabase,
        broker: Broker,
        fleet: Fleet,
        catalog_lock: CatalogLock,
        short_lease: None,
    ) -> None:
        add_connector(aws, database)
        blocked = self.block_run(fleet, catalog_lock)
        assert blocked.worker is not None
        pool_process = int(blocked.worker.rsplit(":", 1)[1])

        os.kill(pool_process, signal.SIGKILL)
        catalog_lock.release()
        wait_for(
            lambda: finished_after_tick(blocked.id),
            timeout=90,
            what="the run to be retried by a new pool process",
            interval=0.5,
        )
        record = open_store().runs.get(blocked.id)

        assert record.status == "succeeded", record.error_message
        assert record.claims == 2
        assert node(record) == "w1"
        assert record.worker != blocked.worker
        assert sorted(use.field for use in record.fields) == ["password", "username"]

    def test_run_fails_as_worker_lost_at_max_claims(
        self,
        aws: AwsFixture,
        database: Database,
        pg_store: StoreDatabase,
        broker: Broker,
        fleet: Fleet,
        catalog_lock: CatalogLock,
        short_lease: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("PRIZM_RUN_MAX_CLAIMS", "1")
        add_connector(aws, database)
        blocked = self.block_run(fleet, catalog_lock)

        fleet.processes[0].kill()
        catalog_lock.release()
        wait_for(
            lambda: blocked.id in scheduler_tick()["worker_lost"],
            timeout=60,
            what="the run to fail as worker_lost",
            interval=0.5,
        )
        record = open_store().runs.get(blocked.id)
        shown = run_cli(["runs", "--id", str(blocked.id)])

        assert record.status == "failed"
        assert record.error_code == "worker_lost"
        assert record.fields == []
        assert "error[worker_lost]" in shown.out
        assert "w1@test" in shown.out


class TestStoreOutage:
    def test_message_waits_for_the_store(
        self,
        aws: AwsFixture,
        database: Database,
        pg_store: StoreDatabase,
        broker: Broker,
        fleet: Fleet,
    ) -> None:
        add_connector(aws, database)
        worker = fleet.worker("w1")
        store = open_store()
        run_id = store.runs.create(store.connectors.get("analytics"), "queued")
        reset_stores()
        admin = pg_store.server
        admin.execute(f'alter database "{pg_store.name}" allow_connections false')
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (pg_store.name,),
        )

        publisher = CeleryPublisher(celery_app(), broker.url)
        publisher.publish(run_id)
        wait_for(
            lambda: "store unreachable, retrying" in worker.log(),
            timeout=60,
            what="the worker to retry",
        )
        admin.execute(f'alter database "{pg_store.name}" allow_connections true')
        [record] = wait_finished([run_id])

        assert record.status == "succeeded", record.error_message
        assert record.claims == 1
        assert node(record) == "w1"
