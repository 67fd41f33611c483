"""Helpers for web tests: signed-in clients per role, API tokens, the leak scan."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prizm.store import open_store
from prizm.users import UserService
from tests.support.canaries import CANARIES

__all__ = ["PASSWORD", "ConsoleClient", "Web", "csrf_from", "scanning_client"]

PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_from(html: str) -> str:
    """Return the CSRF token of the first form in a page."""
    found = CSRF_INPUT.search(html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


def _scan(response: httpx.Response) -> None:
    response.read()
    where = f"the response to {response.request.method} {response.request.url.path}"
    CANARIES.scan(response.content, f"the body of {where}")
    CANARIES.scan(str(list(response.headers.multi_items())), f"the headers of {where}")


class ConsoleClient(TestClient):
    """A test client that remembers its session's CSRF token."""

    csrf: str = ""


def scanning_client(app: FastAPI, **kwargs: Any) -> ConsoleClient:
    """Return a client whose every response is scanned for canary values."""
    client = ConsoleClient(app, follow_redirects=False, **kwargs)
    client.event_hooks = {"request": [], "response": [_scan]}
    return client


@dataclass
class Web:
    """The app under test, with users of each role and their clients."""

    app: FastAPI
    clients: list[ConsoleClient] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def add_user(self, name: str, role: str, password: str = PASSWORD) -> None:
        UserService(open_store()).add(name, role, password)

    def anonymous(self, **kwargs: Any) -> ConsoleClient:
        client = scanning_client(self.app, **kwargs)
        self.clients.append(client)
        return client

    def sign_in(
        self, name: str, password: str = PASSWORD, **kwargs: Any
    ) -> ConsoleClient:
        """Return a client signed in as ``name``, with ``csrf`` set to its token."""
        client = self.anonymous(**kwargs)
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "username": name,
                "password": password,
                "csrf_token": csrf_from(page.text),
                "next": "/connectors",
            },
        )
        assert response.status_code == 303, response.text
        client.csrf = csrf_from(client.get("/connectors").text)
        return client

    def as_role(self, role: str) -> ConsoleClient:
        """Return a session client of a user with ``role``, made on first use."""
        name = f"{role}-user"
        if UserService(open_store()).store.users.find(name) is None:
            self.add_user(name, role)
        return self.sign_in(name)

    def token(self, role: str) -> dict[str, str]:
        """Return bearer headers of an API token of a user with ``role``."""
        if role not in self.tokens:
            name = f"{role}-api"
            self.add_user(name, role)
            _, token = UserService(open_store()).create_token(f"{role}-token", name)
            self.tokens[role] = token
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def api(self, role: str) -> ConsoleClient:
        """Return a client that sends an API token of ``role`` on every request."""
        return self.anonymous(headers=self.token(role))
