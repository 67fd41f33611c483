"""``/api/v1/connectors`` and ``/api/v1/runs`` on moto and a real PostgreSQL."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from prizm.store import open_store
from prizm.store.audit import AuditEvent
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture
from tests.support.postgres import Database
from tests.web.conftest import SECRET, connector_fields, store_credentials
from tests.web.support import ConsoleClient, Web

FINAL = ("succeeded", "failed")


@pytest.fixture
def editor(web: Web, aws: AwsFixture) -> ConsoleClient:
    """An editor's API client, with the 'aws' integration on moto."""
    aws.add_integration()
    return web.api("editor")


class SilentServer:
    """A loopback TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.connections.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self.connections:
            connection.close()
        self.socket.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def add_analytics(editor: ConsoleClient, database: Database) -> None:
    """Save the PostgreSQL connector 'analytics' through the API."""
    response = editor.post(
        "/api/v1/connectors",
        json={
            "type": "postgres",
            "name": "analytics",
            "fields": connector_fields(database),
        },
    )
    assert response.status_code == 201, response.text


def checks() -> list[AuditEvent]:
    """Return the ``secret.check`` audit events, oldest first."""
    return [
        event for event in open_store().audit.events() if event.action == "secret.check"
    ]


def wait_for_run(client: ConsoleClient, run_id: int, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in FINAL:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


class TestConnectors:
    def test_add_and_get(self, editor: ConsoleClient, database: Database) -> None:
        body = {
            "type": "postgres",
            "name": "analytics",
            "fields": connector_fields(database),
        }

        created = editor.post("/api/v1/connectors", json=body)

        assert created.status_code == 201, created.text
        shown = editor.get("/api/v1/connectors/analytics").json()
        assert shown["fields"]["password"] == f"vault://aws/{SECRET}#password"
        assert shown["secret_fields"] == ["password"]

    def test_literal_secret_rejected_unechoed(
        self, editor: ConsoleClient, database: Database, canaries: Canaries
    ) -> None:
        fields = {**connector_fields(database), "password": canaries.make("literal")}

        response = editor.post(
            "/api/v1/connectors",
            json={"type": "postgres", "name": "analytics", "fields": fields},
        )

        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_field"
        assert "vault://aws/prizm/postgres#password" in error["message"]
        assert editor.get("/api/v1/connectors").json() == []

    def test_unknown_integration_404(
        self, editor: ConsoleClient, database: Database
    ) -> None:
        fields = {**connector_fields(database), "password": "vault://nope/x#password"}

        response = editor.post(
            "/api/v1/connectors",
            json={"type": "postgres", "name": "analytics", "fields": fields},
        )

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_integration"

    def test_validate_without_saving(
        self, editor: ConsoleClient, database: Database
    ) -> None:
        fields = {**connector_fields(database), "port": "99999"}

        response = editor.post(
            "/api/v1/connectors/validate", json={"type": "postgres", "fields": fields}
        )

        assert response.status_code == 422
        assert "port" in response.json()["error"]["message"]

    def test_update_and_remove(self, editor: ConsoleClient, database: Database) -> None:
        editor.post(
            "/api/v1/connectors",
            json={
                "type": "postgres",
                "name": "analytics",
                "fields": connector_fields(database),
            },
        )

        updated = editor.patch(
            "/api/v1/connectors/analytics",
            json={"fields": {"sslmode": "require"}, "unset": ["port"]},
        )
        removed = editor.delete("/api/v1/connectors/analytics")

        assert updated.json()["fields"]["sslmode"] == "require"
        assert "port" not in updated.json()["fields"]
        assert removed.status_code == 204
        assert editor.get("/api/v1/connectors/analytics").status_code == 404


class TestCheck:
    def test_check_reports_arn_and_version(
        self,
        editor: ConsoleClient,
        aws: AwsFixture,
        database: Database,
        canaries: Canaries,
    ) -> None:
        database.set_password(canaries.make("pg-password"))
        version = store_credentials(aws, database)
        add_analytics(editor, database)

        result = editor.post("/api/v1/connectors/analytics/check").json()

        assert result["ok"] is True
        password = result["fields"]["password"]
        assert password["secret_id"].startswith("arn:aws:secretsmanager:")
        assert password["version_id"] == version
        assert "AWSCURRENT" in password["version_stages"]

    def test_check_audited_per_reference(
        self,
        editor: ConsoleClient,
        aws: AwsFixture,
        database: Database,
        canaries: Canaries,
    ) -> None:
        database.set_password(canaries.make("pg-password"))
        version = store_credentials(aws, database)
        add_analytics(editor, database)

        editor.post("/api/v1/connectors/analytics/check")

        events = checks()
        assert [event.details["field"] for event in events] == ["username", "password"]
        password = events[1]
        assert password.actor == "web:editor-api"
        assert password.target_type == "reference"
        assert password.target == f"vault://aws/{SECRET}#password"
        assert password.outcome == "ok"
        assert password.details["connector"] == "analytics"
        assert password.details["integration"] == "aws"
        assert password.details["secret_id"].startswith("arn:aws:secretsmanager:")
        assert password.details["version_id"] == version

    def test_check_reports_typed_error(
        self, editor: ConsoleClient, database: Database
    ) -> None:
        editor.post(
            "/api/v1/connectors",
            json={
                "type": "postgres",
                "name": "analytics",
                "fields": connector_fields(database),
            },
        )

        result = editor.post("/api/v1/connectors/analytics/check").json()

        assert result["ok"] is False
        error = result["fields"]["password"]["error"]
        assert error["code"] == "secret_not_found"
        assert SECRET in error["message"]

    def test_check_unsaved_references(
        self, editor: ConsoleClient, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.create_secret("prizm/jira", json.dumps({"token": canaries.make("t")}))

        result = editor.post(
            "/api/v1/connectors/check-references",
            json={"references": {"api_token": "vault://aws/prizm/jira#token"}},
        ).json()

        assert result["fields"]["api_token"]["ok"] is True
        event = checks()[0]
        assert event.actor == "web:editor-api"
        assert event.target == "vault://aws/prizm/jira#token"
        assert event.details["field"] == "api_token"
        assert "connector" not in event.details

    def test_check_failures_audited(self, editor: ConsoleClient) -> None:
        references = {
            "missing": "vault://aws/prizm/missing#token",
            "malformed": "vault://aws",
        }

        editor.post(
            "/api/v1/connectors/check-references", json={"references": references}
        )

        missing, malformed = checks()
        assert missing.target == references["missing"]
        assert missing.outcome == "secret_not_found"
        assert missing.details["integration"] == "aws"
        assert malformed.target == "(invalid reference, 11 characters)"
        assert malformed.outcome == "invalid_reference"


class TestRuns:
    def test_run_in_background(
        self,
        editor: ConsoleClient,
        aws: AwsFixture,
        database: Database,
        canaries: Canaries,
    ) -> None:
        database.set_password(canaries.make("pg-password"))
        version = store_credentials(aws, database)
        editor.post(
            "/api/v1/connectors",
            json={
                "type": "postgres",
                "name": "analytics",
                "fields": connector_fields(database),
            },
        )

        started = editor.post("/api/v1/connectors/analytics/runs")
        run = wait_for_run(editor, started.json()["id"])

        assert started.status_code == 202
        assert started.json()["status"] in ("queued", "running", "succeeded")
        assert run["status"] == "succeeded", run["error"]
        assert run["result"]["summary"].startswith("2 schemas")
        assert {use["version_id"] for use in run["fields"]} == {version}
        assert run["progress"] is None
        assert run["started_at"] is not None

    def test_running_run_listed_with_progress(
        self,
        web: Web,
        editor: ConsoleClient,
        aws: AwsFixture,
        database: Database,
        silent: SilentServer,
    ) -> None:
        store_credentials(aws, database)
        fields = {
            **connector_fields(database),
            "port": str(silent.port),
            "connect_timeout": "3",
        }
        editor.post(
            "/api/v1/connectors",
            json={"type": "postgres", "name": "stuck", "fields": fields},
        )

        run_id = editor.post("/api/v1/connectors/stuck/runs").json()["id"]
        deadline = time.monotonic() + 10
        listed: dict[str, Any] = {}
        while time.monotonic() < deadline:
            listed = web.api("viewer").get("/api/v1/runs").json()[0]
            if listed["status"] == "running" and listed["progress"]:
                break
            time.sleep(0.05)
        finished = wait_for_run(editor, run_id)

        assert listed["id"] == run_id
        assert listed["status"] == "running"
        assert listed["progress"]["description"]
        assert finished["status"] == "failed"
        assert finished["error"]["code"] == "connection_failed"
        assert finished["progress"] is None

    def test_run_unknown_connector_404(self, editor: ConsoleClient) -> None:
        response = editor.post("/api/v1/connectors/nope/runs")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_connector"

    def test_list_filters(self, web: Web) -> None:
        client = web.api("viewer")

        bad = client.get("/api/v1/runs", params={"status": "done"})
        empty = client.get("/api/v1/runs", params={"status": "failed"})

        assert bad.status_code == 422
        assert empty.json() == []

    def test_get_unknown_run_404(self, web: Web) -> None:
        response = web.api("viewer").get("/api/v1/runs/999")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "run_not_found"
