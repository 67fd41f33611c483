"""A PostgreSQL connector job whose credentials come from OpenBao."""

from __future__ import annotations

from prizm.connector_service import ConnectorService
from prizm.jobs import JobService
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.openbao import Bao
from tests.support.postgres import Database


def test_job_reads_password_from_openbao(
    bao: Bao, database: Database, canaries: Canaries
) -> None:
    database.set_password(canaries.make("openbao-pg"))
    bao.add_token()
    written = bao.put("analytics", database.secret_json())
    version = str(written["data"]["version"])
    path = f"secret/{bao.path('analytics')}"
    ConnectorService(open_store()).add(
        "postgres",
        "analytics",
        {
            "host": database.host,
            "port": str(database.port),
            "database": database.name,
            "username": f"vault://hashicorp/{path}#username",
            "password": f"vault://hashicorp/{path}#password",
            "sslmode": "disable",
        },
    )

    run = JobService(open_store()).run("analytics")

    assert run.status == "succeeded", run.error_message
    assert {use.integration for use in run.fields} == {"hashicorp"}
    assert {use.version_id for use in run.fields} == {version}
