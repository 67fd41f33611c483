"""Connector job runs against real PostgreSQL and moto's Secrets Manager."""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from devtools.proxy import FaultProxy, aws_error
from prizm.connector_service import ConnectorService
from prizm.jobs import JobService
from prizm.rotation import MasterSecret, Rotation, RotationReport, Strategy, run_step
from prizm.rotation import rotate as rotate_secret
from prizm.rotation.steps import STEP_NAMES
from prizm.store import open_store
from prizm.store.runs import RunRecord
from tests.rotation.support import secrets_manager
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


DATABASE_SECRET = "prizm/analytics-database"


def add_two_secret_connector(aws: AwsFixture, database: Database) -> None:
    """A connector whose login is in SECRET and whose database name is in another
    secret, so its two secrets are read with one BatchGetSecretValue."""
    aws.create_secret(DATABASE_SECRET, json.dumps({"database": database.name}))
    add_connector(
        database, extra={"database": f"vault://aws/{DATABASE_SECRET}#database"}
    )


def start_rotation(
    aws: AwsFixture, strategy: Strategy, request: pytest.FixtureRequest | None = None
) -> Rotation:
    """Return a rotation of SECRET with a new token.

    alternating-users takes the ``master`` fixture from ``request``.
    """
    master = None
    if strategy is Strategy.ALTERNATING_USERS:
        assert request is not None
        master = request.getfixturevalue("master")
    return Rotation(
        secrets=secrets_manager(aws),
        secret_id=SECRET,
        token=str(uuid.uuid4()),
        strategy=strategy,
        master=master,
    )


def stop_after_set_secret(
    aws: AwsFixture, database: Database, proxy: FaultProxy
) -> Rotation:
    """Add the connector on an integration through ``proxy``, then run a single-user
    rotation of its secret up to setSecret, which leaves only AWSPENDING working."""
    aws.add_integration(endpoint=proxy.url)
    store_credentials(aws, database)
    add_connector(database)
    rotation = start_rotation(aws, Strategy.SINGLE_USER)
    run_step("createSecret", rotation)
    run_step("setSecret", rotation)
    return rotation


def login_versions(run: RunRecord, attempt: int = 1) -> set[str | None]:
    """Return the versions the username and password fields used in ``attempt``."""
    return {
        use.version_id
        for use in run.fields
        if use.attempt == attempt and use.field in ("username", "password")
    }


def run_as_superuser(database: Database, statement: sql.Composable) -> None:
    with psycopg.connect(database.server.dsn(), autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture
def master(aws: AwsFixture, database: Database) -> Iterator[MasterSecret]:
    """A master user that may create and change the clone of the database's login.

    PostgreSQL 16 and later let a CREATEROLE user change only roles on which it has
    ADMIN OPTION, so that is granted too. The clone is dropped afterwards.
    """
    manager = f"{database.user}_manager"
    password = "manager-" + secrets.token_urlsafe(12)
    run_as_superuser(
        database,
        sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
            sql.Identifier(manager), sql.Literal(password)
        ),
    )
    run_as_superuser(
        database,
        sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(
            sql.Identifier(database.user), sql.Identifier(manager)
        ),
    )
    document = database.secret_json() | {"username": manager, "password": password}
    aws.create_secret("prizm/master", json.dumps(document))
    yield MasterSecret(secrets_manager(aws), "prizm/master")
    for role in (f"{database.user}_clone", manager):
        run_as_superuser(
            database, sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role))
        )


class TestRotationSteps:
    """Runs around a rotation made by Prizm's own rotation steps."""

    def test_two_secrets_after_rotation(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        """The run after a rotation reads the new version through the batch path.

        moto 5.2 returns the old version from BatchGetSecretValue after finishSecret's
        UpdateSecretVersionStage, so the provider reads such a secret again by stage.
        """
        with FaultProxy(aws.server.url) as proxy:
            aws.add_integration(endpoint=proxy.url)
            store_credentials(aws, database)
            add_two_secret_connector(aws, database)
            report = rotate_secret(secrets_manager(aws), SECRET, Strategy.SINGLE_USER)
            proxy.clear()

            run = jobs.run("analytics")

            counts = proxy.counts()
        assert run.status == "succeeded", run.error_message
        assert {use.attempt for use in run.fields} == {1}
        assert login_versions(run) == {report.new_version_id}
        assert counts["BatchGetSecretValue"] == 1
        assert counts["GetSecretValue"] == 1
        assert run.stats is not None
        assert run.stats["attempts"][0]["api_calls"] == 2

    @pytest.mark.parametrize("strategy", list(Strategy))
    def test_steps_before_connect(
        self,
        request: pytest.FixtureRequest,
        aws: AwsFixture,
        database: Database,
        jobs: JobService,
        strategy: Strategy,
    ) -> None:
        """All four steps run between resolution and connection.

        single-user changes the password that the first attempt read, so the run
        reads again and reconnects with the new version. alternating-users leaves
        the first attempt's login working, so that attempt succeeds.
        """
        aws.add_integration()
        first_version = store_credentials(aws, database)
        add_connector(database)
        rotation = start_rotation(aws, strategy, request)
        finished: list[str] = []

        def progress(description: str, fraction: float | None) -> None:
            if description == "connecting" and not finished:
                for step in STEP_NAMES:
                    finished.append(run_step(step, rotation).step)

        run = jobs.run("analytics", progress)

        assert finished == list(STEP_NAMES)
        assert run.status == "succeeded", run.error_message
        assert login_versions(run, 1) == {first_version}
        if strategy is Strategy.SINGLE_USER:
            assert login_versions(run, 2) == {rotation.token}
        else:
            assert login_versions(run, 2) == set()

    @pytest.mark.parametrize("strategy", list(Strategy))
    def test_run_before_finish_never_pending(
        self,
        request: pytest.FixtureRequest,
        aws: AwsFixture,
        database: Database,
        jobs: JobService,
        strategy: Strategy,
    ) -> None:
        """A run between testSecret and finishSecret reads AWSCURRENT only."""
        aws.add_integration()
        first_version = store_credentials(aws, database)
        add_two_secret_connector(aws, database)
        rotation = start_rotation(aws, strategy, request)
        for step in ("createSecret", "setSecret", "testSecret"):
            run_step(step, rotation)

        during = jobs.run("analytics")
        run_step("finishSecret", rotation)
        after = jobs.run("analytics")

        assert rotation.token not in {use.version_id for use in during.fields}
        assert login_versions(during) == {first_version}
        if strategy is Strategy.SINGLE_USER:
            assert during.status == "failed"
            assert during.error_code == "authentication_failed"
        else:
            assert during.status == "succeeded", during.error_message
        assert after.status == "succeeded", after.error_message
        assert login_versions(after) == {rotation.token}
        assert {use.attempt for use in after.fields} == {1}

    def test_unfinished_rotation_named(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        """A single-user rotation stopped after setSecret: the error names it."""
        with FaultProxy(aws.server.url) as proxy:
            rotation = stop_after_set_secret(aws, database, proxy)
            proxy.clear()

            run = jobs.run("analytics")

            counts = proxy.counts()
        assert run.status == "failed"
        assert run.error_code == "authentication_failed"
        message = run.error_message or ""
        assert "rotation in progress" in message
        assert rotation.token in message
        assert "will work once the rotation finishes" in message
        assert f"prizm rotate vault://aws/{SECRET} --strategy single-user" in message
        assert "no longer matches" not in message
        assert counts["DescribeSecret"] == 1
        assert run.stats is not None
        assert [call["operation"] for call in run.stats["rotation_check_calls"]] == [
            "DescribeSecret"
        ]
        totals = {
            total.operation: total.calls for total in jobs.store.runs.call_totals()
        }
        assert totals["DescribeSecret"] == 1

    def test_unfinished_rotation_check_denied(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        """Without DescribeSecret, the error is the usual mismatch."""
        with FaultProxy(aws.server.url) as proxy:
            stop_after_set_secret(aws, database, proxy)
            proxy.add(
                aws_error(
                    "AccessDeniedException",
                    "User is not authorized to perform: secretsmanager:DescribeSecret",
                )
            )
            proxy.faults[-1].operation = "DescribeSecret"

            run = jobs.run("analytics")

            counts = proxy.counts()
        assert run.status == "failed"
        assert run.error_code == "authentication_failed"
        assert "no longer matches" in (run.error_message or "")
        assert "rotation in progress" not in (run.error_message or "")
        assert counts["DescribeSecret"] == 1

    def test_two_spellings_get_one_version(
        self, aws: AwsFixture, database: Database, jobs: JobService
    ) -> None:
        """A secret named by its name and by its ARN gives both fields one version.

        BatchGetSecretValue is denied, so the two spellings are two GetSecretValue
        calls. The proxy delays the read by name until the read by ARN has got its
        response, and a rotation runs in between.
        """
        with FaultProxy(aws.server.url) as proxy:
            aws.add_integration(endpoint=proxy.url)
            store_credentials(aws, database)
            arn = aws.client().describe_secret(SecretId=SECRET)["ARN"]
            add_connector(database, extra={"password": f"vault://aws/{arn}#password"})
            proxy.add(
                aws_error(
                    "AccessDeniedException",
                    "User is not authorized to perform: "
                    "secretsmanager:BatchGetSecretValue",
                )
            )
            proxy.faults[-1].operation = "BatchGetSecretValue"
            reports: list[RotationReport] = []

            def hold_name_read(operation: str, body: str) -> None:
                if operation != "GetSecretValue" or reports or arn in body:
                    return
                wait_until_answered(proxy, arn)
                reports.append(
                    rotate_secret(secrets_manager(aws), SECRET, Strategy.SINGLE_USER)
                )

            proxy.before_forward = hold_name_read

            run = jobs.run("analytics")

            reads = proxy.bodies("GetSecretValue")
        assert reports
        new_version = reports[0].new_version_id
        assert run.status == "succeeded", run.error_message
        assert {use.attempt for use in run.fields} == {1}
        assert login_versions(run) == {new_version}
        pinned = [body for body in reads if f'"VersionId": "{new_version}"' in body]
        assert len(pinned) == 1
        assert arn in pinned[0]
        assert len(reads) == 4


def wait_until_answered(proxy: FaultProxy, text: str) -> None:
    """Wait until a request whose body contains ``text`` has got its response.

    Called from the proxy's hook, so the delayed request counts as in flight.
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        arrived = any(text in body for body in proxy.bodies("GetSecretValue"))
        if arrived and proxy.in_flight == 1:
            return
        time.sleep(0.01)
    raise AssertionError(f"no request containing {text!r} got a response")
