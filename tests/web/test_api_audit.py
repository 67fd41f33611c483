"""``GET /api/v1/audit``: the audit log as JSON lines, for admins."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture
from tests.web.support import PASSWORD, ConsoleClient, Web


def lines_of(response: Any) -> list[dict[str, Any]]:
    """Parse an NDJSON body: one JSON object per line, each line ending in \\n."""
    body: str = response.text
    assert body == "" or body.endswith("\n")
    return [json.loads(line) for line in body.split("\n")[:-1]]


def add_users(client: ConsoleClient, *names: str) -> None:
    for name in names:
        response = client.post(
            "/api/v1/users", json={"name": name, "role": "viewer", "password": PASSWORD}
        )
        assert response.status_code == 201, response.text


def test_events_as_json_lines(web: Web) -> None:
    client = web.api("admin")
    add_users(client, "bob")

    response = client.get("/api/v1/audit")

    events = lines_of(response)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert all(isinstance(event, dict) for event in events)
    added = next(event for event in events if event["target"] == "bob")
    assert added["action"] == "user.add"
    assert added["actor"] == "web:admin-api"
    assert added["target_type"] == "user"
    assert added["outcome"] == "ok"
    assert added["details"] == {"role": "viewer"}
    assert set(added) == {
        "id",
        "at",
        "actor",
        "action",
        "target_type",
        "target",
        "outcome",
        "details",
    }


def test_limit_keeps_oldest(web: Web) -> None:
    client = web.api("admin")
    add_users(client, "bob", "carol", "dave")
    everything = lines_of(client.get("/api/v1/audit"))

    limited = lines_of(client.get("/api/v1/audit", params={"limit": 2}))

    assert len(everything) > 2
    assert limited == everything[:2]


def test_limit_below_one_rejected(web: Web) -> None:
    response = web.api("admin").get("/api/v1/audit", params={"limit": 0})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_since_filters(web: Web) -> None:
    client = web.api("admin")
    add_users(client, "bob")

    recent = lines_of(client.get("/api/v1/audit", params={"since": "1h"}))
    future = client.get("/api/v1/audit", params={"since": "2999-01-01T00:00:00Z"})
    bad = client.get("/api/v1/audit", params={"since": "yesterday"})

    assert "bob" in [event["target"] for event in recent]
    assert future.status_code == 200
    assert future.text == ""
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "usage_error"
    assert "--since" in bad.json()["error"]["message"]


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_admins_only(web: Web, role: str) -> None:
    response = web.api(role).get("/api/v1/audit")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_no_values_in_log(web: Web, aws: AwsFixture, canaries: Canaries) -> None:
    aws.add_integration()
    value = canaries.make("audited-secret")
    aws.create_secret("prizm/jira", json.dumps({"token": value}))
    client = web.api("admin")
    client.post(
        "/api/v1/connectors/check-references",
        json={"references": {"api_token": "vault://aws/prizm/jira#token"}},
    )
    client.post("/api/v1/integrations/aws/test", json={"secrets": ["prizm/jira#token"]})

    response = client.get("/api/v1/audit")

    actions = [event["action"] for event in lines_of(response)]
    assert "secret.check" in actions
    assert "integration.test" in actions
    canaries.scan(response.text, "the audit log from the API")
