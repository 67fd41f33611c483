"""The four steps of a Secrets Manager rotation of a database secret.

Secrets Manager runs a rotation function four times with one ``ClientRequestToken``,
which becomes the ID of the new version:

1. ``createSecret`` stores a new password as version ``token``, labelled AWSPENDING.
2. ``setSecret`` makes the database accept it.
3. ``testSecret`` logs in with it and runs ``SELECT 1``.
4. ``finishSecret`` moves AWSCURRENT to it, and with it AWSPREVIOUS to the old one.

Every step first checks whether its work is done, so a step that failed or timed out
can run again with the same token. Until ``finishSecret``, AWSCURRENT is unchanged.

single-user changes the user's own password, logged in as that user. Between
``setSecret`` and ``finishSecret`` only the AWSPENDING password works, so clients
that read AWSCURRENT in that window fail to log in until the rotation finishes or is
run again. alternating-users changes the password of the other user of the pair
``<user>`` / ``<user>_clone``, logged in as the master user, so the AWSCURRENT login
keeps working throughout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prizm.errors import InvalidRotationRequest, PrizmError, RotationError
from prizm.rotation import postgres
from prizm.rotation.document import DatabaseSecret, alternate_username
from prizm.rotation.model import (
    MasterSecret,
    Rotation,
    StepResult,
    Strategy,
    read_version,
)
from prizm.rotation.secrets_manager import CURRENT, PENDING
from prizm.rotation.set_secret import master_source, set_secret

__all__ = [
    "STEP_NAMES",
    "MasterSecret",
    "Rotation",
    "StepResult",
    "Strategy",
    "create_secret",
    "finish_secret",
    "run_step",
    "set_secret",
    "test_secret",
]

log = logging.getLogger(__name__)


def create_secret(rotation: Rotation) -> StepResult:
    """Store a new password as version ``token`` with the label AWSPENDING.

    The new version copies the AWSCURRENT document and changes ``password``, and for
    alternating-users also ``username``. A version ``token`` that already has a
    value is kept as it is.
    """
    current = read_version(rotation, CURRENT)
    existing = rotation.secrets.find(
        rotation.secret_id, stage=PENDING, version_id=rotation.token
    )
    if existing is not None:
        DatabaseSecret.parse(existing.text, secret=rotation.secret_id, version=PENDING)
        return StepResult(
            "createSecret",
            False,
            f"Version {rotation.token} already exists with the label {PENDING}.",
        )

    username = current.username
    if rotation.strategy is Strategy.ALTERNATING_USERS:
        # Fail before anything is written when setSecret could not find the master.
        master_source(rotation, current)
        username = alternate_username(current.username)
    if current.is_redshift:
        rotation.policy.check_redshift()
    password = rotation.policy.generate()
    document = current.with_login(username, password)
    rotation.secrets.put_pending(rotation.secret_id, rotation.token, document)
    return StepResult(
        "createSecret",
        True,
        f"Stored a new password for user '{username}' as version {rotation.token} "
        f"with the label {PENDING}.",
    )


def test_secret(rotation: Rotation) -> StepResult:
    """Log in with the AWSPENDING version and run ``SELECT 1``."""
    pending = read_version(rotation, PENDING, rotation.token)
    postgres.check_login(pending, timeout=rotation.connect_timeout)
    return StepResult(
        "testSecret",
        False,
        f"Logged in as user '{pending.username}' with the {PENDING} password.",
    )


def finish_secret(rotation: Rotation) -> StepResult:
    """Move AWSCURRENT to version ``token``, unless it is there already."""
    description = rotation.secrets.describe(rotation.secret_id)
    if rotation.token not in description.versions:
        raise InvalidRotationRequest(
            f"Version {rotation.token} is not a version of secret "
            f"'{rotation.secret_id}'.",
            hint="Run createSecret first.",
        )
    current_id = description.version_with(CURRENT)
    if current_id == rotation.token:
        return StepResult(
            "finishSecret",
            False,
            f"Version {rotation.token} already has the label {CURRENT}.",
        )
    if current_id is None:
        raise InvalidRotationRequest(
            f"No version of secret '{rotation.secret_id}' has the label {CURRENT}.",
            hint="Label a version AWSCURRENT in Secrets Manager first.",
        )
    rotation.secrets.move_current(
        rotation.secret_id, to_version=rotation.token, from_version=current_id
    )
    return StepResult(
        "finishSecret",
        True,
        f"Moved {CURRENT} from version {current_id} to {rotation.token}.",
    )


STEPS: dict[str, Callable[[Rotation], StepResult]] = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}
STEP_NAMES = tuple(STEPS)
"""The steps in the order Secrets Manager runs them."""


def run_step(name: str, rotation: Rotation) -> StepResult:
    """Run the step called ``name``; an error names the step in its message."""
    function = STEPS.get(name)
    if function is None:
        raise InvalidRotationRequest(
            f"Unknown rotation step {name!r}.",
            hint=f"Use one of {', '.join(STEP_NAMES)}.",
        )
    try:
        result = function(rotation)
    except PrizmError as error:
        raise _in_step(error, name) from error.__cause__
    log.info(
        "rotation step=%s secret=%s version=%s changed=%s",
        name,
        rotation.secret_id,
        rotation.token,
        result.changed,
    )
    return result


def _in_step(error: PrizmError, step: str) -> PrizmError:
    """Return a copy of ``error`` whose message starts with the failed step."""
    message = error.message
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    copy = type(error)(
        f"{step} failed: {message}",
        hint=error.hint,
        reference=error.reference,
        integration=error.integration,
        location=error.location,
    )
    if isinstance(copy, RotationError):
        copy.step = step
    return copy
