"""Integration forms generated from pydantic settings models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, SecretStr

from prizm.providers.base import Provider
from prizm.providers.registry import provider_type
from prizm.web.forms import changes_from_form, integration_form, settings_from_form


class VendorSettings(BaseModel):
    url: str
    mode: Literal["fast", "safe"] = "safe"
    api_key: SecretStr | None = None
    verify: bool = True
    retries: int = 3


class VendorType:
    """An integration type with no layout hint, as a new provider starts out."""

    type_name = "vendor"
    display_name = "Vendor Vault"
    default_name = "vendor"
    settings_model: type[BaseModel] = VendorSettings
    credential_fields = ("api_key",)

    def create(self, name: str, settings: BaseModel) -> Provider:
        raise NotImplementedError

    def summary(self, settings: Mapping[str, Any]) -> dict[str, str]:
        return {}


class TestGeneratedForm:
    def test_new_type_needs_no_layout(self) -> None:
        fields = {field.name: field for field in integration_form(VendorType())}

        assert list(fields) == ["url", "mode", "api_key", "verify", "retries"]
        assert fields["url"].label == "Url"
        assert fields["url"].required
        assert fields["mode"].widget == "select"
        assert fields["mode"].choices == (("fast", "fast"), ("safe", "safe"))
        assert fields["api_key"].widget == "password"
        assert fields["verify"].widget == "checkbox"
        assert fields["retries"].widget == "number"

    def test_secret_default_never_described(self) -> None:
        described = [field.to_dict() for field in integration_form(VendorType())]

        assert next(f for f in described if f["name"] == "api_key")["default"] is None

    def test_hidden_fields_left_out(self) -> None:
        fields = integration_form(provider_type("aws"))

        settings = settings_from_form(
            fields,
            {
                "region": "eu-west-1",
                "auth": "iam-role",
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "kms_key_arn": "",
            },
        )

        assert settings == {"region": "eu-west-1", "auth": "iam-role"}

    def test_edit_keeps_empty_secret(self) -> None:
        fields = integration_form(provider_type("aws"))

        changes, clear = changes_from_form(
            fields,
            {
                "region": "eu-west-1",
                "auth": "access-keys",
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "",
            },
        )

        assert "secret_access_key" not in changes
        assert "secret_access_key" not in clear
        assert "kms_key_arn" in clear
        assert changes["access_key_id"] == "AKIAIOSFODNN7EXAMPLE"

    def test_checkbox_group_to_tuple(self) -> None:
        fields = integration_form(provider_type("azure"))

        settings = settings_from_form(
            fields,
            {
                "vault_url": "https://my-vault.vault.azure.net",
                "auth": "default",
                "exclude_credentials": ["azure-cli", "environment"],
            },
        )

        assert settings["exclude_credentials"] == ("azure-cli", "environment")
