"""Test Connection for Azure Key Vault, against the fake over TLS."""

from __future__ import annotations

import json
import time

from prizm.integrations import IntegrationService
from prizm.providers.base import TestReport as Report
from prizm.store import open_store
from tests.providers.azure.support import AzureFixture
from tests.support.canaries import Canaries
from tests.support.fixtures import run_cli

DAY = 86400


def run_test(name: str = "azure", secrets: tuple[str, ...] = ()) -> Report:
    return IntegrationService(open_store()).test(name, list(secrets))


def statuses(report: Report) -> dict[str, str]:
    return {step.name: step.status for step in report.steps}


class TestSteps:
    def test_all_steps_pass(self, azure: AzureFixture, canaries: Canaries) -> None:
        azure.fake.vault.set_secret(
            "db", json.dumps({"user": "app", "password": canaries.make("pw")})
        )
        azure.add_integration()

        report = run_test(secrets=("db#password",))

        assert report.ok, report.to_dict()
        assert statuses(report) == {
            "Key Vault": "ok",
            "Token": "ok",
            "Secret db#password": "ok",
        }
        secret_step = report.steps[2]
        assert "JSON keys: user, password" in secret_step.detail
        assert "key 'password' found" in secret_step.detail
        assert "no expiry date" in secret_step.detail
        assert secret_step.data["keys"] == ["user", "password"]

    def test_vault_step_names_tenant_and_scope(self, azure: AzureFixture) -> None:
        azure.add_integration()

        report = run_test()

        vault_step = report.steps[0]
        assert vault_step.data["tenant_id"] == azure.fake.login.tenant_id
        assert vault_step.data["scope"] == "https://vault.azure.net/.default"

    def test_scope_form_of_challenge(self, azure: AzureFixture) -> None:
        azure.fake.vault.challenge_form = "scope"
        azure.fake.vault.set_secret("s", "v")
        azure.add_integration()

        report = run_test(secrets=("s",))

        assert report.ok, report.to_dict()

    def test_unrelated_disabled_secret_ignored(self, azure: AzureFixture) -> None:
        off = azure.fake.vault.set_secret("unrelated", "v")
        azure.fake.vault.update_version("unrelated", off, enabled=False)
        azure.fake.vault.set_secret("used", "v")
        azure.add_integration()

        without_secrets = run_test()
        with_secret = run_test(secrets=("used",))

        assert without_secrets.ok
        assert with_secret.ok
        assert azure.fake.vault.counts()["get"] == 1

    def test_named_disabled_secret_fails(self, azure: AzureFixture) -> None:
        off = azure.fake.vault.set_secret("off", "v")
        azure.fake.vault.update_version("off", off, enabled=False)
        azure.add_integration()

        report = run_test(secrets=("off",))

        assert not report.ok
        assert report.steps[2].code == "secret_disabled"

    def test_expired_secret_fails(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("old", "v", expires=int(time.time()) - DAY)
        azure.add_integration()

        report = run_test(secrets=("old",))

        assert report.steps[2].code == "secret_expired"

    def test_secret_expiring_soon_warns(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("soon", "v", expires=int(time.time()) + 3 * DAY)
        azure.add_integration()

        report = run_test(secrets=("soon",))

        assert report.ok
        assert report.steps[2].status == "warning"
        assert "expires" in report.steps[2].detail

    def test_missing_key_fails(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("db", '{"user": "app"}')
        azure.add_integration()

        report = run_test(secrets=("db#password",))

        assert report.steps[2].code == "key_not_found"

    def test_reference_argument(self, azure: AzureFixture) -> None:
        version = azure.fake.vault.set_secret("db", '{"user": "app"}')
        azure.add_integration()

        report = run_test(secrets=(f"vault://azure/db?version={version}#user",))

        assert report.ok, report.to_dict()
        assert version in report.steps[2].detail

    def test_invalid_name_fails_step(self, azure: AzureFixture) -> None:
        azure.add_integration()

        report = run_test(secrets=("prizm/db",))

        assert report.steps[2].code == "invalid_reference"
        assert "letters, digits and dashes" in report.steps[2].detail
        assert "'prizm-db'" in (report.steps[2].fix or "")


class TestIdentities:
    def test_managed_identity(self, app_service: AzureFixture) -> None:
        app_service.fake.vault.set_secret("s", "v")
        app_service.add_integration(auth="managed-identity")

        report = run_test(secrets=("s",))

        assert report.ok, report.to_dict()
        assert (
            "managed-identity credential got an access token" in report.steps[1].detail
        )

    def test_default_chain_without_source(self, azure: AzureFixture) -> None:
        azure.add_integration(auth="default", exclude_credential="managed-identity")

        report = run_test(secrets=("s",))

        assert report.steps[1].status == "failed"
        assert report.steps[1].code == "invalid_credentials"
        assert report.steps[2].status == "skipped"


class TestFailures:
    def test_wrong_client_secret_skips_secrets(
        self, azure: AzureFixture, canaries: Canaries
    ) -> None:
        azure.add_integration(client_secret=canaries.make("wrong"))

        report = run_test(secrets=("db",))

        assert statuses(report) == {
            "Key Vault": "ok",
            "Token": "failed",
            "Secret db": "skipped",
        }
        assert report.steps[1].code == "invalid_credentials"
        assert "AADSTS7000215" in report.steps[1].detail

    def test_tenant_mismatch(self, azure: AzureFixture) -> None:
        other_tenant = "0f0f0f0f-0000-4000-8000-000000000000"
        azure.add_integration(tenant_id=other_tenant)

        report = run_test(secrets=("db",))

        assert report.steps[0].status == "failed"
        assert azure.fake.login.tenant_id in report.steps[0].detail
        assert f"--tenant-id {azure.fake.login.tenant_id}" in (
            report.steps[0].fix or ""
        )
        assert statuses(report)["Token"] == "skipped"

    def test_not_a_key_vault(self, azure: AzureFixture) -> None:
        azure.add_integration(vault_url=azure.fake.authority)

        report = run_test()

        assert report.steps[0].status == "failed"
        assert "HTTP 404" in report.steps[0].detail

    def test_vault_unreachable(self, azure: AzureFixture) -> None:
        azure.add_integration(ca_bundle=azure.tls.other_ca, max_retries="0")

        report = run_test(secrets=("db",))

        assert report.steps[0].code == "endpoint_unreachable"
        assert statuses(report)["Token"] == "skipped"

    def test_outcome_stored(self, azure: AzureFixture) -> None:
        azure.add_integration()

        run_test()
        listed = run_cli(["integration", "list"])

        assert "passed" in listed.out


class TestCommand:
    def test_cli_prints_steps(self, azure: AzureFixture, canaries: Canaries) -> None:
        azure.fake.vault.set_secret("db", json.dumps({"pw": canaries.make("cli")}))
        azure.add_integration()

        result = run_cli(["integration", "test", "azure", "--secret", "db#pw"])

        assert result.status == 0, result.err
        assert "Key Vault" in result.out
        assert "key 'pw' found" in result.out
        assert "Result: passed" in result.out

    def test_cli_fails_with_status_1(self, azure: AzureFixture) -> None:
        azure.add_integration()

        result = run_cli(
            ["integration", "test", "azure", "--secret", "missing", "--json"]
        )

        assert result.status == 1
        data = json.loads(result.out)
        assert data["ok"] is False
        assert data["steps"][2]["code"] == "secret_not_found"
