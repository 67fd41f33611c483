"""``/api/v1/integrations`` against moto's Secrets Manager."""

from __future__ import annotations

import json
from typing import Any

from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import ACCESS_KEY_ID, AwsFixture
from tests.support.postgres import Database
from tests.web.conftest import add_connector
from tests.web.support import Web


def aws_body(aws: AwsFixture, secret_key: str, **settings: Any) -> dict[str, Any]:
    values = {
        "region": aws.region,
        "auth": "access-keys",
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": secret_key,
        "endpoint_url": aws.endpoint,
        "allow_http": True,
    }
    values.update(settings)
    return {"type": "aws", "settings": values}


class TestAdd:
    def test_add_hides_credentials(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        secret_key = canaries.make("secret-access-key")

        response = web.api("admin").post(
            "/api/v1/integrations", json=aws_body(aws, secret_key)
        )

        assert response.status_code == 201, response.text
        data = response.json()
        assert data["name"] == "aws"
        assert data["settings"]["secret_access_key"] == "(set)"
        assert data["settings"]["region"] == aws.region

    def test_invalid_settings_422(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        body = aws_body(aws, canaries.make("key"), region="Europe")

        response = web.api("admin").post("/api/v1/integrations", json=body)

        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_integration"
        assert "region" in error["message"]

    def test_duplicate_name_409(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.api("admin")
        client.post("/api/v1/integrations", json=aws_body(aws, canaries.make("a")))

        response = client.post(
            "/api/v1/integrations", json=aws_body(aws, canaries.make("b"))
        )

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "integration_exists"

    def test_unknown_type_422(self, web: Web) -> None:
        response = web.api("admin").post(
            "/api/v1/integrations", json={"type": "gcp", "settings": {}}
        )

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "usage_error"


class TestReadAndChange:
    def test_list_shows_location_and_users(
        self, web: Web, aws: AwsFixture, canaries: Canaries, database: Database
    ) -> None:
        web.api("admin").post(
            "/api/v1/integrations", json=aws_body(aws, canaries.make("key"))
        )
        add_connector(database)

        items = web.api("viewer").get("/api/v1/integrations").json()

        assert [item["name"] for item in items] == ["aws"]
        assert items[0]["location"].startswith(f"region {aws.region}")
        assert items[0]["auth"] == "access-keys"
        assert items[0]["connectors"] == ["analytics"]

    def test_get_unknown_404(self, web: Web) -> None:
        response = web.api("viewer").get("/api/v1/integrations/nope")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_integration"

    def test_empty_credential_keeps_stored(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.api("admin")
        client.post("/api/v1/integrations", json=aws_body(aws, canaries.make("key")))

        response = client.patch(
            "/api/v1/integrations/aws",
            json={"settings": {"secret_access_key": "", "read_timeout": 20}},
        )

        assert response.status_code == 200, response.text
        assert response.json()["settings"]["read_timeout"] == 20
        assert response.json()["settings"]["secret_access_key"] == "(set)"
        event = open_store().audit.events()[-1]
        assert event.action == "integration.update"
        assert event.details["changed"] == ["read_timeout"]
        report = client.post("/api/v1/integrations/aws/test", json={}).json()
        assert report["ok"], report

    def test_clear_setting(self, web: Web, aws: AwsFixture, canaries: Canaries) -> None:
        client = web.api("admin")
        client.post(
            "/api/v1/integrations",
            json=aws_body(aws, canaries.make("key"), external_id=None),
        )

        response = client.patch(
            "/api/v1/integrations/aws", json={"clear": ["kms_key_arn", "role_arn"]}
        )

        assert response.status_code == 200, response.text
        assert "kms_key_arn" not in response.json()["settings"]

    def test_new_destination_needs_credentials(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        client = web.api("admin")
        key = canaries.make("key")
        client.post("/api/v1/integrations", json=aws_body(aws, key))

        moved = client.patch(
            "/api/v1/integrations/aws", json={"clear": ["endpoint_url"]}
        )
        resupplied = client.patch(
            "/api/v1/integrations/aws",
            json={"clear": ["endpoint_url"], "settings": {"secret_access_key": key}},
        )

        assert moved.status_code == 422
        assert moved.json()["error"]["code"] == "invalid_integration"
        assert "must be entered again" in moved.json()["error"]["message"]
        assert resupplied.status_code == 200, resupplied.text
        assert "endpoint_url" not in resupplied.json()["settings"]

    def test_remove_referenced_409(
        self, web: Web, aws: AwsFixture, canaries: Canaries, database: Database
    ) -> None:
        client = web.api("admin")
        client.post("/api/v1/integrations", json=aws_body(aws, canaries.make("k")))
        add_connector(database, "analytics")

        response = client.delete("/api/v1/integrations/aws")

        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "integration_in_use"
        assert "analytics" in error["message"]

    def test_remove(self, web: Web, aws: AwsFixture, canaries: Canaries) -> None:
        client = web.api("admin")
        client.post("/api/v1/integrations", json=aws_body(aws, canaries.make("k")))

        response = client.delete("/api/v1/integrations/aws")

        assert response.status_code == 204
        assert client.get("/api/v1/integrations/aws").status_code == 404


class TestConnection:
    def test_saved_test_records_outcome(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        password = canaries.make("db-password")
        aws.create_secret("prizm/db", json.dumps({"password": password}))
        client = web.api("admin")
        client.post("/api/v1/integrations", json=aws_body(aws, canaries.make("k")))

        report = client.post(
            "/api/v1/integrations/aws/test", json={"secrets": ["prizm/db#password"]}
        ).json()

        assert report["ok"], report
        names = [step["name"] for step in report["steps"]]
        assert "Secret prizm/db#password" in names
        last = client.get("/api/v1/integrations/aws").json()["last_test"]
        assert last["ok"] is True

    def test_unsaved_test_stores_nothing(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        body = {**aws_body(aws, canaries.make("k")), "secrets": []}

        report = web.api("admin").post("/api/v1/integrations/test", json=body).json()

        assert report["ok"], report
        assert report["integration"] == "aws"
        assert web.api("viewer").get("/api/v1/integrations").json() == []

    def test_unsaved_test_audited(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.create_secret("prizm/db", json.dumps({"password": canaries.make("p")}))
        body = {
            **aws_body(aws, canaries.make("k")),
            "name": "trial",
            "secrets": ["prizm/db#password", "team/x"],
            "allowed_secrets": ["prizm/*"],
        }

        web.api("admin").post("/api/v1/integrations/test", json=body)

        event = open_store().audit.events()[-1]
        assert event.action == "integration.test"
        assert event.actor == "web:admin-api"
        assert event.target == "trial"
        assert event.outcome == "failed"
        assert event.details["unsaved"] is True
        assert event.details["type"] == "aws"
        assert event.details["secrets"] == ["prizm/db#password", "team/x"]
        assert event.details["allowed_secrets"] == ["prizm/*"]
        assert event.details["failed_steps"] == ["Secret team/x"]

    def test_unsaved_failure_has_fix(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        body = {
            **aws_body(aws, canaries.make("k")),
            "secrets": ["prizm/missing#password"],
        }

        report = web.api("admin").post("/api/v1/integrations/test", json=body).json()

        assert report["ok"] is False
        failed = [step for step in report["steps"] if step["status"] == "failed"]
        assert failed[0]["code"] == "secret_not_found"
        assert failed[0]["fix"]


class TestTypes:
    def test_aws_fields(self, web: Web) -> None:
        kind = web.api("viewer").get("/api/v1/integration-types/aws").json()

        labels = [field["label"] for field in kind["fields"] if not field["advanced"]]
        assert labels == [
            "AWS Region",
            "Authentication Method",
            "Access Key ID",
            "Secret Access Key",
            "KMS Key ARN",
        ]
        fields = {field["name"]: field for field in kind["fields"]}
        assert fields["secret_access_key"]["secret"] is True
        assert fields["secret_access_key"]["show_when"] == {
            "field": "auth",
            "values": ["access-keys"],
        }
        assert [c["label"] for c in fields["auth"]["choices"]] == [
            "IAM Role",
            "Access Keys",
        ]
        assert fields["role_arn"]["advanced"] is True
        assert fields["endpoint_url"]["advanced"] is True

    def test_every_type_listed(self, web: Web) -> None:
        kinds = web.api("viewer").get("/api/v1/integration-types").json()

        assert {kind["type"] for kind in kinds} == {"aws", "hashicorp", "azure"}

    def test_connector_types(self, web: Web) -> None:
        kinds = web.api("viewer").get("/api/v1/connector-types").json()

        postgres = next(kind for kind in kinds if kind["type"] == "postgres")
        secret = [field["name"] for field in postgres["fields"] if field["secret"]]
        assert secret == ["password"]


class TestAllowedSecrets:
    def test_add_with_patterns(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        body = {**aws_body(aws, canaries.make("k")), "allowed_secrets": ["prizm/*"]}

        response = web.api("admin").post("/api/v1/integrations", json=body)

        assert response.status_code == 201, response.text
        assert response.json()["allowed_secrets"] == ["prizm/*"]
        assert response.json()["warnings"] == []

    def test_add_unrestricted_warns(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        body = aws_body(aws, canaries.make("k"))

        response = web.api("admin").post("/api/v1/integrations", json=body)

        warnings = response.json()["warnings"]
        assert len(warnings) == 1
        assert "allows every secret" in warnings[0]
        assert "'prizm/*'" in warnings[0]

    def test_bad_pattern_422_stores_nothing(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        body = {**aws_body(aws, canaries.make("k")), "allowed_secrets": [" prizm/*"]}
        client = web.api("admin")

        response = client.post("/api/v1/integrations", json=body)

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_integration"
        assert client.get("/api/v1/integrations").json() == []

    def test_put_patterns_names_refused_connectors(
        self, web: Web, aws: AwsFixture, canaries: Canaries, database: Database
    ) -> None:
        client = web.api("admin")
        client.post("/api/v1/integrations", json=aws_body(aws, canaries.make("k")))
        add_connector(database, "analytics")

        response = client.put(
            "/api/v1/integrations/aws/allowed-secrets", json={"patterns": ["team/*"]}
        )

        assert response.status_code == 200, response.text
        data = response.json()
        assert data["allowed_secrets"] == ["team/*"]
        assert data["refused_references"] == {"analytics": ["username", "password"]}
        events = open_store().audit.events()
        assert events[-1].action == "integration.restrict"
        assert events[-1].details == {"before": [], "after": ["team/*"]}

    def test_put_patterns_needs_admin(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        web.api("admin").post(
            "/api/v1/integrations", json=aws_body(aws, canaries.make("k"))
        )

        response = web.api("editor").put(
            "/api/v1/integrations/aws/allowed-secrets", json={"patterns": ["x/*"]}
        )

        assert response.status_code == 403
        assert open_store().integrations.get("aws").allowed_secrets == ()

    def test_unsaved_test_skips_secret_outside(
        self, web: Web, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.create_secret("prizm/db", json.dumps({"password": canaries.make("p")}))
        body = {
            **aws_body(aws, canaries.make("k")),
            "secrets": ["prizm/db#password"],
            "allowed_secrets": ["team/*"],
        }

        report = web.api("admin").post("/api/v1/integrations/test", json=body).json()

        assert report["ok"] is False
        failed = [step for step in report["steps"] if step["status"] == "failed"]
        assert [step["code"] for step in failed] == ["reference_not_allowed"]
