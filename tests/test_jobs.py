"""Connector job runs against real PostgreSQL and moto's Secrets Manager."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from devtools.proxy import FaultProxy
from prizm.connector_service import ConnectorService
from prizm.jobs import JobService
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture
from tests.support.postgres import Database

SECRET = "prizm/analytics"


def add_connector(
    database: Database,
    *,
    name: str = "analytics",
    type_name: str = "postgres",
    secret: str = SECRET,
    host: str | None = None,
    port: int | None = None,
    extra: dict[str, str] | None = None,
) -> None:
    fields = {
        "host": host or database.host,
        "port": str(port or database.port),
        "database": database.name,
        "username": f"vault://aws/{secret}#username",
        "password": f"vault://aws/{secret}#password",
        "sslmode": "disable",
    }
    fields.update(extra or {})
    ConnectorService(open_store()).add(type_name, name, fields)


def store_credentials(aws: AwsFixture, database: Database, secret: str = SECRET) -> str:
    created = aws.create_secret(secret, json.dumps(database.secret_json()))
    return str(created["VersionId"])


def rotate(
    aws: AwsFixture, database: Database, password: str, secret: str = SECRET
) -> str:
    database.set_password(password)
    return str(aws.put_value(secret, json.dumps(database.secret_json()))["VersionId"])


@pytest.fixture
def jobs() -> JobService:
    return JobService(open_store())


class Listener:
    """A loopback TCP listener that counts connection attempts and answers nothing."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.accepted = 0
        self.port = self.socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


class TestRuns:
    def test_catalog_scan(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        aws.add_integration()
        version = store_credentials(aws, database)
        add_connector(database)

        run = jobs.run("analytics")

        assert run.status == "succeeded", run.error_message
        schemas = {schema["name"]: schema for schema in run.result["schemas"]}  # type: ignore[index]
        tables = {table["name"]: table for table in schemas["public"]["tables"]}
        orders = {table["name"]: table for table in schemas["sales"]["tables"]}[
            "orders"
        ]
        assert tables["customers"]["row_estimate"] == 120
        assert orders["row_estimate"] == 300
        assert {"name": "amount", "type": "numeric(12,2)", "nullable": False} in orders[
            "columns"
        ]
        kinds = {table["name"]: table["kind"] for table in schemas["sales"]["tables"]}
        assert kinds["big_orders"] == "view"
        assert {use.version_id for use in run.fields} == {version}
        assert all(
            use.secret_id and use.secret_id.startswith("arn:aws:") for use in run.fields
        )

    def test_special_password_reaches_driver(
        self,
        aws: AwsFixture,
        database: Database,
        jobs: JobService,
        canaries: Canaries,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        database.set_password(canaries.make("pg-password") + " @ : / # % ? & = +")
        aws.add_integration()
        store_credentials(aws, database)
        add_connector(database)

        run = jobs.run("analytics")

        assert run.status == "succeeded", run.error_message

    def test_one_read_per_secret(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        with FaultProxy(aws.server.url) as proxy:
            aws.add_integration(endpoint=proxy.url)
            store_credentials(aws, database)
            add_connector(database)

            run = jobs.run("analytics")

            assert run.status == "succeeded", run.error_message
            reads = (
                proxy.counts()["GetSecretValue"] + proxy.counts()["BatchGetSecretValue"]
            )
            assert reads == 1

    def test_missing_key_fails_before_connecting(
        self, aws: AwsFixture, database: Database, jobs: JobService, listener: Listener
    ) -> None:
        aws.add_integration()
        aws.create_secret(SECRET, json.dumps({"username": database.user}))
        add_connector(database, port=listener.port)

        run = jobs.run("analytics")

        assert run.status == "failed"
        assert run.error_code == "key_not_found"
        assert "Field 'password'" in (run.error_message or "")
        assert listener.accepted == 0
        outcomes = {use.field: use.outcome for use in run.fields}
        assert outcomes == {"username": "ok", "password": "key_not_found"}

    def test_missing_secret_fails_before_connecting(
        self, aws: AwsFixture, database: Database, jobs: JobService, listener: Listener
    ) -> None:
        aws.add_integration()
        add_connector(database, port=listener.port)

        run = jobs.run("analytics")

        assert run.status == "failed"
        assert run.error_code == "secret_not_found"
        assert "2 references failed" in (run.error_message or "")
        assert listener.accepted == 0

    def test_wrong_password_hints_mismatch(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        aws.add_integration()
        store_credentials(aws, database)
        database.set_password("changed-outside-the-vault")
        add_connector(database)

        run = jobs.run("analytics")

        assert run.status == "failed"
        assert run.error_code == "authentication_failed"
        assert "no longer matches" in (run.error_message or "")
        assert {use.attempt for use in run.fields} == {1, 2}
        assert len({use.version_id for use in run.fields}) == 1

    def test_driver_errors_scrubbed(
        self, aws: AwsFixture, database: Database, jobs: JobService, canaries: Canaries
    ) -> None:
        missing_database = canaries.make_plain("dbname")
        aws.add_integration()
        credentials = database.secret_json() | {"dbname": missing_database}
        aws.create_secret(SECRET, json.dumps(credentials))
        add_connector(database, extra={"database": f"vault://aws/{SECRET}#dbname"})

        run = jobs.run("analytics")

        assert run.status == "failed"
        assert run.error_code == "connection_failed"
        assert "********" in (run.error_message or "")

    def test_redshift_type_on_postgres(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        aws.add_integration()
        store_credentials(aws, database)
        add_connector(database, type_name="redshift")

        run = jobs.run("analytics")

        assert run.status == "succeeded", run.error_message


class TestRotation:
    def test_next_run_in_same_process_sees_rotation(
        self, aws: AwsFixture, database: Database, jobs: JobService, canaries: Canaries
    ) -> None:
        aws.add_integration()
        first_version = store_credentials(aws, database)
        add_connector(database)
        first = jobs.run("analytics")

        second_version = rotate(aws, database, canaries.make("rotated"))
        second = jobs.run("analytics")

        assert first.status == "succeeded", first.error_message
        assert second.status == "succeeded", second.error_message
        assert {use.version_id for use in first.fields} == {first_version}
        assert {use.version_id for use in second.fields} == {second_version}

    def test_never_reads_pending(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        aws.add_integration()
        current = store_credentials(aws, database)
        pending = database.secret_json() | {"password": "pending-not-set-yet"}
        aws.client().put_secret_value(
            SecretId=SECRET,
            SecretString=json.dumps(pending),
            VersionStages=["AWSPENDING"],
        )
        add_connector(database)

        run = jobs.run("analytics")

        assert run.status == "succeeded", run.error_message
        assert {use.version_id for use in run.fields} == {current}

    def test_rotation_during_read_does_not_mix(
        self, aws: AwsFixture, database: Database, jobs: JobService, canaries: Canaries
    ) -> None:
        new_password = canaries.make("mid-read")
        with FaultProxy(aws.server.url) as proxy:
            aws.add_integration(endpoint=proxy.url)
            first_version = store_credentials(aws, database)
            add_connector(database)
            rotated: list[str] = []

            def rotate_once(operation: str, body: str) -> None:
                if (
                    operation in ("GetSecretValue", "BatchGetSecretValue")
                    and not rotated
                ):
                    rotated.append(rotate(aws, database, new_password))

            proxy.before_forward = rotate_once

            run = jobs.run("analytics")

        assert rotated
        versions = {use.version_id for use in run.fields}
        assert len(versions) == 1
        assert versions != {first_version}
        assert run.status == "succeeded", run.error_message

    def test_rotation_before_connect_retries_once(
        self, aws: AwsFixture, database: Database, jobs: JobService, canaries: Canaries
    ) -> None:
        aws.add_integration()
        first_version = store_credentials(aws, database)
        add_connector(database)
        new_password = canaries.make("just-rotated")
        rotated: list[str] = []

        def progress(description: str, fraction: float | None) -> None:
            if description == "connecting" and not rotated:
                rotated.append(rotate(aws, database, new_password))

        run = jobs.run("analytics", progress)

        assert run.status == "succeeded", run.error_message
        by_attempt = {(use.attempt, use.field): use.version_id for use in run.fields}
        assert by_attempt[(1, "password")] == first_version
        assert by_attempt[(2, "password")] == rotated[0]
        assert run.stats is not None
        assert len(run.stats["attempts"]) == 2
