"""The settings model: the vault URL rule, authentication fields, authority, retries."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from prizm.providers.azure.credentials import (
    authority_options,
    http_options,
    retry_budget,
)
from prizm.providers.azure.settings import AzureSettings

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "00000000-0000-4000-8000-000000000001"


def settings(**values: object) -> AzureSettings:
    base: dict[str, object] = {"vault_url": "https://my-vault.vault.azure.net"}
    base.setdefault("auth", "managed-identity")
    base.update(values)
    return AzureSettings.model_validate(base)


class TestVaultUrl:
    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("https://my-vault.vault.azure.net", "https://my-vault.vault.azure.net"),
            ("https://My-Vault.vault.azure.net/", "https://my-vault.vault.azure.net"),
            (
                "https://my-vault.vault.azure.net:443",
                "https://my-vault.vault.azure.net",
            ),
            ("https://kv1.vault.azure.cn", "https://kv1.vault.azure.cn"),
            (
                "https://kv1.vault.usgovcloudapi.net",
                "https://kv1.vault.usgovcloudapi.net",
            ),
            ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
            ("https://[::1]:8443/", "https://[::1]:8443"),
            ("https://localhost:8443", "https://localhost:8443"),
        ],
        ids=[
            "public",
            "case-and-slash",
            "port-443",
            "china",
            "us-gov",
            "ipv4",
            "ipv6",
            "localhost",
        ],
    )
    def test_accepted(self, given: str, stored: str) -> None:
        assert settings(vault_url=given).vault_url == stored

    @pytest.mark.parametrize(
        ("given", "problem"),
        [
            ("http://my-vault.vault.azure.net", "https://"),
            ("https://my-vault.example.com", "not a Key Vault host"),
            ("https://vault.azure.net.evil.example", "not a Key Vault host"),
            ("https://my-vault.vault.azure.net/secrets", "no path"),
            ("https://my-vault.vault.azure.net?x=1", "no path"),
            ("https://user@my-vault.vault.azure.net", "no user"),
            ("https://my-vault.vault.azure.net:8443", "no port"),
            ("https://ab.vault.azure.net", "not a Key Vault name"),
            ("https://my--vault.vault.azure.net", "not a Key Vault name"),
            ("https://my_vault.vault.azure.net", "not a Key Vault name"),
            ("https://127.0.0.1", "needs a port"),
            ("https://10.0.0.5:8443", "not a Key Vault host"),
        ],
        ids=[
            "http",
            "other-host",
            "suffix-not-at-end",
            "path",
            "query",
            "user",
            "port",
            "short-name",
            "double-dash",
            "underscore",
            "loopback-without-port",
            "private-address",
        ],
    )
    def test_rejected(self, given: str, problem: str) -> None:
        with pytest.raises(ValidationError) as caught:
            settings(vault_url=given)

        assert problem in str(caught.value)

    def test_loopback_is_flagged(self) -> None:
        assert settings(vault_url="https://127.0.0.1:8443").is_loopback()
        assert not settings().is_loopback()


class TestAuthFields:
    def test_client_secret_needs_all_three(self) -> None:
        with pytest.raises(ValidationError) as caught:
            settings(auth="client-secret", tenant_id=TENANT)

        assert "client ID and client secret" in str(caught.value)

    def test_client_secret_is_secret(self) -> None:
        model = settings(
            auth="client-secret", tenant_id=TENANT, client_id=CLIENT, client_secret="s3"
        )

        assert "s3" not in repr(model)

    def test_tenant_must_be_guid(self) -> None:
        with pytest.raises(ValidationError) as caught:
            settings(auth="client-secret", tenant_id="contoso.onmicrosoft.com")

        assert "GUID" in str(caught.value)

    def test_managed_identity_takes_no_tenant(self) -> None:
        with pytest.raises(ValidationError):
            settings(tenant_id=TENANT)

    def test_managed_identity_takes_no_secret(self) -> None:
        with pytest.raises(ValidationError):
            settings(client_secret="s3")

    def test_exclusions_only_for_default(self) -> None:
        with pytest.raises(ValidationError):
            settings(exclude_credentials=["environment"])

    def test_default_keeps_one_member(self) -> None:
        every = ["environment", "workload-identity", "managed-identity", "azure-cli"]

        with pytest.raises(ValidationError):
            settings(auth="default", exclude_credentials=every)

    def test_relative_certificate_path_rejected(self) -> None:
        with pytest.raises(ValidationError):
            settings(
                auth="client-certificate",
                tenant_id=TENANT,
                client_id=CLIENT,
                certificate_file="app.pem",
            )


class TestAuthority:
    @pytest.mark.parametrize(
        ("vault_url", "authority"),
        [
            ("https://kv1.vault.azure.net", None),
            ("https://kv1.vault.azure.cn", "https://login.chinacloudapi.cn"),
            ("https://kv1.vault.usgovcloudapi.net", "https://login.microsoftonline.us"),
            ("https://127.0.0.1:8443", None),
        ],
        ids=["public", "china", "us-gov", "loopback"],
    )
    def test_inferred_from_vault(self, vault_url: str, authority: str | None) -> None:
        assert settings(vault_url=vault_url).authority() == authority

    def test_explicit_host_wins(self) -> None:
        model = settings(
            vault_url="https://kv1.vault.azure.cn",
            authority_host="login.microsoftonline.us",
        )

        assert model.authority() == "https://login.microsoftonline.us"

    def test_authority_host_without_path(self) -> None:
        with pytest.raises(ValidationError):
            settings(authority_host="https://login.microsoftonline.com/common")

    def test_known_authority_keeps_instance_discovery(self) -> None:
        model = settings(vault_url="https://kv1.vault.azure.cn")

        options = authority_options(model)

        assert options == {"authority": "https://login.chinacloudapi.cn"}

    def test_other_authority_skips_instance_discovery(self) -> None:
        model = settings(authority_host="https://127.0.0.1:9443")

        options = authority_options(model)

        assert options["authority"] == "https://127.0.0.1:9443"
        assert options["disable_instance_discovery"] is True

    def test_public_cloud_uses_sdk_default(self) -> None:
        assert authority_options(settings()) == {}


class TestRetries:
    def test_retry_budget_of_defaults(self) -> None:
        # Four attempts of 5 + 10 s, and three waits of 30 s.
        assert retry_budget(settings()) == 150

    def test_options_cap_backoff_and_total(self) -> None:
        model = settings(max_retry_wait=5)

        options = http_options(model)

        assert options["retry_backoff_max"] == 5
        assert options["timeout"] == retry_budget(model)

    def test_negative_wait_rejected(self) -> None:
        with pytest.raises(ValidationError):
            settings(max_retry_wait=-1)
