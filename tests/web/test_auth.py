"""Sign-in, sessions, CSRF, rate limits, API tokens and roles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from prizm.errors import TooManyAttempts
from prizm.store import open_store
from prizm.users import UserService
from prizm.web.ratelimit import LoginLimiter, LoginLimits
from tests.support.canaries import Canaries
from tests.web.support import PASSWORD, Web, csrf_from

UNSAFE = {"POST", "PATCH", "PUT", "DELETE"}


def all_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, set[str]]]:
    """Return the path and methods of every route, through included routers.

    Older FastAPI versions list included routes flat. FastAPI 0.165 keeps each
    included router as one entry with ``original_router`` and its include prefix.
    """
    found: list[tuple[str, set[str]]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, set(route.methods)))
        elif hasattr(route, "original_router"):
            child = prefix + route.include_context.prefix
            found += all_routes(route.original_router.routes, child)
    return found


def login(web: Web, name: str, password: str, **headers: str) -> tuple[int, str]:
    client = web.anonymous(headers=headers)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": name,
            "password": password,
            "csrf_token": csrf_from(page.text),
            "next": "/",
        },
    )
    return response.status_code, response.text


class TestSignIn:
    def test_unauthenticated_page_redirects(self, web: Web) -> None:
        response = web.anonymous().get("/connectors")

        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/connectors"

    def test_session_cookie_flags(self, web: Web) -> None:
        web.add_user("ana", "viewer")
        client = web.anonymous()
        page = client.get("/login")

        response = client.post(
            "/login",
            data={
                "username": "ana",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )

        cookie = next(
            value
            for value in response.headers.get_list("set-cookie")
            if value.startswith("prizm_session=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie
        assert response.headers["location"] == "/"

    def test_session_cookie_secure_over_https(self, web: Web) -> None:
        web.add_user("ana", "viewer")
        client = web.anonymous(base_url="https://testserver")
        page = client.get("/login")

        response = client.post(
            "/login",
            data={
                "username": "ana",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )

        cookies = response.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("prizm_session="))
        assert "Secure" in session
        assert "HttpOnly" in session

    def test_wrong_password_rejected(self, web: Web) -> None:
        web.add_user("ana", "viewer")

        status, text = login(web, "ana", "not the password")

        assert status == 401
        assert "invalid_login" in text

    def test_unknown_user_same_message(self, web: Web) -> None:
        status, text = login(web, "nobody", "not the password")

        assert status == 401
        assert "The user name or password is incorrect." in text

    def test_login_without_form_token_rejected(self, web: Web) -> None:
        web.add_user("ana", "viewer")
        client = web.anonymous()

        response = client.post("/login", data={"username": "ana", "password": PASSWORD})

        assert response.status_code == 403
        assert "csrf_failed" in response.text
        assert "prizm_session=" not in str(response.headers.get_list("set-cookie"))

    def test_next_must_be_local(self, web: Web) -> None:
        web.add_user("ana", "viewer")
        client = web.anonymous()
        page = client.get("/login")

        response = client.post(
            "/login",
            data={
                "username": "ana",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
                "next": "//evil.example/",
            },
        )

        assert response.headers["location"] == "/"

    def test_logout_ends_session(self, web: Web) -> None:
        web.add_user("ana", "viewer")
        client = web.sign_in("ana")

        response = client.post("/logout", data={"csrf_token": client.csrf})

        assert response.status_code == 303
        assert client.get("/connectors").status_code == 303
        assert client.get("/api/v1/me").status_code == 401

    def test_password_stored_as_argon2(self, web: Web, canaries: Canaries) -> None:
        password = canaries.make("console-password")
        web.add_user("ana", "admin", password)

        stored = open_store().users.password_hash("ana")

        assert stored is not None
        assert stored.startswith("$argon2id$")


class TestRateLimit:
    def test_user_locked_after_failures(self, web: Web) -> None:
        web.add_user("ana", "viewer")
        for _ in range(3):
            assert login(web, "ana", "wrong password")[0] == 401
        client = web.anonymous()
        page = client.get("/login")

        response = client.post(
            "/login",
            data={
                "username": "ana",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )

        assert response.status_code == 429
        assert "too_many_attempts" in response.text
        assert "Too many failed sign-ins for the user" in response.text
        assert 0 < int(response.headers["Retry-After"]) <= 900

    def test_address_locked_across_users(self, web: Web) -> None:
        for index in range(6):
            assert login(web, f"user{index}", "wrong password")[0] == 401

        status, text = login(web, "someone-else", "wrong password")

        assert status == 429
        assert "your address" in text

    def test_success_resets_user_failures(self, web: Web) -> None:
        web.add_user("ana", "viewer")
        for _ in range(2):
            login(web, "ana", "wrong password")
        assert login(web, "ana", PASSWORD)[0] == 303

        for _ in range(2):
            assert login(web, "ana", "wrong password")[0] == 401


class TestCsrf:
    def test_form_without_token_rejected(self, web: Web) -> None:
        client = web.as_role("editor")

        response = client.post("/connectors/new", data={"type": "postgres"})

        assert response.status_code == 403
        assert "csrf_failed" in response.text

    def test_wrong_token_rejected(self, web: Web) -> None:
        client = web.as_role("editor")

        response = client.post("/logout", data={"csrf_token": client.csrf[::-1]})

        assert response.status_code == 403

    def test_header_token_accepted(self, web: Web) -> None:
        client = web.as_role("admin")

        response = client.post(
            "/api/v1/users",
            json={"name": "bob", "role": "viewer", "password": PASSWORD},
            headers={"X-CSRF-Token": client.csrf},
        )

        assert response.status_code == 201

    def test_api_with_cookie_needs_token(self, web: Web) -> None:
        client = web.as_role("admin")

        response = client.post(
            "/api/v1/users",
            json={"name": "bob", "role": "viewer", "password": PASSWORD},
        )

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"

    def test_bearer_token_exempt(self, web: Web) -> None:
        response = web.api("admin").post(
            "/api/v1/users",
            json={"name": "bob", "role": "viewer", "password": PASSWORD},
        )

        assert response.status_code == 201

    def test_every_state_change_checked(self, web: Web) -> None:
        """Each POST, PATCH and DELETE route rejects a session without the token."""
        client = web.as_role("admin")
        checked = []

        for route_path, methods in all_routes(web.app.routes):
            if route_path == "/login":
                continue
            path = re.sub(r"\{[^}]+\}", "1", route_path)
            for method in sorted(methods & UNSAFE):
                response = client.request(method, path, data={"name": "x"})
                assert response.status_code == 403, (method, path)
                assert "csrf_failed" in response.text, (method, path)
                checked.append((method, path))

        assert len(checked) >= 25


class TestTokens:
    def test_bearer_token_authenticates(self, web: Web) -> None:
        response = web.api("viewer").get("/api/v1/me")

        assert response.status_code == 200
        assert response.json()["name"] == "viewer-api"
        assert response.json()["via"] == "token"

    def test_revoked_token_rejected(self, web: Web) -> None:
        client = web.api("viewer")
        UserService(open_store()).revoke_token("viewer-token")

        response = client.get("/api/v1/me")

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_unknown_token_rejected(self, web: Web) -> None:
        client = web.anonymous(headers={"Authorization": "Bearer prizm_nope"})

        assert client.get("/api/v1/me").status_code == 401

    def test_malformed_header_rejected(self, web: Web) -> None:
        client = web.anonymous(headers={"Authorization": "Basic abc"})

        response = client.get("/api/v1/connectors")

        assert response.status_code == 401
        assert "Bearer" in response.json()["error"]["message"]

    def test_token_stored_hashed(self, web: Web) -> None:
        headers = web.token("viewer")
        token = headers["Authorization"].removeprefix("Bearer ")

        database = (open_store().engine.url.database or "").strip()
        with open(database, "rb") as file:
            content = file.read()

        assert token.encode() not in content

    def test_removed_user_token_stops(self, web: Web) -> None:
        client = web.api("editor")
        UserService(open_store()).remove("editor-api")

        assert client.get("/api/v1/me").status_code == 401


ROLE_CASES = [
    ("GET", "/api/v1/integrations", "viewer", 200),
    ("GET", "/api/v1/connectors", "viewer", 200),
    ("GET", "/api/v1/runs", "viewer", 200),
    ("GET", "/api/v1/connector-types", "viewer", 200),
    ("GET", "/api/v1/integration-types", "viewer", 200),
    ("GET", "/metrics", "viewer", 200),
    ("GET", "/api/v1/users", "viewer", 403),
    ("GET", "/api/v1/users", "editor", 403),
    ("GET", "/api/v1/users", "admin", 200),
    ("POST", "/api/v1/integrations", "editor", 403),
    ("POST", "/api/v1/integrations/test", "editor", 403),
    ("PATCH", "/api/v1/integrations/aws", "editor", 403),
    ("POST", "/api/v1/integrations/aws/test", "editor", 403),
    ("PUT", "/api/v1/integrations/aws/allowed-secrets", "editor", 403),
    ("DELETE", "/api/v1/integrations/aws", "editor", 403),
    ("POST", "/api/v1/users", "editor", 403),
    ("PATCH", "/api/v1/users/x", "editor", 403),
    ("POST", "/api/v1/connectors", "viewer", 403),
    ("PATCH", "/api/v1/connectors/x", "viewer", 403),
    ("POST", "/api/v1/connectors/validate", "viewer", 403),
    ("POST", "/api/v1/connectors/check-references", "viewer", 403),
    ("POST", "/api/v1/connectors/x/runs", "viewer", 403),
    ("POST", "/api/v1/connectors/x/check", "viewer", 403),
    ("DELETE", "/api/v1/connectors/x", "viewer", 403),
]

ADMIN_PAGE_POSTS = [
    "/settings/integrations/new/aws",
    "/settings/integrations/new/aws/test",
    "/settings/integrations/aws/edit",
    "/settings/integrations/aws/edit/test",
    "/settings/integrations/aws/test",
    "/settings/integrations/aws/delete",
    "/settings/users",
    "/settings/users/update",
    "/settings/users/viewer-user/delete",
]


class TestRoles:
    @pytest.mark.parametrize(
        ("method", "path", "role", "status"),
        ROLE_CASES,
        ids=[f"{m}-{p}-{r}" for m, p, r, _ in ROLE_CASES],
    )
    def test_role_matrix(
        self, web: Web, method: str, path: str, role: str, status: int
    ) -> None:
        body = {"type": "aws", "name": "x", "settings": {}, "fields": {}}

        response = web.api(role).request(
            method, path, json=body if method == "POST" else None
        )

        assert response.status_code == status, response.text
        if status == 403:
            assert response.json()["error"]["code"] == "permission_denied"

    @pytest.mark.parametrize("path", ADMIN_PAGE_POSTS)
    def test_editor_refused_admin_page_posts(self, web: Web, path: str) -> None:
        web.add_user("viewer-user", "viewer")
        client = web.as_role("editor")
        events_before = len(open_store().audit.events())

        response = client.post(
            path,
            data={
                "csrf_token": client.csrf,
                "name": "viewer-user",
                "role": "admin",
                "password": PASSWORD,
            },
        )

        assert response.status_code == 403, response.text
        assert "permission_denied" in response.text
        assert UserService(open_store()).get("viewer-user").role == "viewer"
        assert len(open_store().audit.events()) == events_before

    @pytest.mark.parametrize(
        "path", ["/api/v1/integrations", "/api/v1/runs", "/metrics", "/api/v1/me"]
    )
    def test_no_credentials_rejected(self, web: Web, path: str) -> None:
        response = web.anonymous().get(path)

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    def test_viewer_cannot_open_admin_pages(self, web: Web) -> None:
        client = web.as_role("viewer")

        for path in (
            "/settings/integrations/new",
            "/settings/integrations/new/aws",
            "/settings/users",
            "/connectors/new",
        ):
            response = client.get(path)
            assert response.status_code == 403, path
            assert "permission_denied" in response.text

    def test_viewer_list_hides_admin_actions(self, web: Web) -> None:
        client = web.as_role("viewer")

        page = client.get("/settings/integrations").text

        assert "Add Integration" not in page
        assert "/settings/users" not in page


class TestSystem:
    def test_healthz_needs_no_sign_in(self, web: Web) -> None:
        response = web.anonymous().get("/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    def test_metrics_prometheus_text(self, web: Web) -> None:
        response = web.api("viewer").get("/metrics")

        assert response.headers["content-type"].startswith("text/plain")
        assert "# TYPE prizm_vault_api_calls_total counter" in response.text

    def test_openapi_lists_endpoints(self, web: Web) -> None:
        document = web.anonymous().get("/api/v1/openapi.json").json()

        paths = set(document["paths"])
        assert "/api/v1/integrations/{name}/test" in paths
        assert "/api/v1/integrations/test" in paths
        assert "/api/v1/connectors/{name}/check" in paths
        assert "/api/v1/connectors/{name}/runs" in paths
        assert "/api/v1/runs/{run_id}" in paths
        assert not any(path.startswith("/settings") for path in paths)

    def test_security_headers(self, web: Web) -> None:
        response = web.anonymous().get("/login")

        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"

    def test_unknown_api_path_json_error(self, web: Web) -> None:
        response = web.api("viewer").get("/api/v1/nothing")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    def test_validation_error_hides_input(self, web: Web, canaries: Canaries) -> None:
        secret = canaries.make("misplaced")

        response = web.api("admin").post(
            "/api/v1/integrations", json={"type": "aws", "settings": secret}
        )

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_request"
        assert "settings" in response.json()["error"]["message"]


class TestLimiter:
    def test_window_slides(self) -> None:
        now = [0.0]
        limiter = LoginLimiter(
            LoginLimits(per_user=2, per_address=10, window_seconds=60),
            clock=lambda: now[0],
        )
        limiter.failed("ana", "10.0.0.1")
        limiter.failed("ana", "10.0.0.1")

        with pytest.raises(TooManyAttempts) as locked:
            limiter.check("ana", "10.0.0.1")
        now[0] = 61.0
        limiter.check("ana", "10.0.0.1")

        assert locked.value.retry_after == 60
        assert locked.value.http_status == 429


class TestUsersApi:
    def test_admin_manages_users(self, web: Web) -> None:
        client = web.api("admin")

        created = client.post(
            "/api/v1/users",
            json={"name": "bob", "role": "editor", "password": PASSWORD},
        )
        listed = client.get("/api/v1/users").json()
        removed = client.delete("/api/v1/users/bob")

        assert created.status_code == 201
        assert created.json()["role"] == "editor"
        assert "bob" in [user["name"] for user in listed]
        assert all("password" not in str(user) for user in listed)
        assert removed.status_code == 204
        assert client.delete("/api/v1/users/bob").status_code == 404

    def test_admin_changes_role(self, web: Web) -> None:
        web.add_user("bob", "viewer")

        response = web.api("admin").patch("/api/v1/users/bob", json={"role": "editor"})

        assert response.status_code == 200, response.text
        assert response.json()["role"] == "editor"

    def test_only_admin_not_demoted(self, web: Web) -> None:
        client = web.api("admin")

        response = client.patch("/api/v1/users/admin-api", json={"role": "viewer"})

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_user"
        assert "only admin" in response.json()["error"]["message"]

    def test_editor_cannot_change_users(self, web: Web) -> None:
        web.add_user("bob", "viewer")

        response = web.api("editor").patch("/api/v1/users/bob", json={"role": "admin"})

        assert response.status_code == 403
        assert UserService(open_store()).get("bob").role == "viewer"

    def test_page_changes_password(self, web: Web, canaries: Canaries) -> None:
        web.add_user("bob", "viewer")
        client = web.as_role("admin")
        new_password = canaries.make("bob-password")

        response = client.post(
            "/settings/users/update",
            data={"csrf_token": client.csrf, "name": "bob", "password": new_password},
        )
        page = client.get(response.headers["location"]).text

        assert response.status_code == 303, response.text
        assert "Changed user &#39;bob&#39;." in page
        assert UserService(open_store()).authenticate("bob", new_password)
        assert UserService(open_store()).get("bob").role == "viewer"

    def test_editor_cannot_remove_users(self, web: Web) -> None:
        web.add_user("bob", "viewer")

        response = web.api("editor").delete("/api/v1/users/bob")

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"

    def test_invalid_role_422(self, web: Web) -> None:
        response = web.api("admin").post(
            "/api/v1/users",
            json={"name": "bob", "role": "owner", "password": PASSWORD},
        )

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_user"
