"""Alembic migrations on PostgreSQL and SQLite, including the schedules revision."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text

from prizm.store import open_store
from prizm.store.database import create_store_engine, head_revisions
from tests.support.postgres import StoreDatabase

(HEAD,) = head_revisions()


def alembic(engine: Engine, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", "prizm.store:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def version(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(text("select version_num from alembic_version")).scalar()
        )


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, postgres: object) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{request.getfixturevalue('tmp_path') / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_store").url
    created = create_store_engine(url)
    yield created
    created.dispose()


class TestSchedulesRevision:
    def test_upgrade_adds_schedules_and_claims(self, engine: Engine) -> None:
        alembic(engine, "upgrade", "head")

        schema = inspect(engine)
        assert version(engine) == HEAD
        assert "schedules" in schema.get_table_names()
        columns = {column["name"] for column in schema.get_columns("runs")}
        assert {
            "scheduled_for",
            "dispatched_at",
            "worker",
            "claims",
            "heartbeat_at",
            "lease_expires_at",
        } <= columns
        unique = {
            index["name"]: index["unique"] for index in schema.get_indexes("runs")
        }
        assert unique["uq_runs_connector_scheduled_for"]

    def test_existing_runs_get_zero_claims(self, engine: Engine) -> None:
        alembic(engine, "upgrade", "0001")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "insert into runs (connector_name, connector_type, status, "
                    "created_at) values ('old', 'postgres', 'succeeded', "
                    "CURRENT_TIMESTAMP)"
                )
            )

        alembic(engine, "upgrade", "head")

        with engine.connect() as connection:
            claims = connection.execute(text("select claims from runs")).scalar()
        assert claims == 0

    def test_downgrade_and_upgrade_again(self, engine: Engine) -> None:
        alembic(engine, "upgrade", "head")

        alembic(engine, "downgrade", "0001")
        downgraded = inspect(engine)
        tables = downgraded.get_table_names()
        columns = {column["name"] for column in downgraded.get_columns("runs")}
        alembic(engine, "upgrade", "head")

        assert "schedules" not in tables
        assert "claims" not in columns
        assert version(engine) == HEAD


MIGRATE_WHEN_TOLD = """
import pathlib, sys, time
from prizm.store.store import open_store
go = pathlib.Path(sys.argv[1])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.002)
open_store()
print("migrated", flush=True)
"""


def test_processes_starting_together_migrate_once(
    pg_store: StoreDatabase, tmp_path: Path
) -> None:
    """Several processes opening a new PostgreSQL store at once all succeed."""
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_WHEN_TOLD, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"

    go.touch()
    outcomes = [process.communicate(timeout=120) for process in processes]

    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == "migrated"
    with psycopg.connect(pg_store.server.dsn(pg_store.name)) as connection:
        row = connection.execute("select version_num from alembic_version").fetchall()
    assert row == [(HEAD,)]


def test_open_store_migrates_postgresql(pg_store: StoreDatabase) -> None:
    store = open_store()

    assert store.engine.dialect.name == "postgresql"
    assert version(store.engine) == HEAD
