"""A PostgreSQL connector job whose credentials come from Azure Key Vault."""

from __future__ import annotations

import json

from prizm.connector_service import ConnectorService
from prizm.jobs import JobService
from prizm.store import open_store
from tests.providers.azure.support import AzureFixture
from tests.support.canaries import Canaries
from tests.support.postgres import Database


def test_job_reads_password_from_key_vault(
    azure: AzureFixture, database: Database, canaries: Canaries
) -> None:
    database.set_password(canaries.make("key-vault-pg"))
    azure.add_integration()
    credentials = json.dumps(database.secret_json())
    version = azure.fake.vault.set_secret("prizm-analytics", credentials)
    ConnectorService(open_store()).add(
        "postgres",
        "analytics",
        {
            "host": database.host,
            "port": str(database.port),
            "database": database.name,
            "username": "vault://azure/prizm-analytics#username",
            "password": "vault://azure/prizm-analytics#password",
            "sslmode": "disable",
        },
    )

    run = JobService(open_store()).run("analytics")

    assert run.status == "succeeded", run.error_message
    assert {use.integration for use in run.fields} == {"azure"}
    assert {use.version_id for use in run.fields} == {version}
