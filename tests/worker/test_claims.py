"""The claim protocol on a PostgreSQL store: claims, leases, heartbeats, takeovers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from prizm.store import Store, open_store
from prizm.store.database import create_store_engine
from prizm.store.runs import FieldUse, RunOwner
from prizm.worker.claims import Claimed, ClaimRepository, NotClaimed
from prizm.worker.execution import Heartbeat, execute_queued_run
from prizm.worker.settings import WorkerSettings
from tests.support.postgres import StoreDatabase
from tests.support.workers import wait_for

SETTINGS = WorkerSettings(lease_seconds=30, max_claims=2)

USE = FieldUse(
    field="password",
    reference="vault://aws/prizm/analytics#password",
    integration="aws",
    secret_id="arn:aws:secretsmanager:us-east-1:123456789012:secret:prizm/analytics",
    version_id="v1",
    outcome="ok",
)


@pytest.fixture
def store(pg_store: StoreDatabase) -> Store:
    opened = open_store()
    opened.connectors.add(
        "analytics", "postgres", {"host": "127.0.0.1", "database": "analytics"}
    )
    return opened


def queued_run(store: Store) -> int:
    return store.runs.create(store.connectors.get("analytics"), status="queued")


def expire_lease(pg_store: StoreDatabase, run_id: int) -> None:
    pg_store.execute(
        "update runs set lease_expires_at = now() - interval '1 second' where id = %s",
        (run_id,),
    )


def claim(store: Store, run_id: int, worker: str, **settings: float) -> object:
    repository = ClaimRepository(store, replace(SETTINGS, **settings))
    return repository.claim(run_id, worker)


class TestClaim:
    def test_queued_run_is_claimed_once(self, store: Store) -> None:
        run_id = queued_run(store)

        first = claim(store, run_id, "w1:1")
        second = claim(store, run_id, "w2:2")

        assert isinstance(first, Claimed)
        assert first.owner == RunOwner("w1:1", 1)
        assert first.connector == "analytics"
        assert second == NotClaimed(run_id, "claimed")
        record = store.runs.get(run_id)
        assert record.status == "running"
        assert record.worker == "w1:1"
        assert record.claims == 1
        assert record.lease_expires_at is not None
        assert record.started_at is not None

    def test_missing_run_is_not_claimed(self, store: Store) -> None:
        assert claim(store, 999_999, "w1:1") == NotClaimed(999_999, "missing")

    def test_finished_run_is_not_claimed_again(self, store: Store) -> None:
        run_id = queued_run(store)
        first = claim(store, run_id, "w1:1")
        assert isinstance(first, Claimed)
        store.runs.finish(run_id, status="succeeded", owner=first.owner)

        again = claim(store, run_id, "w2:2")

        assert again == NotClaimed(run_id, "succeeded")
        assert store.runs.get(run_id).worker == "w1:1"

    def test_concurrent_claims_have_one_winner(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        run_id = queued_run(store)
        stores = [Store(create_store_engine(pg_store.url)) for _ in range(6)]
        barrier = threading.Barrier(len(stores))
        outcomes: list[object] = []

        def contend(index: int) -> None:
            barrier.wait()
            outcomes.append(claim(stores[index], run_id, f"w{index}:{index}"))

        threads = [
            threading.Thread(target=contend, args=(i,)) for i in range(len(stores))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for opened in stores:
            opened.close()

        winners = [outcome for outcome in outcomes if isinstance(outcome, Claimed)]
        assert len(winners) == 1
        assert store.runs.get(run_id).claims == 1

    def test_expired_lease_is_reclaimed(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        run_id = queued_run(store)
        first = claim(store, run_id, "w1:1")
        assert isinstance(first, Claimed)
        assert store.runs.record_fields(run_id, [USE], first.owner)
        expire_lease(pg_store, run_id)

        second = claim(store, run_id, "w2:2")

        assert isinstance(second, Claimed)
        assert second.owner == RunOwner("w2:2", 2)
        record = store.runs.get(run_id)
        assert record.worker == "w2:2"
        assert record.fields == [], "the lost claim's field uses are dropped"

    def test_lost_owner_records_nothing(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        run_id = queued_run(store)
        first = claim(store, run_id, "w1:1")
        assert isinstance(first, Claimed)
        expire_lease(pg_store, run_id)
        second = claim(store, run_id, "w2:2")
        assert isinstance(second, Claimed)

        fields_stored = store.runs.record_fields(run_id, [USE], first.owner)
        finished = store.runs.finish(run_id, status="failed", owner=first.owner)

        assert not fields_stored
        assert not finished
        record = store.runs.get(run_id)
        assert record.status == "running"
        assert record.fields == []
        assert store.runs.finish(run_id, status="succeeded", owner=second.owner)
        assert store.runs.get(run_id).status == "succeeded"

    def test_expired_lease_at_max_claims_is_worker_lost(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        run_id = queued_run(store)
        assert isinstance(claim(store, run_id, "w1:1", max_claims=1), Claimed)
        expire_lease(pg_store, run_id)

        outcome = claim(store, run_id, "w2:2", max_claims=1)

        assert outcome == NotClaimed(run_id, "worker_lost")
        record = store.runs.get(run_id)
        assert record.status == "failed"
        assert record.error_code == "worker_lost"
        assert record.error_message is not None
        assert "w1:1" in record.error_message
        assert "prizm run analytics --queue" in record.error_message
        assert record.finished_at is not None


class TestHeartbeat:
    def test_heartbeat_extends_lease(self, store: Store) -> None:
        run_id = queued_run(store)
        first = claim(store, run_id, "w1:1")
        assert isinstance(first, Claimed)
        before = store.runs.get(run_id).lease_expires_at
        assert before is not None

        renewed = ClaimRepository(store, SETTINGS).heartbeat(run_id, first.owner)

        assert renewed
        after = store.runs.get(run_id).lease_expires_at
        assert after is not None
        assert after >= before

    def test_heartbeat_after_takeover_fails(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        run_id = queued_run(store)
        first = claim(store, run_id, "w1:1")
        assert isinstance(first, Claimed)
        expire_lease(pg_store, run_id)
        assert isinstance(claim(store, run_id, "w2:2"), Claimed)

        renewed = ClaimRepository(store, SETTINGS).heartbeat(run_id, first.owner)

        assert not renewed
        assert store.runs.get(run_id).worker == "w2:2"

    def test_heartbeat_thread_renews_while_running(self, store: Store) -> None:
        run_id = queued_run(store)
        first = claim(store, run_id, "w1:1")
        assert isinstance(first, Claimed)
        started = store.runs.get(run_id).heartbeat_at
        claims = ClaimRepository(store, SETTINGS)

        with Heartbeat(claims, run_id, first.owner, interval=0.05):
            wait_for(
                lambda: store.runs.get(run_id).heartbeat_at != started,
                timeout=10,
                what="a heartbeat",
            )

        assert store.runs.get(run_id).status == "running"


class TestRecoverExpired:
    def test_expired_run_is_queued_again(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        run_id = queued_run(store)
        first = claim(store, run_id, "w1:1")
        assert isinstance(first, Claimed)
        store.runs.record_fields(run_id, [USE], first.owner)
        expire_lease(pg_store, run_id)

        recovered = ClaimRepository(store, SETTINGS).recover_expired()

        assert recovered.requeued == [run_id]
        assert recovered.lost == []
        record = store.runs.get(run_id)
        assert record.status == "queued"
        assert record.worker is None
        assert record.lease_expires_at is None
        assert record.claims == 1
        assert record.fields == []

    def test_live_lease_is_left_alone(self, store: Store) -> None:
        run_id = queued_run(store)
        assert isinstance(claim(store, run_id, "w1:1"), Claimed)

        recovered = ClaimRepository(store, SETTINGS).recover_expired()

        assert recovered.requeued == []
        assert recovered.lost == []
        assert store.runs.get(run_id).status == "running"

    def test_expired_run_at_max_claims_fails(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        run_id = queued_run(store)
        assert isinstance(claim(store, run_id, "w1:1"), Claimed)
        expire_lease(pg_store, run_id)
        assert isinstance(claim(store, run_id, "w2:2"), Claimed)
        expire_lease(pg_store, run_id)

        recovered = ClaimRepository(store, SETTINGS).recover_expired()

        assert recovered.lost == [run_id]
        record = store.runs.get(run_id)
        assert record.status == "failed"
        assert record.error_code == "worker_lost"

    def test_run_in_a_local_process_is_never_recovered(self, store: Store) -> None:
        run_id = store.runs.create(store.connectors.get("analytics"), status="running")

        recovered = ClaimRepository(store, SETTINGS).recover_expired()

        assert recovered.requeued == []
        assert store.runs.get(run_id).status == "running"


class TestExecuteQueuedRun:
    def test_removed_connector_fails_the_run(self, store: Store) -> None:
        run_id = queued_run(store)
        store.connectors.remove("analytics")

        outcome = execute_queued_run(store, run_id, "w1:1", SETTINGS)

        assert outcome == "failed"
        record = store.runs.get(run_id)
        assert record.error_code == "unknown_connector"
        assert record.claims == 1

    def test_finished_run_is_skipped(self, store: Store) -> None:
        run_id = queued_run(store)
        first = claim(store, run_id, "w1:1")
        assert isinstance(first, Claimed)
        store.runs.finish(run_id, status="succeeded", owner=first.owner)

        outcome = execute_queued_run(store, run_id, "w2:2", SETTINGS)

        assert outcome == "skipped: succeeded"
        assert store.runs.get(run_id).claims == 1


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    before = {thread.name for thread in threading.enumerate()}
    yield
    heartbeats = {
        thread.name
        for thread in threading.enumerate()
        if thread.name.startswith("prizm-heartbeat") and thread.name not in before
    }
    assert not heartbeats, f"heartbeat threads left running: {heartbeats}"
