"""``/metrics`` counts the vault calls made by the server process."""

from __future__ import annotations

import re

from prizm.metrics import metrics
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture, run_cli_process
from tests.support.postgres import Database
from tests.web.conftest import connector_fields, store_credentials
from tests.web.support import Web


def sample(text: str, metric: str, **labels: str) -> float | None:
    """Return the value of one sample of ``metric`` with exactly ``labels``."""
    expected = ",".join(f'{name}="{value}"' for name, value in labels.items())
    pattern = re.escape(f"{metric}{{{expected}}}" if labels else metric) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def test_check_counted_in_metrics(
    web: Web, aws: AwsFixture, database: Database, canaries: Canaries
) -> None:
    database.set_password(canaries.make("pg-password"))
    store_credentials(aws, database)
    aws.add_integration()
    editor = web.api("editor")
    editor.post(
        "/api/v1/connectors",
        json={
            "type": "postgres",
            "name": "analytics",
            "fields": connector_fields(database),
        },
    )
    metrics.reset()

    checked = editor.post("/api/v1/connectors/analytics/check")
    text = web.api("viewer").get("/metrics").text

    assert checked.json()["ok"] is True
    calls = sample(
        text,
        "prizm_vault_api_calls_total",
        integration="aws",
        provider="aws",
        operation="GetSecretValue",
        outcome="ok",
    )
    assert calls == 1
    assert sample(text, "prizm_resolution_seconds_count") == 1
    assert "prizm_vault_api_call_seconds_bucket{" in text


def test_runs_of_other_processes_counted(
    web: Web, aws: AwsFixture, database: Database, canaries: Canaries
) -> None:
    database.set_password(canaries.make("pg-password"))
    store_credentials(aws, database)
    aws.add_integration()
    editor = web.api("editor")
    editor.post(
        "/api/v1/connectors",
        json={
            "type": "postgres",
            "name": "analytics",
            "fields": connector_fields(database),
        },
    )
    metrics.reset()

    runs = [run_cli_process(["run", "analytics"]) for _ in range(2)]
    text = web.api("viewer").get("/metrics").text

    assert [run.status for run in runs] == [0, 0]
    calls = sample(
        text,
        "prizm_run_vault_api_calls_total",
        integration="aws",
        provider="aws",
        operation="GetSecretValue",
        outcome="ok",
    )
    assert calls == 2
    assert sample(text, "prizm_runs", status="succeeded") == 2
    assert sample(text, "prizm_runs", status="queued") == 0
    own = sample(
        text,
        "prizm_vault_api_calls_total",
        integration="aws",
        provider="aws",
        operation="GetSecretValue",
        outcome="ok",
    )
    assert own is None
