"""Each authentication method against the fake's token endpoints, over TLS.

The ``default`` chain is tested through its environment, workload identity and
managed identity members. Its Azure CLI member is excluded in every test: it runs
the ``az`` program, which would use a real login if one is installed.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from prizm.integrations import IntegrationService
from prizm.store import open_store
from tests.providers.azure.support import (
    KEY_PASSWORD,
    MANAGED_IDENTITY,
    USER_ASSIGNED,
    AzureFixture,
    error_of,
    resolve_one,
)
from tests.support.canaries import Canaries


class TestClientCertificate:
    def test_reads_secret(self, azure: AzureFixture) -> None:
        azure.fake.login.add_app_certificate(
            azure.app.client_id, azure.tls.client_certificate
        )
        azure.fake.vault.set_secret("s", "by-certificate")
        azure.add_integration(auth="client-certificate")

        assert resolve_one("vault://azure/s") == "by-certificate"

    def test_encrypted_key_with_password(self, azure: AzureFixture) -> None:
        azure.fake.login.add_app_certificate(
            azure.app.client_id, azure.tls.client_certificate
        )
        azure.fake.vault.set_secret("s", "by-encrypted-key")
        azure.add_integration(
            auth="client-certificate",
            certificate_file=str(azure.tls.encrypted_client_pem),
            certificate_password=KEY_PASSWORD,
        )

        assert resolve_one("vault://azure/s") == "by-encrypted-key"

    def test_encrypted_key_without_password(self, azure: AzureFixture) -> None:
        azure.add_integration(
            auth="client-certificate",
            certificate_file=str(azure.tls.encrypted_client_pem),
        )

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert "--certificate-password-stdin" in error.text

    def test_unregistered_certificate(self, azure: AzureFixture) -> None:
        azure.add_integration(auth="client-certificate")

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert "AADSTS700027" in error.text
        assert "--certificate-file" in error.text

    def test_certificate_file_gone(self, azure: AzureFixture, tmp_path: Path) -> None:
        pem = tmp_path / "app.pem"
        pem.write_bytes(azure.tls.client_pem.read_bytes())
        azure.add_integration(auth="client-certificate", certificate_file=str(pem))
        pem.unlink()

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert str(pem) in error.text
        assert error.__cause__ is None


class TestManagedIdentity:
    def test_system_assigned(self, app_service: AzureFixture) -> None:
        app_service.fake.vault.set_secret("s", "by-identity")
        app_service.add_integration(auth="managed-identity")

        assert resolve_one("vault://azure/s") == "by-identity"
        assert app_service.fake.login.count("/msi/token") == 1

    def test_user_assigned(self, app_service: AzureFixture) -> None:
        app_service.fake.vault.set_secret("s", "v")
        app_service.fake.vault.denied[MANAGED_IDENTITY] = "ForbiddenByRbac"
        app_service.add_integration(auth="managed-identity", client_id=USER_ASSIGNED)

        assert resolve_one("vault://azure/s") == "v"

    def test_unknown_user_assigned(self, app_service: AzureFixture) -> None:
        app_service.add_integration(
            auth="managed-identity", client_id=str(uuid.uuid4())
        )

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert "No User Assigned" in error.text
        assert "managed identity" in error.text

    def test_no_identity_endpoint_header(
        self, app_service: AzureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
        app_service.add_integration(auth="managed-identity")

        assert error_of("vault://azure/s").code == "invalid_credentials"


class TestDefaultChain:
    def test_environment_credential(
        self, azure: AzureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AZURE_TENANT_ID", azure.fake.login.tenant_id)
        monkeypatch.setenv("AZURE_CLIENT_ID", azure.app.client_id)
        monkeypatch.setenv("AZURE_CLIENT_SECRET", azure.app.client_secret)
        azure.fake.vault.set_secret("s", "from-environment")
        azure.add_integration(
            auth="default",
            exclude_credential="managed-identity",
        )

        assert resolve_one("vault://azure/s") == "from-environment"

    def test_environment_wrong_secret(
        self,
        azure: AzureFixture,
        canaries: Canaries,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("AZURE_TENANT_ID", azure.fake.login.tenant_id)
        monkeypatch.setenv("AZURE_CLIENT_ID", azure.app.client_id)
        monkeypatch.setenv("AZURE_CLIENT_SECRET", canaries.make("env-secret"))
        azure.add_integration(auth="default", exclude_credential="managed-identity")

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert "AADSTS7000215" in error.text
        assert "AZURE_CLIENT_SECRET" in error.text
        canaries.scan(error.text, "the error message")

    def test_workload_identity(
        self, azure: AzureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        token_file = tmp_path / "azure-identity-token"
        assertion = f"service-account-token-{uuid.uuid4().hex}"
        token_file.write_text(assertion)
        azure.fake.login.add_app_federated_token(azure.app.client_id, assertion)
        monkeypatch.setenv("AZURE_TENANT_ID", azure.fake.login.tenant_id)
        monkeypatch.setenv("AZURE_CLIENT_ID", azure.app.client_id)
        monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", azure.fake.authority)
        azure.fake.vault.set_secret("s", "from-workload")
        azure.add_integration(auth="default", exclude_credential="managed-identity")

        assert resolve_one("vault://azure/s") == "from-workload"

    def test_managed_identity_member(self, app_service: AzureFixture) -> None:
        app_service.fake.vault.set_secret("s", "from-identity")
        app_service.add_integration(auth="default", exclude_credential="environment")

        assert resolve_one("vault://azure/s") == "from-identity"

    def test_nothing_available(self, azure: AzureFixture) -> None:
        azure.add_integration(
            auth="default",
            exclude_credential="managed-identity",
        )

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert "EnvironmentCredential" in error.text
        assert "az login" in error.text

    def test_developer_credentials_excluded(self, azure: AzureFixture) -> None:
        azure.add_integration(auth="default", exclude_credential="managed-identity")
        provider = IntegrationService(open_store()).provider("azure")

        members = provider.clients.credential().credentials  # type: ignore[attr-defined]

        names = [member.__class__.__name__ for member in members]
        assert names == ["EnvironmentCredential", "FailedDACCredential"]
