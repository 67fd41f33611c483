"""Helpers of the rotation tests: Secrets Manager on moto, read with explicit stages."""

from __future__ import annotations

import json
from typing import Any

from prizm.providers.aws.errors import AwsErrorContext
from prizm.rotation.secrets_manager import SecretsManager
from tests.support.canaries import CANARIES
from tests.support.fixtures import AwsFixture


def secrets_manager(aws: AwsFixture, client: Any = None) -> SecretsManager:
    """Return the rotation's Secrets Manager calls over a client of moto."""

    def context(operation: str, secret_id: str) -> AwsErrorContext:
        return AwsErrorContext(
            integration="test", location="moto", operation=operation, secret=secret_id
        )

    return SecretsManager(client or aws.client(), context)


def read_stage(aws: AwsFixture, secret_id: str, stage: str) -> dict[str, Any]:
    """Read the version with ``stage``, and watch its value for leaks.

    The stage is always named: after UpdateSecretVersionStage, moto 5.2 still answers
    a read without a stage with the version it last created as current.
    """
    response: dict[str, Any] = aws.client().get_secret_value(
        SecretId=secret_id, VersionStage=stage
    )
    text = response["SecretString"]
    CANARIES.watch(text)
    CANARIES.watch(json.loads(text)["password"])
    return response


def stages(aws: AwsFixture, secret_id: str) -> dict[str, list[str]]:
    """Return each version's stages, from DescribeSecret."""
    described = aws.client().describe_secret(SecretId=secret_id)
    return dict(described.get("VersionIdsToStages", {}))


def version_with(aws: AwsFixture, secret_id: str, stage: str) -> str | None:
    for version_id, labels in stages(aws, secret_id).items():
        if stage in labels:
            return version_id
    return None


def client_for(aws: AwsFixture, endpoint: str) -> Any:
    """Return a Secrets Manager client of moto's account through ``endpoint``."""
    import boto3

    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name=aws.region,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="moto-secret-key",
    )


def scan_error(error: BaseException) -> None:
    """Fail if a watched value is in the error's traceback or any chained cause."""
    import traceback

    text = "".join(traceback.format_exception(error))
    CANARIES.scan(text, f"the traceback of {error.__class__.__name__}")
