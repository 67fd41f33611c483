"""The console in real headless Chromium: admin, editor and viewer scenarios.

With PRIZM_SCREENSHOTS=1 (``make screenshots``) the tests also write the pictures
of docs/web-console.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prizm.connector_service import ConnectorService
from prizm.integrations import IntegrationService
from prizm.store import open_store
from prizm.web import create_app
from tests.conftest import REPOSITORY, SCREENSHOTS
from tests.support.canaries import CANARIES, Canaries
from tests.support.fixtures import ACCESS_KEY_ID, AwsFixture
from tests.support.postgres import Database
from tests.web.browser import ConsoleServer, chromium_context
from tests.web.conftest import SECRET, connector_fields, store_credentials
from tests.web.support import PASSWORD, Web

pytestmark = pytest.mark.slow

DOCS = REPOSITORY / "docs"


@pytest.fixture
def server() -> Iterator[ConsoleServer]:
    with ConsoleServer(create_app(open_store())) as running:
        yield running


@pytest.fixture
def page(tmp_path: Path, server: ConsoleServer) -> Iterator[Any]:
    """A Chromium tab on the console; every page it loads is scanned for canaries."""
    for context in chromium_context(tmp_path / "chromium-profile"):
        tab = context.new_page()  # type: ignore[attr-defined]
        tab.set_default_timeout(20_000)
        tab.base_url = server.url
        yield tab
        CANARIES.scan(tab.content(), "the last page Chromium showed")


def sign_in(page: Any, name: str) -> None:
    page.goto(page.base_url + "/")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/connectors")


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / name), full_page=True)


def scan(page: Any, where: str) -> None:
    CANARIES.scan(page.content(), where)


class TestAdmin:
    def test_add_aws_integration(
        self,
        web: Web,
        page: Any,
        aws: AwsFixture,
        canaries: Canaries,
        database: Database,
    ) -> None:
        web.add_user("admin", "admin")
        secret_key = canaries.make("aws-secret-key")
        aws.create_secret(SECRET, '{"username": "u", "password": "p"}')
        sign_in(page, "admin")

        page.click("text=Integrations")
        page.click("text=Add Integration")
        page.click("text=AWS Secrets Manager")
        key_hidden = page.is_hidden("#f-access_key_id")
        page.fill("#f-region", aws.region)
        page.select_option("#f-auth", "access-keys")
        key_visible = page.is_visible("#f-access_key_id")
        page.fill("#f-access_key_id", ACCESS_KEY_ID)
        page.fill("#f-secret_access_key", secret_key)
        page.fill("#f-allowed-secrets", "prizm/*")
        page.click("text=Advanced settings")
        page.fill("#f-endpoint_url", aws.endpoint)
        page.check("#f-allow_http")
        page.click("text=Test Connection options")
        page.fill("#f-test-secrets", f"{SECRET}#password")
        page.click("button:has-text('Test Connection')")
        page.wait_for_selector("#report")
        report = page.inner_text("#report")
        scan(page, "the Add Integration form after Test Connection")
        screenshot(page, "web-add-integration.png")
        page.click("button:has-text('Save')")
        page.wait_for_url("**/settings/integrations?saved=aws")

        assert key_hidden
        assert key_visible
        assert "Test Connection: passed" in report
        assert "Credentials" in report
        assert f"Secret {SECRET}#password" in report
        row = page.inner_text("#integration-aws")
        assert "AWS Secrets Manager" in row
        assert f"region {aws.region}" in row
        assert "access-keys" in row
        assert "prizm/*" in row

        IntegrationService(open_store()).add(
            "hashicorp",
            "vault-prod",
            {
                "address": "https://vault.example.com:8200",
                "namespace": "data",
                "auth": "approle",
                "role_id": "prizm-reader",
                "secret_id": canaries.make("secret-id"),
            },
        )
        ConnectorService(open_store()).add(
            "postgres", "analytics", connector_fields(database)
        )
        page.click("#integration-aws button:has-text('Test')")
        page.wait_for_selector("#report")
        page.goto(page.base_url + "/settings/integrations")
        scan(page, "the Integrations list")
        screenshot(page, "web-integrations.png")

        assert "passed" in page.inner_text("#integration-aws")
        assert "1" in page.inner_text("#integration-aws td:nth-child(6)")

    def test_remove_referenced_refused(
        self, web: Web, page: Any, aws: AwsFixture, database: Database
    ) -> None:
        web.add_user("admin", "admin")
        aws.add_integration()
        ConnectorService(open_store()).add(
            "postgres", "analytics", connector_fields(database)
        )
        sign_in(page, "admin")

        page.goto(page.base_url + "/settings/integrations")
        page.click("#integration-aws button:has-text('Remove')")

        message = page.inner_text("[role=alert]")
        assert "integration_in_use" in message
        assert "analytics" in message


class TestEditor:
    def test_add_connector_and_run(
        self,
        web: Web,
        page: Any,
        aws: AwsFixture,
        database: Database,
        canaries: Canaries,
    ) -> None:
        web.add_user("editor", "editor")
        database.set_password(canaries.make("pg-password"))
        aws.add_integration()
        version = store_credentials(aws, database)
        fields = connector_fields(database)
        sign_in(page, "editor")

        page.click("text=New connector")
        page.click("text=PostgreSQL")
        page.fill("#f-name", "analytics")
        for name in ("host", "port", "database", "username"):
            page.fill(f"#f-{name}", fields[name])
        page.type("#f-password", fields["password"])
        page.wait_for_selector("#v-password .ok")
        validation = page.inner_text("#v-password")
        page.click("#f-password ~ button:has-text('Check')")
        page.wait_for_selector("#c-password .step")
        check = page.inner_text("#c-password")
        page.select_option("#f-sslmode", "disable")
        page.click("button:has-text('Save')")
        page.wait_for_url("**/connectors/analytics?saved=1")
        page.click("button:has-text('Run now')")
        page.wait_for_selector("#run-panel[data-status=succeeded]", timeout=60_000)
        scan(page, "the run page")
        screenshot(page, "web-run.png")
        panel = page.inner_text("#run-panel")

        assert "Reference to secret 'prizm/analytics'" in validation
        assert "arn:aws:secretsmanager:" in check
        assert version in check
        assert "succeeded" in panel
        assert "2 schemas, 3 tables" in panel
        assert "customers" in panel
        assert version in panel

    def test_literal_password_flagged(
        self, web: Web, page: Any, aws: AwsFixture, canaries: Canaries
    ) -> None:
        web.add_user("editor", "editor")
        aws.add_integration()
        sign_in(page, "editor")

        page.goto(page.base_url + "/connectors/new?type=postgres")
        page.type("#f-password", canaries.make_plain("typed"))
        page.wait_for_selector("#v-password .bad")

        assert "invalid_field" in page.inner_text("#v-password")


class TestViewer:
    def test_viewer_cannot_see_admin_pages(
        self, web: Web, page: Any, aws: AwsFixture
    ) -> None:
        web.add_user("viewer", "viewer")
        aws.add_integration()
        sign_in(page, "viewer")

        nav = page.inner_text("nav")
        page.click("text=Integrations")
        listing = page.inner_text("main")
        response = page.goto(page.base_url + "/settings/integrations/new/aws")
        refused = page.inner_text("main")
        users = page.goto(page.base_url + "/settings/users")

        assert "Users" not in nav
        assert "aws" in listing
        assert "Add Integration" not in listing
        assert "Edit" not in listing
        assert response.status == 403
        assert "Not allowed" in refused
        assert "permission_denied" in refused
        assert users.status == 403
