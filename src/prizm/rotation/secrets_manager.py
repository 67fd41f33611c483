"""The Secrets Manager calls of a rotation, over one boto3 client.

Every read names its stage, and its version ID where one is known. For a read
without a stage, moto 5.2 returns the version it last created as current, even after
``UpdateSecretVersionStage`` moved ``AWSCURRENT`` elsewhere, where AWS returns
``AWSCURRENT``.

Errors are mapped by ``prizm.providers.aws.errors``. The permissions each call needs
are in its docstring.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from prizm.errors import InvalidRotationRequest, VersionNotFound
from prizm.providers.aws.errors import AwsErrorContext, map_aws_error
from prizm.secrets import SecretValue

__all__ = [
    "CURRENT",
    "PENDING",
    "PREVIOUS",
    "ContextFactory",
    "SecretDescription",
    "SecretVersion",
    "SecretsManager",
]

log = logging.getLogger(__name__)

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"

ContextFactory = Callable[[str, str], AwsErrorContext]
"""Builds the error context for an operation name and a secret ID."""


@dataclass(frozen=True)
class SecretDescription:
    """Fields of DescribeSecret that a rotation needs, never a value."""

    arn: str
    name: str
    rotation_enabled: bool | None
    versions: Mapping[str, tuple[str, ...]]

    def version_with(self, stage: str) -> str | None:
        """Return the ID of the version that has ``stage``, or None."""
        for version_id, stages in self.versions.items():
            if stage in stages:
                return version_id
        return None


@dataclass(frozen=True)
class SecretVersion:
    """One version's ID, stages and text."""

    version_id: str
    stages: tuple[str, ...]
    text: SecretValue


class SecretsManager:
    """Describe, read, write and relabel secret versions for a rotation."""

    def __init__(self, client: Any, context: ContextFactory) -> None:
        self.client = client
        self.context = context

    def _call(
        self,
        operation: str,
        secret_id: str,
        function: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return function()
        except Exception as exc:
            outcome = exc.__class__.__name__
            raise
        finally:
            log.debug(
                "rotation call operation=%s secret=%s outcome=%s seconds=%.4f",
                operation,
                secret_id,
                outcome,
                time.perf_counter() - started,
            )

    def describe(self, secret_id: str) -> SecretDescription:
        """Describe the secret's versions and rotation state (DescribeSecret).

        Needs ``secretsmanager:DescribeSecret``.
        """
        try:
            response = self._call(
                "DescribeSecret",
                secret_id,
                lambda: self.client.describe_secret(SecretId=secret_id),
            )
        except Exception as exc:  # noqa: BLE001 - mapped to a typed error
            error = map_aws_error(exc, self.context("DescribeSecret", secret_id))
            raise error from error.__cause__
        versions = {
            str(version_id): tuple(stages)
            for version_id, stages in (response.get("VersionIdsToStages") or {}).items()
        }
        enabled = response.get("RotationEnabled")
        return SecretDescription(
            arn=str(response.get("ARN") or secret_id),
            name=str(response.get("Name") or secret_id),
            rotation_enabled=None if enabled is None else bool(enabled),
            versions=versions,
        )

    def get(
        self, secret_id: str, *, stage: str, version_id: str | None = None
    ) -> SecretVersion:
        """Read the version with ``stage`` (and ``version_id``) (GetSecretValue).

        Needs ``secretsmanager:GetSecretValue``, and ``kms:Decrypt`` on a customer
        managed key.
        """
        parameters = {"SecretId": secret_id, "VersionStage": stage}
        if version_id is not None:
            parameters["VersionId"] = version_id
        try:
            response = self._call(
                "GetSecretValue",
                secret_id,
                lambda: self.client.get_secret_value(**parameters),
            )
        except ClientError as exc:
            if _is_stage_mismatch(exc):
                raise InvalidRotationRequest(
                    f"Version {version_id} of secret '{secret_id}' is not labelled "
                    f"{stage}.",
                    hint="Another rotation may have started since; run the "
                    "rotation again.",
                ) from None
            error = self._mapped(exc, "GetSecretValue", secret_id, version_id)
            raise error from error.__cause__
        except Exception as exc:  # noqa: BLE001 - mapped to a typed error
            error = self._mapped(exc, "GetSecretValue", secret_id, version_id)
            raise error from error.__cause__
        text = response.get("SecretString")
        if not isinstance(text, str):
            raise InvalidRotationRequest(
                f"The {stage} version of secret '{secret_id}' has no SecretString.",
                hint="Database secrets are JSON text; a binary secret cannot be "
                "rotated.",
            )
        return SecretVersion(
            version_id=str(response.get("VersionId") or version_id),
            stages=tuple(response.get("VersionStages") or ()),
            # The document is not registered for masking as a whole. Parsing it
            # registers its password, which is then masked inside the document
            # too, and every long registered value slows down the masking pattern.
            text=SecretValue(text, register=False),
        )

    def find(
        self, secret_id: str, *, stage: str, version_id: str
    ) -> SecretVersion | None:
        """Read a version like ``get``, or return None when it has no value yet."""
        try:
            return self.get(secret_id, stage=stage, version_id=version_id)
        except VersionNotFound:
            return None

    def put_pending(self, secret_id: str, token: str, text: SecretValue) -> None:
        """Store ``text`` as version ``token`` labelled AWSPENDING (PutSecretValue).

        Needs ``secretsmanager:PutSecretValue``, and ``kms:GenerateDataKey`` on a
        customer managed key.
        """
        try:
            self._call(
                "PutSecretValue",
                secret_id,
                lambda: self.client.put_secret_value(
                    SecretId=secret_id,
                    ClientRequestToken=token,
                    SecretString=text.reveal(),
                    VersionStages=[PENDING],
                ),
            )
        except Exception as exc:  # noqa: BLE001 - mapped to a typed error below
            error = self._mapped(exc, "PutSecretValue", secret_id, token)
            # Not chained: botocore's ParamValidationError, and the request kept by
            # some of its exceptions, repeat the parameters, SecretString included.
            raise error from None

    def move_current(
        self, secret_id: str, *, to_version: str, from_version: str
    ) -> None:
        """Move AWSCURRENT from ``from_version`` to ``to_version``.

        Calls UpdateSecretVersionStage, which also moves AWSPREVIOUS to
        ``from_version``. Needs ``secretsmanager:UpdateSecretVersionStage``.
        """
        self._update_stage(
            secret_id,
            to_version,
            VersionStage=CURRENT,
            MoveToVersionId=to_version,
            RemoveFromVersionId=from_version,
        )

    def remove_pending(self, secret_id: str, version: str) -> None:
        """Remove the AWSPENDING label from ``version`` after a finished rotation.

        Calls UpdateSecretVersionStage; needs the same permission as
        ``move_current``.
        """
        self._update_stage(
            secret_id, version, VersionStage=PENDING, RemoveFromVersionId=version
        )

    def _update_stage(self, secret_id: str, version: str, **parameters: str) -> None:
        """Call UpdateSecretVersionStage; ``version`` names the version in errors."""
        try:
            self._call(
                "UpdateSecretVersionStage",
                secret_id,
                lambda: self.client.update_secret_version_stage(
                    SecretId=secret_id, **parameters
                ),
            )
        except Exception as exc:  # noqa: BLE001 - mapped to a typed error
            error = self._mapped(exc, "UpdateSecretVersionStage", secret_id, version)
            raise error from error.__cause__

    def _mapped(
        self, exc: Exception, operation: str, secret_id: str, version_id: str | None
    ) -> Exception:
        context = self.context(operation, secret_id)
        if version_id is not None:
            context = _with_version(context, version_id)
        return map_aws_error(exc, context)


def _with_version(context: AwsErrorContext, version_id: str) -> AwsErrorContext:
    return replace(context, version=f"version ID {version_id}")


def _is_stage_mismatch(exc: ClientError) -> bool:
    """Return whether GetSecretValue failed because the version lacks the stage."""
    error = exc.response.get("Error", {})
    return error.get("Code") == "InvalidRequestException" and "VersionStage" in str(
        error.get("Message", "")
    )
