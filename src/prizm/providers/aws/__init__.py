"""AWS Secrets Manager: settings, provider and Test Connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from prizm.providers.aws.settings import AwsSettings

if TYPE_CHECKING:
    from prizm.providers.aws.provider import AwsProvider

__all__ = ["AWS", "AwsProvider", "AwsProviderType", "AwsSettings"]


class AwsProviderType:
    """The AWS Secrets Manager integration type."""

    type_name: str = "aws"
    display_name: str = "AWS Secrets Manager"
    default_name: str = "aws"
    settings_model: type[BaseModel] = AwsSettings
    credential_fields: tuple[str, ...] = ("secret_access_key", "session_token")
    destination_fields: tuple[str, ...] = (
        "endpoint_url",
        "sts_endpoint_url",
        "kms_endpoint_url",
        "allow_http",
    )

    def create(self, name: str, settings: BaseModel) -> AwsProvider:
        assert isinstance(settings, AwsSettings)
        # Imported here so that listing types or reading settings does not load
        # the vault SDK.
        from prizm.providers.aws.provider import AwsProvider

        return AwsProvider(name, settings)

    def summary(self, settings: Mapping[str, Any]) -> dict[str, str]:
        location = f"region {settings.get('region', '?')}"
        if settings.get("endpoint_url"):
            location += f", endpoint {settings['endpoint_url']}"
        auth = str(settings.get("auth", "iam-role"))
        if settings.get("role_arn"):
            auth += f", assumes {settings['role_arn']}"
        return {"location": location, "auth": auth}


AWS = AwsProviderType()


def __getattr__(name: str) -> Any:
    if name == "AwsProvider":
        from prizm.providers.aws.provider import AwsProvider

        return AwsProvider
    raise AttributeError(name)
