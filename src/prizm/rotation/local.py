"""Rotation run from Prizm itself, as ``prizm rotate`` does, through an integration.

It makes the calls Secrets Manager and the Lambda function make together: pick a new
``ClientRequestToken``, then run the four steps in order with the integration's
Secrets Manager client.

When the secret has an AWSPENDING version that is not AWSCURRENT, an earlier rotation
did not finish. In single-user rotation its setSecret may already have changed the
database password, so that version is the only one that still logs in. The run
therefore finishes that rotation, with its version ID as the token, rather than start
a new one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prizm import audit
from prizm.errors import InvalidRotationRequest, PrizmError, UsageError
from prizm.providers.aws import AwsProvider
from prizm.references import Reference, parse_reference
from prizm.resolver import Resolver
from prizm.rotation.passwords import PasswordPolicy
from prizm.rotation.secrets_manager import CURRENT, PENDING, SecretsManager
from prizm.rotation.steps import (
    STEP_NAMES,
    MasterSecret,
    Rotation,
    StepResult,
    Strategy,
    run_step,
)

if TYPE_CHECKING:
    from prizm.integrations import IntegrationService

__all__ = ["Progress", "RotationReport", "rotate", "rotate_reference"]

log = logging.getLogger(__name__)

Progress = Callable[[str, StepResult | None], None]
"""Called with a step name and None before the step, and with its result after."""


@dataclass(frozen=True)
class RotationReport:
    """Record of a rotation: the secret, the versions and each step, never a value."""

    secret_arn: str
    strategy: Strategy
    old_version_id: str
    new_version_id: str
    resumed: bool
    steps: list[StepResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "secret_arn": self.secret_arn,
            "strategy": self.strategy.value,
            "old_version_id": self.old_version_id,
            "new_version_id": self.new_version_id,
            "resumed": self.resumed,
            "steps": [result.to_dict() for result in self.steps],
        }


def rotate(
    secrets: SecretsManager,
    secret_id: str,
    strategy: Strategy,
    *,
    policy: PasswordPolicy | None = None,
    master: MasterSecret | None = None,
    progress: Progress | None = None,
) -> RotationReport:
    """Run createSecret, setSecret, testSecret and finishSecret on ``secret_id``."""
    description = secrets.describe(secret_id)
    old_version = description.version_with(CURRENT)
    if old_version is None:
        raise InvalidRotationRequest(
            f"No version of secret '{secret_id}' has the label {CURRENT}.",
            hint="Store the database credentials in the secret first.",
        )
    pending = description.version_with(PENDING)
    resumed = pending is not None and pending != old_version
    token = pending if resumed and pending is not None else str(uuid.uuid4())
    if resumed:
        log.warning(
            "rotation resumes an unfinished rotation secret=%s version=%s",
            description.arn,
            token,
        )

    rotation = Rotation(
        secrets=secrets,
        secret_id=description.arn,
        token=token,
        strategy=strategy,
        policy=policy or PasswordPolicy(),
        master=master,
    )
    results: list[StepResult] = []
    for name in STEP_NAMES:
        if progress is not None:
            progress(name, None)
        result = run_step(name, rotation)
        results.append(result)
        if progress is not None:
            progress(name, result)
    _remove_pending_label(secrets, description.arn, token)
    return RotationReport(
        secret_arn=description.arn,
        strategy=strategy,
        old_version_id=old_version,
        new_version_id=token,
        resumed=resumed,
        steps=results,
    )


def _remove_pending_label(secrets: SecretsManager, arn: str, token: str) -> None:
    """Take AWSPENDING off the new current version, so the secret shows no rotation
    in progress. The rotation is complete either way, so a failure is only logged."""
    if secrets.describe(arn).version_with(PENDING) != token:
        return
    try:
        secrets.remove_pending(arn, token)
    except PrizmError as error:
        log.warning(
            "AWSPENDING label left on the new version secret=%s version=%s code=%s",
            arn,
            token,
            error.code,
        )


def _secrets_for(
    service: IntegrationService, reference: Reference
) -> tuple[SecretsManager, AwsProvider]:
    provider = service.provider(reference.integration)
    if not isinstance(provider, AwsProvider):
        raise UsageError(
            f"Integration '{reference.integration}' is not AWS Secrets Manager; "
            "rotation supports AWS Secrets Manager secrets only.",
            hint="Name a secret of an AWS integration, such as vault://aws/prizm/db.",
            integration=reference.integration,
        )
    # Rotation writes the secret, so it is held to the allowed list like any read.
    Resolver(service).check_allowed(
        provider, reference, provider.request_for(reference), str(reference)
    )
    client = provider.clients.client(
        "secretsmanager", provider.region_of(reference.name)
    )
    return SecretsManager(client, provider.context), provider


def _parse_whole_secret(text: str, option: str) -> Reference:
    reference = parse_reference(text)
    if reference.key is not None or reference.options:
        raise UsageError(
            f"The {option} {text!r} names a key or a version; rotation works on "
            "the whole secret.",
            hint="Drop the '#key' and '?option' parts, such as vault://aws/prizm/db.",
            reference=text,
        )
    return reference


def rotate_reference(
    service: IntegrationService,
    reference_text: str,
    strategy: Strategy,
    *,
    master_reference: str | None = None,
    policy: PasswordPolicy | None = None,
    progress: Progress | None = None,
) -> RotationReport:
    """Rotate the secret named by a ``vault://`` reference of an AWS integration.

    ``master_reference`` names the master user's secret and may use another AWS
    integration. Without it, alternating-users reads the secret's ``masterarn``.
    """
    reference = _parse_whole_secret(reference_text, "reference")
    secrets, _ = _secrets_for(service, reference)
    master = None
    if master_reference is not None:
        master_ref = _parse_whole_secret(master_reference, "master secret")
        master_secrets, _ = _secrets_for(service, master_ref)
        master = MasterSecret(master_secrets, master_ref.name)
    log.info(
        "rotation started reference=%s strategy=%s", reference_text, strategy.value
    )
    try:
        report = rotate(
            secrets,
            reference.name,
            strategy,
            policy=policy,
            master=master,
            progress=progress,
        )
    except PrizmError as error:
        audit.record(
            service.store,
            "secret.rotate",
            "reference",
            reference_text,
            outcome=error.code,
            strategy=strategy.value,
            master=master_reference,
        )
        raise
    audit.record(
        service.store,
        "secret.rotate",
        "reference",
        reference_text,
        strategy=strategy.value,
        master=master_reference,
        secret_id=report.secret_arn,
        old_version_id=report.old_version_id,
        new_version_id=report.new_version_id,
        resumed=report.resumed,
    )
    log.info(
        "rotation finished reference=%s version=%s",
        reference_text,
        report.new_version_id,
    )
    return report
