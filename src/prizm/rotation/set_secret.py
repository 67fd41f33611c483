"""setSecret: make the database accept the AWSPENDING password, per strategy."""

from __future__ import annotations

import logging

from prizm.errors import DatabaseLoginFailed, InvalidRotationRequest, RotationError
from prizm.rotation import postgres
from prizm.rotation.document import CLONE_SUFFIX, DatabaseSecret, alternate_username
from prizm.rotation.model import Rotation, StepResult, Strategy, read_version
from prizm.rotation.secrets_manager import CURRENT, PENDING, PREVIOUS, SecretsManager

__all__ = ["set_secret"]

log = logging.getLogger(__name__)


def set_secret(rotation: Rotation) -> StepResult:
    """Make the database accept the AWSPENDING password.

    Does nothing when the database accepts it already, which is the case when an
    earlier run of this step succeeded.
    """
    current = read_version(rotation, CURRENT)
    pending = read_version(rotation, PENDING, rotation.token)
    if not pending.same_server(current):
        raise InvalidRotationRequest(
            f"The {PENDING} version names another database server than "
            f"{CURRENT} ({pending.host}:{pending.port}, not "
            f"{current.host}:{current.port}).",
            hint=_new_rotation_hint(rotation),
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
            hint="Finish this rotation with the alternating-users strategy. "
            + _new_rotation_hint(rotation),
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
        # NOTE: no test reaches this branch, because the test server accepts every
        # password that ALTER USER sets.
        postgres.set_password(connection, login, login.username, login.password)
    raise RotationError(
        f"The database did not accept the new password of user '{pending.username}' "
        "after the change, so the previous password was set again.",
        hint="Check the server's authentication settings (pg_hba.conf) for the user.",
    )


def _new_rotation_hint(rotation: Rotation) -> str:
    return (
        f"To start a new rotation, remove the label {PENDING} from version "
        f"{rotation.token}: aws secretsmanager update-secret-version-stage "
        f"--secret-id {rotation.secret_id} --version-stage {PENDING} "
        f"--remove-from-version-id {rotation.token}"
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
        previous = read_version(rotation, PREVIOUS, previous_id)
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
            hint=_new_rotation_hint(rotation),
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


def master_source(
    rotation: Rotation, current: DatabaseSecret
) -> tuple[SecretsManager, str]:
    """Return where the master user's secret is, or raise when none is named."""
    if rotation.master is not None:
        return rotation.master.secrets, rotation.master.secret_id
    if current.master_arn is not None:
        return rotation.secrets, current.master_arn
    raise InvalidRotationRequest(
        f"Secret '{rotation.secret_id}' has no 'masterarn' key, which the "
        "alternating-users strategy needs to find the master user's secret.",
        hint="Add the master secret's ARN as 'masterarn' to the secret, or name "
        "it with --master-secret.",
    )


def _read_master(rotation: Rotation, current: DatabaseSecret) -> DatabaseSecret:
    secrets, secret_id = master_source(rotation, current)
    version = secrets.get(secret_id, stage=CURRENT)
    # NOTE: master secrets that RDS manages hold only username and password; AWS's
    # templates look up the host with the RDS API, which Prizm does not call yet.
    return DatabaseSecret.parse(
        version.text, secret=secret_id, version=CURRENT, default_engine=current.engine
    )
