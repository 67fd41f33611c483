"""The data of one rotation: the secret, the new version, the strategy and results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from prizm.rotation import postgres
from prizm.rotation.document import DatabaseSecret
from prizm.rotation.passwords import PasswordPolicy
from prizm.rotation.secrets_manager import SecretsManager

__all__ = ["MasterSecret", "Rotation", "StepResult", "Strategy", "read_version"]


class Strategy(enum.StrEnum):
    """Rotation strategy, described in the docstring of ``prizm.rotation.steps``."""

    SINGLE_USER = "single-user"
    ALTERNATING_USERS = "alternating-users"


@dataclass(frozen=True)
class MasterSecret:
    """Location of the master user's secret, for the alternating-users strategy."""

    secrets: SecretsManager
    secret_id: str


@dataclass(frozen=True)
class Rotation:
    """One rotation: the secret, the new version's ID and how to rotate.

    ``master`` overrides the ``masterarn`` key of the secret.
    """

    secrets: SecretsManager
    secret_id: str
    token: str
    strategy: Strategy
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    master: MasterSecret | None = None
    connect_timeout: float = postgres.CONNECT_TIMEOUT


@dataclass(frozen=True)
class StepResult:
    """Outcome of one step. ``changed`` is False when the step found its work done."""

    step: str
    changed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "changed": self.changed, "detail": self.detail}


def read_version(
    rotation: Rotation, stage: str, version_id: str | None = None
) -> DatabaseSecret:
    """Read the rotation's secret at ``stage`` (and ``version_id``) and parse it."""
    version = rotation.secrets.get(
        rotation.secret_id, stage=stage, version_id=version_id
    )
    return DatabaseSecret.parse(version.text, secret=rotation.secret_id, version=stage)
