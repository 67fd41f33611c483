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

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prizm.errors import (
    DatabaseLoginFailed,
    InvalidRotationRequest,
    PrizmError,
    RotationError,
)
from prizm.rotation import postgres
from prizm.rotation.document import CLONE_SUFFIX, DatabaseSecret, alternate_username
from prizm.rotation.passwords import PasswordPolicy
from prizm.rotation.secrets_manager import CURRENT, PENDING, PREVIOUS, SecretsManager

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


class Strategy(enum.StrEnum):
    """Rotation strategy. The module docstring describes both."""

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


def _read(
    rotation: Rotation, stage: str, version_id: str | None = None
) -> DatabaseSecret:
    version = rotation.secrets.get(
        rotation.secret_id, stage=stage, version_id=version_id
    )
    return DatabaseSecret.parse(version.text, secret=rotation.secret_id, version=stage)


def create_secret(rotation: Rotation) -> StepResult:
    """Store a new password as version ``token`` with the label AWSPENDING.

    The new version copies the AWSCURRENT document and changes ``password``, and for
    alternating-users also ``username``. A version ``token`` that already has a
    value is kept as it is.
    """
    current = _read(rotation, CURRENT)
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


def set_secret(rotation: Rotation) -> StepResult:
    """Make the database accept the AWSPENDING password.

    Does nothing when the database accepts it already, which is the case when an
    earlier run of this step succeeded.
    """
    current = _read(rotation, CURRENT)
    pending = _read(rotation, PENDING, rotation.token)
    if not pending.same_server(current):
        raise InvalidRotationRequest(
            f"The {PENDING} version names another database server than "
            f"{CURRENT} ({pending.host}:{pending.port}, not "
            f"{current.host}:{current.port}).",
            hint="A rotation changes the password on the current server only; "
            "start a new rotation.",
        )
    if postgres.can_log_in(pending, timeout=rotation.connect_timeout):
        return StepResult(
            "setSecret",
            False,
            f"The database already accepts the {PENDING} password of user "
            f"'{pending.username}'.",
        )
    if rotation.strategy is Strategy.SINGLE_USER:
        return _set_single_user(rotation, current, pending)
    return _set_alternating_users(rotation, current, pending)


def _set_single_user(
    rotation: Rotation, current: DatabaseSecret, pending: DatabaseSecret
) -> StepResult:
    if pending.username != current.username:
        raise InvalidRotationRequest(
            f"The {PENDING} version is for user '{pending.username}', but the "
            f"single-user strategy rotates '{current.username}'.",
            hint="Finish this rotation with the alternating-users strategy, or start "
            "a new one.",
        )
    login = _working_login(rotation, current)
    with postgres.connect(login, timeout=rotation.connect_timeout) as connection:
        postgres.set_password(connection, login, pending.username, pending.password)
        if postgres.can_log_in(pending, timeout=rotation.connect_timeout):
            return StepResult(
                "setSecret",
                True,
                f"Changed the password of user '{pending.username}'.",
            )
        # The session that changed the password stays logged in, so it can put
        # back the password that worked before.
        postgres.set_password(connection, login, login.username, login.password)
    raise RotationError(
        f"The database did not accept the new password of user '{pending.username}' "
        "after the change, so the previous password was set again.",
        hint="Check the server's authentication settings (pg_hba.conf) for the user.",
    )


def _working_login(rotation: Rotation, current: DatabaseSecret) -> DatabaseSecret:
    """Return the AWSCURRENT login, or the AWSPREVIOUS one when only that works.

    AWS's single-user templates fall back the same way, for a database whose
    password was set back by hand.
    """
    try:
        postgres.check_login(current, timeout=rotation.connect_timeout)
        return current
    except DatabaseLoginFailed as rejected:
        # DescribeSecret first: for a stage that no version has, moto 5.2 returns
        # "secret not found" from GetSecretValue, where AWS reports a missing value.
        description = rotation.secrets.describe(rotation.secret_id)
        previous_id = description.version_with(PREVIOUS)
        if previous_id is None:
            raise rejected from None
        previous = _read(rotation, PREVIOUS, previous_id)
        usable = previous.username == current.username and previous.same_server(current)
        if usable and postgres.can_log_in(previous, timeout=rotation.connect_timeout):
            log.warning(
                "setSecret logs in with the AWSPREVIOUS password secret=%s user=%s",
                rotation.secret_id,
                current.username,
            )
            return previous
        raise rejected from None


def _set_alternating_users(
    rotation: Rotation, current: DatabaseSecret, pending: DatabaseSecret
) -> StepResult:
    expected = alternate_username(current.username)
    if pending.username != expected:
        raise InvalidRotationRequest(
            f"The {PENDING} version is for user '{pending.username}', but after "
            f"'{current.username}' the alternating-users strategy sets '{expected}'.",
            hint="Start a new rotation.",
        )
    # The current login must work before the master user acts for this secret, so
    # that a secret pointed at another user or server cannot borrow the master's
    # rights (the check AWS's templates make against a confused deputy).
    postgres.check_login(current, timeout=rotation.connect_timeout)
    master = _read_master(rotation, current)
    if not master.same_server(current):
        raise InvalidRotationRequest(
            f"The master secret is for {master.host}:{master.port}, not the "
            f"server of the secret, {current.host}:{current.port}.",
            hint="Use the master secret of the database that the secret is for.",
        )

    master = master.in_database(current.dbname)
    is_clone = pending.username == current.username + CLONE_SUFFIX
    with postgres.connect(master, timeout=rotation.connect_timeout) as connection:
        if postgres.user_exists(connection, master, pending.username):
            postgres.set_password(
                connection, master, pending.username, pending.password
            )
            if is_clone and not master.is_redshift:
                postgres.ensure_membership(
                    connection, master, current.username, pending.username
                )
            return StepResult(
                "setSecret",
                True,
                f"Changed the password of user '{pending.username}' as master user "
                f"'{master.username}'.",
            )
        if not is_clone:
            raise RotationError(
                f"The user '{pending.username}' does not exist, so the rotation "
                f"cannot switch back to it from '{current.username}'.",
                hint=f"Create '{pending.username}' again, or store the credentials "
                f"of '{current.username}' as a new secret and rotate that.",
            )
        postgres.create_clone(
            connection, master, current.username, pending.username, pending.password
        )
    return StepResult(
        "setSecret",
        True,
        f"Created user '{pending.username}' with the rights of '{current.username}' "
        f"as master user '{master.username}'.",
    )


def _read_master(rotation: Rotation, current: DatabaseSecret) -> DatabaseSecret:
    if rotation.master is not None:
        secrets, secret_id = rotation.master.secrets, rotation.master.secret_id
    elif current.master_arn is not None:
        secrets, secret_id = rotation.secrets, current.master_arn
    else:
        raise InvalidRotationRequest(
            f"Secret '{rotation.secret_id}' has no 'masterarn' key, which the "
            "alternating-users strategy needs to find the master user's secret.",
            hint="Add the master secret's ARN as 'masterarn' to the secret, or name "
            "it with --master-secret.",
        )
    version = secrets.get(secret_id, stage=CURRENT)
    # NOTE: master secrets that RDS manages hold only username and password; AWS's
    # templates look up the host with the RDS API, which Prizm does not call yet.
    return DatabaseSecret.parse(
        version.text, secret=secret_id, version=CURRENT, default_engine=current.engine
    )


def test_secret(rotation: Rotation) -> StepResult:
    """Log in with the AWSPENDING version and run ``SELECT 1``."""
    pending = _read(rotation, PENDING, rotation.token)
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
