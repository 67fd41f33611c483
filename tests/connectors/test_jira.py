"""The Jira Cloud connector against a local fake of the project search API."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from prizm.connector_service import ConnectorService
from prizm.errors import InvalidField
from prizm.jobs import JobService
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture
from tests.support.httpfake import FakeRequest, FakeServer

EMAIL = "bot@example.com"
PROJECTS = [
    {"id": str(i), "key": f"P{i}", "name": f"Project {i}", "projectTypeKey": "software"}
    for i in range(1, 8)
]


class JiraFake:
    """Answers /rest/api/3/project/search for one email and API token, 3 per page."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.server = FakeServer(self.handle)

    def handle(self, request: FakeRequest) -> tuple[int, dict[str, object]]:
        expected = base64.b64encode(f"{EMAIL}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return 401, {"errorMessages": ["Client must be authenticated"]}
        parts = urlsplit(request.path)
        if parts.path != "/rest/api/3/project/search":
            return 404, {"errorMessages": ["not found"]}
        query = parse_qs(parts.query)
        start = int(query["startAt"][0])
        page = PROJECTS[start : start + 3]
        return 200, {
            "startAt": start,
            "maxResults": 3,
            "total": len(PROJECTS),
            "isLast": start + 3 >= len(PROJECTS),
            "values": page,
        }


@pytest.fixture
def jira(canaries: Canaries) -> Iterator[JiraFake]:
    fake = JiraFake(canaries.make("jira-token"))
    with fake.server:
        yield fake


def add_jira(aws: AwsFixture, token: str, site: str) -> None:
    aws.add_integration()
    aws.create_secret("prizm/jira", json.dumps({"api_token": token}))
    ConnectorService(open_store()).add(
        "jira",
        "tickets",
        {
            "site_url": site,
            "email": EMAIL,
            "api_token": "vault://aws/prizm/jira#api_token",
        },
    )


class TestJira:
    def test_lists_all_projects_over_pages(
        self, aws: AwsFixture, jira: JiraFake
    ) -> None:
        add_jira(aws, jira.token, jira.server.url)

        run = JobService(open_store()).run("tickets")

        assert run.status == "succeeded", run.error_message
        keys = [project["key"] for project in run.result["projects"]]  # type: ignore[index]
        assert keys == [f"P{i}" for i in range(1, 8)]
        assert len(jira.server.requests) == 3

    def test_wrong_token_is_authentication_failure(
        self, aws: AwsFixture, jira: JiraFake, canaries: Canaries
    ) -> None:
        add_jira(aws, canaries.make("wrong-token"), jira.server.url)

        run = JobService(open_store()).run("tickets")

        assert run.status == "failed"
        assert run.error_code == "authentication_failed"
        assert "API token" in (run.error_message or "")

    def test_plain_http_only_on_loopback(self) -> None:
        service = ConnectorService(open_store())

        with pytest.raises(InvalidField):
            service.validate(
                "jira",
                {
                    "site_url": "http://example.atlassian.net",
                    "email": EMAIL,
                    "api_token": "vault://aws/x#t",
                },
            )

    def test_unreachable_site(self, aws: AwsFixture, canaries: Canaries) -> None:
        from devtools.servers import free_port

        add_jira(aws, canaries.make("t"), f"http://127.0.0.1:{free_port()}")

        run = JobService(open_store()).run("tickets")

        assert run.error_code == "connection_failed"
