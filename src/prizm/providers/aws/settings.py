"""Settings of an AWS Secrets Manager integration, as users enter them."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from prizm.netpolicy import check_endpoint_url
from prizm.providers.base import CredentialSettings

__all__ = ["AwsSettings", "parse_secret_arn"]

REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
KMS_ARN = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:(key/[\w-]{1,128}|alias/[\w/-]{1,256})"
)
SECRET_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):secretsmanager:(?P<region>[a-z]{2}(-[a-z]+)+-\d{1,2})"
    r":(?P<account>\d{12}):secret:(?P<name>.+)"
)
ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
# STS's externalIdType in botocore's service model: 2 to 1224 of [\w+=,.@:/-].
EXTERNAL_ID = re.compile(r"[A-Za-z0-9_+=,.@:/-]{2,1224}")


def parse_secret_arn(name: str) -> re.Match[str] | None:
    """Return the parts of a full Secrets Manager ARN, or None for a plain name."""
    return SECRET_ARN.fullmatch(name)


def _check_url(value: str | None, label: str) -> str | None:
    if value is None or value == "":
        return None
    if "@" in value.split("//", 1)[-1].split("/", 1)[0]:
        raise ValueError(
            f"{label} must not contain a user name or password; give credentials "
            "with the integration's authentication options"
        )
    if not re.fullmatch(r"https?://[^\s/?#@]+(:\d+)?/?", value):
        raise ValueError(
            f"{label} must be an https URL with a host and no path, such as "
            "https://secretsmanager.eu-west-1.amazonaws.com"
        )
    return value.rstrip("/")


class AwsSettings(CredentialSettings):
    """Region, authentication and endpoints of one AWS Secrets Manager integration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str = Field(description="AWS Region of the secrets, such as eu-west-1.")
    auth: Literal["iam-role", "access-keys"] = Field(
        default="iam-role",
        description="iam-role uses the default AWS credential chain; access-keys uses "
        "the keys given here.",
    )
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    kms_key_arn: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    endpoint_url: str | None = None
    sts_endpoint_url: str | None = None
    kms_endpoint_url: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    read_timeout: float = Field(default=10.0, gt=0, le=300)
    max_attempts: int = Field(default=3, ge=1, le=10)
    allow_http: bool = Field(
        default=False,
        description="Accept http:// endpoint URLs, for local emulators (an admin "
        "decision: requests and credentials then travel unencrypted).",
    )
    cache_ttl: float = Field(
        default=0,
        ge=0,
        le=86400,
        description="Seconds a fetched secret may be reused across runs after "
        "DescribeSecret confirms it is still current; 0 turns the cache off.",
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION.fullmatch(value):
            raise ValueError(
                f"'{value}' is not an AWS Region code; use a code such as eu-west-1"
            )
        return value

    @field_validator("access_key_id")
    @classmethod
    def _access_key_id(cls, value: str | None) -> str | None:
        if value and not ACCESS_KEY_ID.fullmatch(value):
            raise ValueError(
                "the Access Key ID must be 16 or more uppercase letters and digits, "
                "such as AKIAIOSFODNN7EXAMPLE"
            )
        return value or None

    @field_validator("secret_access_key", "session_token")
    @classmethod
    def _no_surrounding_space(cls, value: SecretStr | None) -> SecretStr | None:
        # AWS keys and tokens never start or end with whitespace, so such a value
        # is a paste mistake that would otherwise surface as a 403 on every read.
        text = None if value is None else value.get_secret_value()
        if text and text != text.strip():
            raise ValueError(
                "the Secret Access Key or session token starts or ends with "
                "whitespace, which AWS keys never do; enter it again without it"
            )
        return value

    @field_validator("kms_key_arn")
    @classmethod
    def _kms_key_arn(cls, value: str | None) -> str | None:
        if value and not KMS_ARN.fullmatch(value):
            raise ValueError(
                "the KMS Key ARN must look like "
                "arn:aws:kms:eu-west-1:111122223333:key/<key-id> or an alias ARN"
            )
        return value or None

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value and not ROLE_ARN.fullmatch(value):
            raise ValueError(
                "the Role ARN must look like arn:aws:iam::111122223333:role/<name>"
            )
        return value or None

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, value: str | None) -> str | None:
        if value and not EXTERNAL_ID.fullmatch(value):
            raise ValueError(
                "the External ID must be 2 to 1224 characters of letters, digits "
                "and _+=,.@:/- as STS AssumeRole requires"
            )
        return value or None

    @field_validator("endpoint_url", "sts_endpoint_url", "kms_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return _check_url(value, "the endpoint URL")

    @model_validator(mode="after")
    def _auth_fields(self) -> AwsSettings:
        if self.auth == "access-keys":
            if not self.access_key_id:
                raise ValueError("access-keys authentication needs an Access Key ID")
            if (
                self.secret_access_key is None
                or not self.secret_access_key.get_secret_value()
            ):
                raise ValueError("access-keys authentication needs a Secret Access Key")
        else:
            given = [
                label
                for label, value in (
                    ("Access Key ID", self.access_key_id),
                    ("Secret Access Key", self.secret_access_key),
                    ("session token", self.session_token),
                )
                if value
            ]
            if given:
                raise ValueError(
                    f"iam-role authentication takes no {' or '.join(given)}; "
                    "choose access-keys to use keys"
                )
        for label, url in (
            ("the endpoint URL", self.endpoint_url),
            ("the STS endpoint URL", self.sts_endpoint_url),
            ("the KMS endpoint URL", self.kms_endpoint_url),
        ):
            if url:
                check_endpoint_url(url, allow_http=self.allow_http, label=label)
        if self.external_id and not self.role_arn:
            raise ValueError("an External ID is only used with a Role ARN to assume")
        return self

    def endpoint(self, service: str = "secretsmanager") -> str | None:
        """Return the endpoint URL for ``service``; the general one applies to all."""
        specific = {
            "sts": self.sts_endpoint_url,
            "kms": self.kms_endpoint_url,
        }.get(service)
        return specific or self.endpoint_url

    def location(
        self, region: str | None = None, service: str = "secretsmanager"
    ) -> str:
        """Return the region (default: the integration's) and endpoint of
        ``service`` that requests go to, for messages."""
        text = f"region {region or self.region}"
        endpoint = self.endpoint(service)
        if endpoint:
            text += f", endpoint {endpoint}"
        return text
