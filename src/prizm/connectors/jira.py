"""Jira Cloud connector: lists the projects the account can see (REST API v3).

Authentication is HTTP Basic with the account's email and an API token, as Jira
Cloud documents for REST clients. The ``Authorization`` header is built in memory
for the request and registered for masking, since it is the token in base64.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from prizm import redaction
from prizm.connectors.base import (
    FieldSpec,
    FieldValues,
    JobResult,
    ProgressCallback,
    scrubbed,
)
from prizm.errors import AuthenticationFailed, ConnectionFailed, InvalidField, JobFailed
from prizm.references import is_reference

__all__ = ["JIRA", "JiraConnector"]

PAGE_SIZE = 50
MAX_PAGES = 200
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_site_url(value: str) -> str:
    """Return the site URL without a trailing slash; https unless on loopback."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and host in LOOPBACK_HOSTS
    )
    if not secure or not host or parts.query or parts.fragment:
        raise InvalidField(
            f"The field 'site_url' must be an https URL such as "
            f"https://example.atlassian.net, not {value!r}.",
            hint="Set it with --field site_url=https://<site>.atlassian.net.",
        )
    return value.rstrip("/")


class JiraConnector:
    """Reads the list of projects from Jira Cloud."""

    type_name: str = "jira"
    display_name: str = "Jira Cloud"
    fields: tuple[FieldSpec, ...] = (
        FieldSpec(
            "site_url", "Site URL", kind="url", help="https://<site>.atlassian.net"
        ),
        FieldSpec(
            "email", "Email", kind="email", help="Email of the Atlassian account."
        ),
        FieldSpec("api_token", "API token", secret=True),
        FieldSpec(
            "timeout", "Timeout (s)", default="30", kind="integer", required=False
        ),
    )

    def validate(self, fields: Mapping[str, str]) -> None:
        site = fields.get("site_url")
        if site and not is_reference(site):
            check_site_url(site)
        email = fields.get("email")
        if email and not is_reference(email) and "@" not in email:
            raise InvalidField(
                f"The field 'email' must be an email address, not {email!r}.",
                hint="Use the email of the Atlassian account that owns the API token.",
            )

    def request_arguments(self, values: FieldValues) -> dict[str, Any]:
        """Return the base URL, headers and timeout of the REST requests."""
        site = check_site_url(values.require("site_url"))
        email = values.require("email")
        token = values.require("api_token")
        credentials = base64.b64encode(f"{email}:{token}".encode()).decode("ascii")
        redaction.register(credentials)
        return {
            "base_url": site,
            "headers": {
                "Authorization": f"Basic {credentials}",
                "Accept": "application/json",
            },
            "timeout": float(values.text("timeout", "30") or "30"),
        }

    def run(self, values: FieldValues, progress: ProgressCallback) -> JobResult:
        """List every project with its key, name and type, page by page."""
        arguments = self.request_arguments(values)
        site = arguments["base_url"]
        projects: list[dict[str, Any]] = []
        progress("connecting", None)
        try:
            with httpx.Client(**arguments) as client:
                start = 0
                for _ in range(MAX_PAGES):
                    page = self._page(client, site, start)
                    for item in page.get("values", []):
                        projects.append(
                            {
                                "id": item.get("id"),
                                "key": item.get("key"),
                                "name": item.get("name"),
                                "type": item.get("projectTypeKey"),
                            }
                        )
                    total = page.get("total")
                    progress(
                        f"read {len(projects)} projects",
                        len(projects) / total if total else None,
                    )
                    if page.get("isLast", True) or not page.get("values"):
                        break
                    start += len(page["values"])
        except httpx.TimeoutException:
            raise ConnectionFailed(
                f"Jira Cloud at {site} did not answer in time.",
                hint="Check the site URL and the network, or raise the timeout field.",
            ) from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(
                f"Could not reach Jira Cloud at {site}: {scrubbed(exc)}",
                hint="Check the site URL and the network between Prizm and Atlassian.",
            ) from None
        return JobResult(
            summary=f"{len(projects)} projects", data={"projects": projects}
        )

    def _page(self, client: httpx.Client, site: str, start: int) -> dict[str, Any]:
        response = client.get(
            "/rest/api/3/project/search",
            params={"startAt": start, "maxResults": PAGE_SIZE},
        )
        if response.status_code == 401:
            raise AuthenticationFailed(
                f"Jira Cloud at {site} rejected the email and API token (HTTP 401).",
                hint="Create a new API token at id.atlassian.com and store it in the "
                "vault; check that the email is the token owner's.",
            )
        if response.status_code == 403:
            raise JobFailed(
                f"Jira Cloud at {site} refused to list projects (HTTP 403).",
                hint="Give the account the Browse projects permission, or solve the "
                "login CAPTCHA that Atlassian shows after failed logins.",
            )
        if response.status_code >= 400:
            raise JobFailed(
                f"Jira Cloud at {site} returned HTTP {response.status_code} for the "
                "project search.",
                hint="Retry later; check the site URL if it persists.",
            )
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict) or "values" not in data:
            raise JobFailed(
                f"Jira Cloud at {site} answered the project search with an unexpected "
                "document.",
                hint="Check that the site URL points at a Jira Cloud site.",
            )
        return data


JIRA = JiraConnector()
