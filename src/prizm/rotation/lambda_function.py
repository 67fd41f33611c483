"""The AWS Lambda entry point: ``prizm.rotation.handler``.

Secrets Manager invokes it with ``{"SecretId", "ClientRequestToken", "Step"}`` once
per step. Before a step runs, the handler checks the request as AWS's rotation
templates do. Rotation must not be disabled on the secret, and the token must be a
version of the secret labelled AWSPENDING. A version that is AWSCURRENT already means
that there is nothing to do.

Environment variables:

* ``SECRETS_MANAGER_ENDPOINT`` or ``AWS_ENDPOINT_URL_SECRETS_MANAGER``: the Secrets
  Manager endpoint, such as a VPC endpoint. Without either, boto3 picks the regional
  one for ``AWS_REGION``, which Lambda sets.
* ``PRIZM_ROTATION_STRATEGY``: ``single-user`` or ``alternating-users``. Unset, a
  secret with a ``masterarn`` key is rotated with alternating-users, any other with
  single-user.
* ``PASSWORD_LENGTH``, ``EXCLUDE_CHARACTERS`` and the ``EXCLUDE_*`` flags: see
  ``prizm.rotation.passwords``.
* ``PRIZM_LOG_LEVEL``: the level of Prizm's logs, INFO by default.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from prizm.errors import InvalidRotationRequest
from prizm.logging import install_filter, protect_sdk_loggers
from prizm.providers.aws.errors import AwsErrorContext
from prizm.rotation.document import DatabaseSecret
from prizm.rotation.passwords import PasswordPolicy
from prizm.rotation.secrets_manager import (
    CURRENT,
    PENDING,
    SecretDescription,
    SecretsManager,
)
from prizm.rotation.steps import STEP_NAMES, Rotation, StepResult, Strategy, run_step

__all__ = ["handler", "secrets_manager_from_environment", "validate_request"]

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("SECRETS_MANAGER_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER")
INTEGRATION_LABEL = "lambda"
"""Stands for the integration name in error messages, which Lambda has none of."""


def secrets_manager_from_environment(
    environ: Mapping[str, str] | None = None,
) -> SecretsManager:
    """Build the Secrets Manager client from the Lambda environment."""
    environ = os.environ if environ is None else environ
    endpoint = next(
        (environ[name] for name in ENDPOINT_VARIABLES if environ.get(name)), None
    )
    config = Config(
        connect_timeout=5,
        read_timeout=10,
        retries={"mode": "standard", "total_max_attempts": 3},
        user_agent_extra="prizm-rotation/0.1",
    )
    client = boto3.client("secretsmanager", endpoint_url=endpoint, config=config)
    location = f"region {client.meta.region_name}"
    if endpoint:
        location += f", endpoint {endpoint}"

    def context(operation: str, secret_id: str) -> AwsErrorContext:
        return AwsErrorContext(
            integration=INTEGRATION_LABEL,
            location=location,
            operation=operation,
            secret=secret_id,
            region=client.meta.region_name,
            endpoint_url=endpoint,
        )

    return SecretsManager(client, context)


def validate_request(description: SecretDescription, token: str, step: str) -> bool:
    """Check a request against the secret; return False when nothing is left to do.

    NOTE: AWS's RotateSecret adds ``token`` as an AWSPENDING version without a value
    before it invokes createSecret. moto 5.2 cannot make such a version, so a
    createSecret whose token is not a version yet is accepted; createSecret creates
    it. Every other step needs the version.
    """
    if description.rotation_enabled is False:
        # DescribeSecret has no RotationEnabled for a secret whose rotation was
        # never configured (moto 5.2 omits it until RotateSecret is called), and
        # only an explicit False rejects the request, as in AWS's templates.
        raise InvalidRotationRequest(
            f"Rotation is not enabled for secret '{description.name}'.",
            hint="Turn rotation on for the secret in Secrets Manager.",
        )
    stages = description.versions.get(token)
    if stages is None:
        if step == "createSecret":
            return True
        raise InvalidRotationRequest(
            f"Version {token} is not a version of secret '{description.name}'.",
            hint="Start the rotation again with RotateSecret.",
        )
    if CURRENT in stages:
        log.info(
            "rotation version is already AWSCURRENT step=%s secret=%s version=%s",
            step,
            description.arn,
            token,
        )
        return False
    if PENDING not in stages:
        raise InvalidRotationRequest(
            f"Version {token} of secret '{description.name}' is not labelled "
            f"{PENDING}.",
            hint="Start the rotation again with RotateSecret.",
        )
    return True


def _strategy(
    secrets: SecretsManager, secret_id: str, environ: Mapping[str, str]
) -> Strategy:
    configured = environ.get("PRIZM_ROTATION_STRATEGY", "").strip()
    if configured:
        try:
            return Strategy(configured)
        except ValueError:
            raise InvalidRotationRequest(
                f"PRIZM_ROTATION_STRATEGY is {configured!r}, not one of "
                f"{', '.join(strategy.value for strategy in Strategy)}.",
                hint="Set it to single-user or alternating-users, or leave it unset.",
            ) from None
    current = secrets.get(secret_id, stage=CURRENT)
    document = DatabaseSecret.parse(current.text, secret=secret_id, version=CURRENT)
    if document.master_arn is not None:
        return Strategy.ALTERNATING_USERS
    return Strategy.SINGLE_USER


def _field(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or value == "":
        raise InvalidRotationRequest(
            f"The rotation event has no {name}.",
            hint="Secrets Manager sends SecretId, ClientRequestToken and Step; "
            "check how the function is invoked.",
        )
    return value


def _configure_logging(environ: Mapping[str, str]) -> None:
    """Mask secret values in every record the Lambda runtime writes."""
    protect_sdk_loggers()
    for handler_ in logging.getLogger().handlers:
        install_filter(handler_)
    level = logging.getLevelName(environ.get("PRIZM_LOG_LEVEL", "INFO").upper())
    logging.getLogger("prizm").setLevel(level if isinstance(level, int) else "INFO")


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Run one rotation step for Secrets Manager, and return what it did."""
    environ = os.environ
    _configure_logging(environ)
    secret_id = _field(event, "SecretId")
    token = _field(event, "ClientRequestToken")
    step = _field(event, "Step")
    if step not in STEP_NAMES:
        raise InvalidRotationRequest(
            f"Unknown rotation step {step!r}.",
            hint=f"Use one of {', '.join(STEP_NAMES)}.",
        )

    secrets = secrets_manager_from_environment(environ)
    description = secrets.describe(secret_id)
    if not validate_request(description, token, step):
        return StepResult(step, False, f"Version {token} is {CURRENT}.").to_dict()

    rotation = Rotation(
        secrets=secrets,
        secret_id=description.arn,
        token=token,
        strategy=_strategy(secrets, description.arn, environ),
        policy=PasswordPolicy.from_environment(environ),
    )
    result = run_step(step, rotation)
    log.info("rotation %s secret=%s version=%s", result.detail, description.arn, token)
    return result.to_dict()
