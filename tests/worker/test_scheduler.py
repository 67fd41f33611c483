"""The scheduler: due runs queued once by any number of schedulers, and dispatch."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from prizm.schedules import ScheduleService, next_slot
from prizm.store import Store, open_store
from prizm.store.database import create_store_engine, session_scope
from prizm.store.models import RunRow
from prizm.worker.queue import RunQueue
from tests.support.fixtures import run_cli
from tests.support.postgres import StoreDatabase
from tests.support.workers import Broker, Fleet, message_body, wait_for

CONNECTORS = [f"source-{index}" for index in range(5)]


@pytest.fixture
def store(pg_store: StoreDatabase) -> Store:
    opened = open_store()
    for name in CONNECTORS:
        opened.connectors.add(name, "postgres", {"host": "127.0.0.1"})
        ScheduleService(opened).set(name, "0 * * * *", "Europe/Paris")
    return opened


def make_due(pg_store: StoreDatabase, slot: datetime) -> None:
    """Move every schedule's next slot to ``slot``, as if that time had come."""
    pg_store.execute("update schedules set next_run_at = %s", (slot,))


def scheduled_runs(store: Store) -> list[tuple[str, datetime | None]]:
    with session_scope(store.sessions) as session:
        rows = session.execute(
            RunRow.__table__.select().where(RunRow.scheduled_for.is_not(None))
        ).all()
        return sorted((row.connector_name, row.scheduled_for) for row in rows)


def past_slot(minutes: int) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes)


class TestEnqueueDue:
    def test_due_schedule_queues_one_run(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        slot = past_slot(1)
        make_due(pg_store, slot)
        service = ScheduleService(store)

        first = service.enqueue_due()
        second = service.enqueue_due()

        assert len(first) == len(CONNECTORS)
        assert second == []
        runs = scheduled_runs(store)
        assert runs == [(name, slot) for name in CONNECTORS]
        for run_id in first:
            assert store.runs.get(run_id).status == "queued"
        for record in service.by_connector().values():
            assert record.next_run_at > slot
            assert record.next_run_at.astimezone(UTC).minute == 0

    def test_missed_slots_queue_one_run(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        first_missed = past_slot(5 * 60)
        make_due(pg_store, first_missed)

        created = ScheduleService(store).enqueue_due()

        assert len(created) == len(CONNECTORS)
        assert scheduled_runs(store) == [(name, first_missed) for name in CONNECTORS]
        for record in ScheduleService(store).by_connector().values():
            assert record.next_run_at > datetime.now(UTC)

    def test_racing_schedulers_queue_each_slot_once(
        self, store: Store, pg_store: StoreDatabase
    ) -> None:
        schedulers = [Store(create_store_engine(pg_store.url)) for _ in range(2)]
        rounds = 15
        created: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def tick(opened: Store, barrier: threading.Barrier) -> None:
            barrier.wait()
            try:
                ids = opened.schedules.enqueue_due(next_slot)
            except BaseException as exc:  # noqa: BLE001 - reported by the assert
                errors.append(exc)
                return
            with lock:
                created.extend(ids)

        for index in range(rounds):
            make_due(pg_store, past_slot(10 + index))
            barrier = threading.Barrier(len(schedulers))
            threads = [
                threading.Thread(target=tick, args=(opened, barrier))
                for opened in schedulers
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for opened in schedulers:
            opened.close()

        assert errors == []
        runs = scheduled_runs(store)
        assert len(runs) == rounds * len(CONNECTORS)
        assert len(set(runs)) == len(runs), "a connector got two runs for one slot"
        assert len(set(created)) == len(created) == len(runs)

    def test_unique_index_rejects_second_run_for_slot(self, store: Store) -> None:
        connector = store.connectors.get(CONNECTORS[0])
        slot = past_slot(3)

        def insert() -> None:
            with session_scope(store.sessions) as session:
                session.add(
                    RunRow(
                        connector_id=connector.id,
                        connector_name=connector.name,
                        connector_type=connector.type,
                        status="queued",
                        scheduled_for=slot,
                    )
                )

        insert()
        with pytest.raises(IntegrityError):
            insert()


class TestDispatch:
    def test_never_dispatched_run_is_sent(self, store: Store, broker: Broker) -> None:
        run_id = store.runs.create(store.connectors.get(CONNECTORS[0]), "queued")
        queue = RunQueue.from_environment(store)

        sent = queue.dispatch_pending(grace_seconds=0)
        again = queue.dispatch_pending(grace_seconds=0)

        assert sent == [run_id]
        assert again == []
        messages = broker.queued_messages()
        assert len(messages) == 1
        assert message_body(messages[0])[0] == [run_id]

    def test_recent_run_waits_for_the_grace_period(
        self, store: Store, broker: Broker
    ) -> None:
        store.runs.create(store.connectors.get(CONNECTORS[0]), "queued")

        sent = RunQueue.from_environment(store).dispatch_pending(grace_seconds=3600)

        assert sent == []
        assert broker.queued_messages() == []

    def test_stale_dispatch_is_sent_again(
        self, store: Store, broker: Broker, pg_store: StoreDatabase
    ) -> None:
        queue = RunQueue.from_environment(store)
        record = queue.enqueue(CONNECTORS[0])
        pg_store.execute(
            "update runs set dispatched_at = now() - interval '1 hour' where id = %s",
            (record.id,),
        )

        without = queue.dispatch_pending(grace_seconds=0)
        sent = queue.dispatch_pending(grace_seconds=0, redispatch_after=60)

        assert without == []
        assert sent == [record.id]
        assert len(broker.queued_messages()) == 2


class TestSchedulerCommand:
    def test_once_reports_and_dispatches(
        self, store: Store, pg_store: StoreDatabase, broker: Broker
    ) -> None:
        make_due(pg_store, past_slot(2))

        result = run_cli(["scheduler", "--once", "--json"])

        assert result.status == 0, result.err
        report = json.loads(result.out)
        assert len(report["scheduled"]) == len(CONNECTORS)
        assert sorted(report["dispatched"]) == sorted(report["scheduled"])
        bodies = [message_body(raw) for raw in broker.queued_messages()]
        assert sorted(body[0][0] for body in bodies) == sorted(report["scheduled"])

    def test_two_scheduler_processes_queue_each_slot_once(
        self, store: Store, pg_store: StoreDatabase, broker: Broker, fleet: Fleet
    ) -> None:
        first = fleet.scheduler("scheduler-a")
        second = fleet.scheduler("scheduler-b")
        wait_for(
            lambda: (
                "scheduler started" in first.log()
                and "scheduler started" in second.log()
            ),
            timeout=60,
            what="both schedulers to start",
        )
        slots = [past_slot(20), past_slot(19)]

        for index, slot in enumerate(slots, start=1):
            make_due(pg_store, slot)
            wait_for(
                lambda count=index: (
                    len(broker.queued_messages()) >= count * len(CONNECTORS)
                ),
                timeout=60,
                what="the due runs to be dispatched",
            )
        first.stop()
        second.stop()

        runs = scheduled_runs(store)
        assert runs == sorted((name, slot) for name in CONNECTORS for slot in slots)
        run_ids = [message_body(raw)[0][0] for raw in broker.queued_messages()]
        assert len(run_ids) == len(set(run_ids)) == len(runs)
        assert "scheduled=" in first.log() + second.log()
