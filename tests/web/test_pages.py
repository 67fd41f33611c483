"""Console pages over the real app: forms, write-only secrets, fragments."""

from __future__ import annotations

import json
import re

from prizm.integrations import IntegrationService
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import ACCESS_KEY_ID, AwsFixture
from tests.support.postgres import Database
from tests.web.conftest import add_connector, connector_fields, store_credentials
from tests.web.support import ConsoleClient, Web


def aws_form(
    client: ConsoleClient, aws: AwsFixture, secret_key: str, **extra: str
) -> dict[str, str]:
    form = {
        "csrf_token": client.csrf,
        "name": "aws",
        "region": aws.region,
        "auth": "access-keys",
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": secret_key,
        "endpoint_url": aws.endpoint,
        "allow_http": "on",
    }
    form.update(extra)
    return form


def input_names(html: str) -> list[str]:
    return re.findall(r'<(?:input|select)[^>]* name="([^"]+)"', html)


class TestIntegrationForms:
    def test_type_chooser_lists_vaults(self, web: Web) -> None:
        page = web.as_role("admin").get("/settings/integrations/new").text

        for name in ("AWS Secrets Manager", "HashiCorp Vault", "Azure Key Vault"):
            assert name in page

    def test_aws_form_fields(self, web: Web) -> None:
        page = web.as_role("admin").get("/settings/integrations/new/aws").text

        names = input_names(page)
        main = names[: names.index("session_token")]
        assert main == [
            "csrf_token",
            "csrf_token",
            "name",
            "region",
            "auth",
            "access_key_id",
            "secret_access_key",
            "kms_key_arn",
        ]
        for label in ("AWS Region", "Authentication Method", "Access Key ID"):
            assert label in page
        assert "IAM Role" in page
        assert "Access Keys" in page
        assert 'data-show-field="auth" data-show-values="access-keys"' in page
        assert re.search(r'type="password" name="secret_access_key"', page)
        assert "Advanced settings" in page
        assert "Role ARN to assume" in page
        assert "Endpoint URL" in page

    def test_invalid_form_not_echoing_secret(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.as_role("admin")
        form = aws_form(client, aws, canaries.make("typed-key"), region="Europe")

        response = client.post("/settings/integrations/new/aws", data=form)

        assert response.status_code == 422
        assert "invalid_integration" in response.text
        assert 'value="Europe"' in response.text
        assert IntegrationService(open_store()).list() == []

    def test_save_then_list(
        self, web: Web, aws: AwsFixture, canaries: Canaries, database: Database
    ) -> None:
        client = web.as_role("admin")

        saved = client.post(
            "/settings/integrations/new/aws",
            data=aws_form(client, aws, canaries.make("key")),
        )
        add_connector(database)
        page = client.get(saved.headers["location"]).text

        assert saved.status_code == 303
        assert "Saved integration &#39;aws&#39;." in page
        assert f"region {aws.region}, endpoint {aws.endpoint}" in page
        assert "access-keys" in page
        assert "never tested" in page
        assert 'title="analytics">1</td>' in page

    def test_save_with_allowed_secrets(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.as_role("admin")
        form = aws_form(
            client, aws, canaries.make("key"), allowed_secrets="prizm/*\r\nteam/db\r\n"
        )

        saved = client.post("/settings/integrations/new/aws", data=form)
        page = client.get(saved.headers["location"]).text
        edit = client.get("/settings/integrations/aws/edit").text

        assert saved.status_code == 303, saved.text
        record = IntegrationService(open_store()).get("aws")
        assert record.allowed_secrets == ("prizm/*", "team/db")
        assert "<code>prizm/*, team/db</code>" in page
        assert "allows every secret" not in page
        assert ">prizm/*\nteam/db</textarea>" in edit

    def test_save_unrestricted_warns(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.as_role("admin")
        form_page = client.get("/settings/integrations/new/aws").text

        saved = client.post(
            "/settings/integrations/new/aws",
            data=aws_form(client, aws, canaries.make("key")),
        )
        page = client.get(saved.headers["location"]).text

        assert 'placeholder="prizm/*"' in form_page
        assert 'class="notice warning"' in page
        assert "allows every secret its identity can read" in page
        assert ">all secrets</span>" in page

    def test_bad_pattern_keeps_form(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.as_role("admin")
        pattern = "prizm/" + "x" * 600
        form = aws_form(client, aws, canaries.make("key"), allowed_secrets=pattern)

        response = client.post("/settings/integrations/new/aws", data=form)

        assert response.status_code == 422
        assert "invalid_integration" in response.text
        assert f">{pattern}</textarea>" in response.text
        assert IntegrationService(open_store()).list() == []

    def test_edit_patterns_audited_and_warned(
        self, web: Web, aws: AwsFixture, canaries: Canaries, database: Database
    ) -> None:
        client = web.as_role("admin")
        client.post(
            "/settings/integrations/new/aws",
            data=aws_form(client, aws, canaries.make("key")),
        )
        add_connector(database, "analytics")
        form = aws_form(client, aws, "", allowed_secrets="team/*")
        del form["name"]

        saved = client.post("/settings/integrations/aws/edit", data=form)
        page = client.get(saved.headers["location"]).text

        assert saved.status_code == 303, saved.text
        assert IntegrationService(open_store()).get("aws").allowed_secrets == (
            "team/*",
        )
        event = open_store().audit.events()[-1]
        assert event.action == "integration.restrict"
        assert event.actor.startswith("web:")
        assert "Connector &#39;analytics&#39; references secrets outside" in page

    def test_edit_without_field_keeps_patterns(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.as_role("admin")
        client.post(
            "/settings/integrations/new/aws",
            data=aws_form(client, aws, canaries.make("key"), allowed_secrets="x/*"),
        )
        form = aws_form(client, aws, "")
        del form["name"]

        saved = client.post("/settings/integrations/aws/edit", data=form)

        assert saved.status_code == 303, saved.text
        assert IntegrationService(open_store()).get("aws").allowed_secrets == ("x/*",)

    def test_test_connection_honours_patterns(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.create_secret("prizm/db", json.dumps({"password": canaries.make("p")}))
        client = web.as_role("admin")
        form = aws_form(
            client,
            aws,
            canaries.make("key"),
            test_secrets="prizm/db",
            allowed_secrets="team/*",
        )

        response = client.post("/settings/integrations/new/aws/test", data=form)

        assert "badge failed" in response.text
        assert "reference_not_allowed" in response.text

    def test_test_connection_unsaved(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.create_secret("prizm/db", json.dumps({"password": canaries.make("p")}))
        client = web.as_role("admin")
        form = aws_form(client, aws, canaries.make("key"), test_secrets="prizm/db")

        response = client.post("/settings/integrations/new/aws/test", data=form)

        assert response.status_code == 200
        assert 'Test Connection: <span class="badge passed">passed' in response.text
        assert "Credentials" in response.text
        assert "Secret prizm/db" in response.text
        assert IntegrationService(open_store()).list() == []
        event = open_store().audit.events()[-1]
        assert event.action == "integration.test"
        assert event.actor == "web:admin-user"
        assert event.target == "aws"
        assert event.outcome == "passed"
        assert event.details["unsaved"] is True
        assert event.details["secrets"] == ["prizm/db"]
        assert event.details["allowed_secrets"] == []

    def test_test_connection_failure_shows_fix(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.as_role("admin")
        form = aws_form(client, aws, canaries.make("key"), test_secrets="prizm/missing")

        response = client.post("/settings/integrations/new/aws/test", data=form)

        assert "badge failed" in response.text
        assert "secret_not_found" in response.text
        assert "Fix:" in response.text

    def test_edit_keeps_secret_when_empty(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.as_role("admin")
        client.post(
            "/settings/integrations/new/aws",
            data=aws_form(client, aws, canaries.make("key")),
        )
        edit = client.get("/settings/integrations/aws/edit").text
        form = aws_form(client, aws, "", read_timeout="25")
        del form["name"]

        tested = client.post("/settings/integrations/aws/edit/test", data=form)
        saved = client.post("/settings/integrations/aws/edit", data=form)

        assert "Stored; leave empty to keep it" in edit
        assert "badge passed" in tested.text
        test_event, update_event = open_store().audit.events()[-2:]
        assert test_event.action == "integration.test"
        assert test_event.actor == "web:admin-user"
        assert test_event.details["unsaved"] is True
        assert "secret_access_key" not in test_event.details["changed"]
        assert "read_timeout" in test_event.details["changed"]
        assert update_event.action == "integration.update"
        assert "secret_access_key" not in update_event.details["changed"]
        assert saved.status_code == 303
        settings = IntegrationService(open_store()).get("aws").settings
        assert settings["read_timeout"] == 25
        assert IntegrationService(open_store()).get("aws").credential_fields == (
            "secret_access_key",
        )

    def test_edit_to_iam_role_drops_keys(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.as_role("admin")
        client.post(
            "/settings/integrations/new/aws",
            data=aws_form(client, aws, canaries.make("key")),
        )

        saved = client.post(
            "/settings/integrations/aws/edit",
            data={
                "csrf_token": client.csrf,
                "region": aws.region,
                "auth": "iam-role",
                "access_key_id": ACCESS_KEY_ID,
                "secret_access_key": "",
            },
        )

        assert saved.status_code == 303, saved.text
        record = IntegrationService(open_store()).get("aws")
        assert record.credential_fields == ()
        assert "access_key_id" not in record.settings
        assert "endpoint_url" not in record.settings

    def test_remove_referenced_names_connectors(
        self, web: Web, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        add_connector(database, "analytics")
        client = web.as_role("admin")

        response = client.post(
            "/settings/integrations/aws/delete", data={"csrf_token": client.csrf}
        )

        assert response.status_code == 409
        assert "integration_in_use" in response.text
        assert "analytics" in response.text

    def test_generic_form_for_every_type(self, web: Web) -> None:
        client = web.as_role("admin")

        hashicorp = client.get("/settings/integrations/new/hashicorp").text
        azure = client.get("/settings/integrations/new/azure").text

        assert 'type="password" name="token"' in hashicorp
        assert 'name="tls_skip_verify"' in hashicorp
        assert 'type="password" name="client_secret"' in azure
        assert 'name="exclude_credentials" value="azure-cli"' in azure


class TestConnectorPages:
    def test_form_shows_reference_hint(self, web: Web, aws: AwsFixture) -> None:
        aws.add_integration()

        page = web.as_role("editor").get("/connectors/new?type=postgres").text

        assert "vault://aws/&lt;secret-name&gt;#&lt;json-key&gt;" in page
        assert 'hx-post="/connectors/validate-field"' in page
        assert 'hx-post="/connectors/check-reference"' in page

    def test_validate_literal_secret_unechoed(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.add_integration()
        client = web.as_role("editor")

        response = client.post(
            "/connectors/validate-field",
            data={
                "csrf_token": client.csrf,
                "type": "postgres",
                "field": "password",
                "password": canaries.make("typed-password"),
            },
        )

        assert response.status_code == 200
        assert "invalid_field" in response.text

    def test_validate_reference(self, web: Web, aws: AwsFixture) -> None:
        aws.add_integration()
        client = web.as_role("editor")

        response = client.post(
            "/connectors/validate-field",
            data={
                "csrf_token": client.csrf,
                "type": "postgres",
                "field": "password",
                "password": "vault://aws/prizm/db#password",
            },
        )

        assert "✓ Reference to secret &#39;prizm/db&#39;" in response.text

    def test_validate_unknown_integration(self, web: Web) -> None:
        client = web.as_role("editor")

        response = client.post(
            "/connectors/validate-field",
            data={
                "csrf_token": client.csrf,
                "type": "postgres",
                "field": "password",
                "password": "vault://nope/prizm/db#password",
            },
        )

        assert "unknown_integration" in response.text

    def test_check_reference_fragment(
        self, web: Web, aws: AwsFixture, database: Database, canaries: Canaries
    ) -> None:
        database.set_password(canaries.make("pg"))
        aws.add_integration()
        version = store_credentials(aws, database)
        client = web.as_role("editor")

        response = client.post(
            "/connectors/check-reference",
            data={
                "csrf_token": client.csrf,
                "field": "password",
                "password": "vault://aws/prizm/analytics#password",
            },
        )

        assert "arn:aws:secretsmanager:" in response.text
        assert version in response.text
        event = open_store().audit.events()[-1]
        assert event.action == "secret.check"
        assert event.actor == "web:editor-user"
        assert event.target == "vault://aws/prizm/analytics#password"
        assert event.details["version_id"] == version

    def test_connector_check_audited(
        self, web: Web, aws: AwsFixture, database: Database, canaries: Canaries
    ) -> None:
        database.set_password(canaries.make("pg"))
        aws.add_integration()
        version = store_credentials(aws, database)
        add_connector(database)
        client = web.as_role("editor")

        response = client.post(
            "/connectors/analytics/check", data={"csrf_token": client.csrf}
        )

        assert version in response.text
        events = open_store().audit.events()[-2:]
        assert [event.action for event in events] == ["secret.check"] * 2
        assert {event.actor for event in events} == {"web:editor-user"}
        assert {event.details["connector"] for event in events} == {"analytics"}
        assert {event.details["version_id"] for event in events} == {version}

    def test_check_literal_not_parsed(self, web: Web, canaries: Canaries) -> None:
        client = web.as_role("editor")

        response = client.post(
            "/connectors/check-reference",
            data={
                "csrf_token": client.csrf,
                "field": "password",
                "password": canaries.make("literal"),
            },
        )

        assert "holds no vault:// reference" in response.text
        actions = [event.action for event in open_store().audit.events()]
        assert "secret.check" not in actions

    def test_invalid_form_drops_literal_secret(
        self, web: Web, aws: AwsFixture, database: Database, canaries: Canaries
    ) -> None:
        aws.add_integration()
        client = web.as_role("editor")
        fields = {**connector_fields(database), "password": canaries.make("typed")}

        response = client.post(
            "/connectors/new",
            data={
                "csrf_token": client.csrf,
                "type": "postgres",
                "name": "analytics",
                **fields,
            },
        )

        assert response.status_code == 422
        assert f'value="{database.name}"' in response.text

    def test_create_run_and_read_result(
        self, web: Web, aws: AwsFixture, database: Database, canaries: Canaries
    ) -> None:
        database.set_password(canaries.make("pg"))
        aws.add_integration()
        version = store_credentials(aws, database)
        client = web.as_role("editor")

        created = client.post(
            "/connectors/new",
            data={
                "csrf_token": client.csrf,
                "type": "postgres",
                "name": "analytics",
                **connector_fields(database),
            },
        )
        started = client.post(
            "/connectors/analytics/run", data={"csrf_token": client.csrf}
        )
        run_path = started.headers["location"]
        web.app.state.runs.shutdown()
        page = client.get(run_path).text
        runs = client.get("/runs").text

        assert created.headers["location"] == "/connectors/analytics?saved=1"
        assert run_path == "/runs/1"
        assert "badge succeeded" in page
        assert version in page
        assert "customers" in page
        assert 'hx-trigger="every 1s"' not in page
        assert "#1" in runs

    def test_active_run_page_polls(
        self, web: Web, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        add_connector(database)
        store = open_store()
        run_id = store.runs.create(store.connectors.get("analytics"), "queued")

        page = web.as_role("viewer").get(f"/runs/{run_id}").text
        panel = web.as_role("viewer").get(f"/runs/{run_id}/panel").text
        table = web.as_role("viewer").get("/runs").text

        assert 'hx-get="/runs/1/panel" hx-trigger="every 1s"' in page
        assert "badge queued" in panel
        assert 'hx-get="/runs/table" hx-trigger="every 2s"' in table

    def test_delete_connector(
        self, web: Web, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        add_connector(database)
        client = web.as_role("editor")

        response = client.post(
            "/connectors/analytics/delete", data={"csrf_token": client.csrf}
        )

        assert response.headers["location"] == "/connectors?removed=analytics"
        assert open_store().connectors.all() == []


class TestUserPages:
    def test_admin_adds_user(self, web: Web, canaries: Canaries) -> None:
        client = web.as_role("admin")

        response = client.post(
            "/settings/users",
            data={
                "csrf_token": client.csrf,
                "name": "bob",
                "role": "editor",
                "password": canaries.make("bob-password"),
            },
        )

        assert response.status_code == 303
        assert "bob" in client.get("/settings/users").text

    def test_short_password_rejected(self, web: Web) -> None:
        client = web.as_role("admin")

        response = client.post(
            "/settings/users",
            data={
                "csrf_token": client.csrf,
                "name": "bob",
                "role": "editor",
                "password": "short",
            },
        )

        assert response.status_code == 422
        assert "invalid_user" in response.text
