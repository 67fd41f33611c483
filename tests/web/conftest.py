"""Fixtures of the web tests: the real app over a fresh store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from prizm.connector_service import ConnectorService
from prizm.store import open_store
from prizm.web import WebSettings, create_app
from prizm.web.ratelimit import LoginLimits
from tests.support.fixtures import AwsFixture
from tests.support.postgres import Database
from tests.web.support import Web

SECRET = "prizm/analytics"


@pytest.fixture
def web() -> Iterator[Web]:
    """The app over the test's store; queued runs finish before teardown."""
    app = create_app(
        open_store(),
        WebSettings(run_workers=2, login_limits=LoginLimits(per_user=3, per_address=6)),
    )
    harness = Web(app)
    yield harness
    for client in harness.clients:
        client.close()
    app.state.runs.shutdown()


def store_credentials(aws: AwsFixture, database: Database, secret: str = SECRET) -> str:
    """Store the database login in Secrets Manager; return the version id."""
    created = aws.create_secret(secret, json.dumps(database.secret_json()))
    return str(created["VersionId"])


def connector_fields(database: Database, secret: str = SECRET) -> dict[str, str]:
    return {
        "host": database.host,
        "port": str(database.port),
        "database": database.name,
        "username": f"vault://aws/{secret}#username",
        "password": f"vault://aws/{secret}#password",
        "sslmode": "disable",
    }


def add_connector(database: Database, name: str = "analytics") -> None:
    ConnectorService(open_store()).add("postgres", name, connector_fields(database))
