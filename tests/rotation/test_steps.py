"""Each rotation step run on its own: repeated, and failing part way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devtools.proxy import FaultProxy, aws_error
from prizm.errors import PrizmError
from prizm.rotation import Rotation, Strategy, rotate, run_step
from prizm.rotation.steps import STEP_NAMES
from prizm.secrets import SecretValue
from tests.rotation.support import (
    client_for,
    read_stage,
    scan_error,
    secrets_manager,
    stages,
    version_with,
)
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture
from tests.support.pgusers import DatabaseFixture


@pytest.fixture
def proxy(aws: AwsFixture) -> Iterator[FaultProxy]:
    with FaultProxy(aws.server.url) as running:
        yield running


def arrange(
    aws: AwsFixture, pg_users: DatabaseFixture, strategy: Strategy
) -> tuple[str, str]:
    """Create the user (and for alternating-users a master) and its secret."""
    username, password = pg_users.create_user("app")
    extra = {}
    if strategy is Strategy.ALTERNATING_USERS:
        manager, manager_password = pg_users.create_master(username)
        master = aws.create_secret(
            "prizm/db-master", pg_users.document(manager, manager_password)
        )
        extra["masterarn"] = master["ARN"]
    aws.create_secret("prizm/db", pg_users.document(username, password, **extra))
    return username, password


def current_works(aws: AwsFixture, pg_users: DatabaseFixture) -> bool:
    return pg_users.can_log_in(
        read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"]
    )


def failed_step(step: str, rotation: Rotation) -> PrizmError:
    with pytest.raises(PrizmError) as caught:
        run_step(step, rotation)
    scan_error(caught.value)
    return caught.value


STRATEGIES = pytest.mark.parametrize(
    "strategy", list(Strategy), ids=[strategy.value for strategy in Strategy]
)


class TestIdempotence:
    @STRATEGIES
    def test_each_step_twice(
        self, aws: AwsFixture, pg_users: DatabaseFixture, strategy: Strategy
    ) -> None:
        """A repeated step finds its work done and changes nothing."""
        arrange(aws, pg_users, strategy)
        old_version = version_with(aws, "prizm/db", "AWSCURRENT")
        token = str(uuid.uuid4())
        rotation = Rotation(secrets_manager(aws), "prizm/db", token, strategy)

        for step in STEP_NAMES:
            first = run_step(step, rotation)
            if step == "createSecret":
                pending = read_stage(aws, "prizm/db", "AWSPENDING")
            second = run_step(step, rotation)

            assert second.changed is False, step
            if step != "testSecret":
                assert first.changed is True, step

        current = read_stage(aws, "prizm/db", "AWSCURRENT")
        assert current["SecretString"] == pending["SecretString"]
        assert version_with(aws, "prizm/db", "AWSCURRENT") == token
        assert version_with(aws, "prizm/db", "AWSPREVIOUS") == old_version
        assert len(stages(aws, "prizm/db")) == 2
        assert current_works(aws, pg_users)

    def test_create_keeps_existing_pending(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """A second createSecret keeps the password the first one stored."""
        arrange(aws, pg_users, Strategy.SINGLE_USER)
        token = str(uuid.uuid4())
        rotation = Rotation(
            secrets_manager(aws), "prizm/db", token, Strategy.SINGLE_USER
        )

        run_step("createSecret", rotation)
        first = read_stage(aws, "prizm/db", "AWSPENDING")
        run_step("createSecret", rotation)
        second = read_stage(aws, "prizm/db", "AWSPENDING")

        assert second["VersionId"] == first["VersionId"] == token
        assert second["SecretString"] == first["SecretString"]

    def test_set_skips_working_pending(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """When the AWSPENDING password logs in, setSecret sends no statement: a
        revoked right to change the password does not matter then."""
        username, _ = arrange(aws, pg_users, Strategy.SINGLE_USER)
        token = str(uuid.uuid4())
        rotation = Rotation(
            secrets_manager(aws), "prizm/db", token, Strategy.SINGLE_USER
        )
        run_step("createSecret", rotation)
        run_step("setSecret", rotation)
        pg_users.execute(
            f"ALTER ROLE {username} SET default_transaction_read_only = on"
        )

        result = run_step("setSecret", rotation)

        assert result.changed is False


class TestCreateSecretFailure:
    def test_put_denied_leaves_current(
        self, aws: AwsFixture, pg_users: DatabaseFixture, proxy: FaultProxy
    ) -> None:
        """PutSecretValue fails: no AWSPENDING version, AWSCURRENT unchanged."""
        arrange(aws, pg_users, Strategy.SINGLE_USER)
        old_version = version_with(aws, "prizm/db", "AWSCURRENT")
        fault = aws_error(
            "AccessDeniedException",
            "User is not authorized to perform: secretsmanager:PutSecretValue",
        )
        fault.operation = "PutSecretValue"
        proxy.add(fault)
        secrets = secrets_manager(aws, client_for(aws, proxy.url))
        rotation = Rotation(
            secrets, "prizm/db", str(uuid.uuid4()), Strategy.SINGLE_USER
        )

        error = failed_step("createSecret", rotation)

        assert error.code == "access_denied"
        assert error.message.startswith("createSecret failed: ")
        assert error.__cause__ is None
        assert version_with(aws, "prizm/db", "AWSPENDING") is None
        assert version_with(aws, "prizm/db", "AWSCURRENT") == old_version
        assert current_works(aws, pg_users)


class TestSetSecretFailure:
    def test_database_rejects_change(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """The database rejects ALTER USER: the current password still works, and a
        later run finishes the same rotation."""
        username, _ = arrange(aws, pg_users, Strategy.SINGLE_USER)
        old_version = version_with(aws, "prizm/db", "AWSCURRENT")
        pg_users.execute(
            f"ALTER ROLE {username} SET default_transaction_read_only = on"
        )
        secrets = secrets_manager(aws)
        token = str(uuid.uuid4())
        rotation = Rotation(secrets, "prizm/db", token, Strategy.SINGLE_USER)
        run_step("createSecret", rotation)

        error = failed_step("setSecret", rotation)

        assert error.code == "rotation_failed"
        assert error.to_dict()["step"] == "setSecret"
        assert "read-only transaction" in error.message
        assert version_with(aws, "prizm/db", "AWSCURRENT") == old_version
        assert current_works(aws, pg_users)

        pg_users.execute(f"ALTER ROLE {username} RESET default_transaction_read_only")
        report = rotate(secrets, "prizm/db", Strategy.SINGLE_USER)

        assert report.resumed is True
        assert report.new_version_id == token
        assert current_works(aws, pg_users)

    def test_database_rejects_logins(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """The user may not log in: setSecret stops before any change."""
        username, _ = arrange(aws, pg_users, Strategy.SINGLE_USER)
        pg_users.execute(f"ALTER ROLE {username} CONNECTION LIMIT 0")
        rotation = Rotation(
            secrets_manager(aws), "prizm/db", str(uuid.uuid4()), Strategy.SINGLE_USER
        )
        run_step("createSecret", rotation)

        error = failed_step("setSecret", rotation)

        assert error.code == "database_login_failed"
        assert username in error.message
        pg_users.execute(f"ALTER ROLE {username} CONNECTION LIMIT -1")
        assert current_works(aws, pg_users)

    def test_master_without_createrole(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """The master user may not create the clone: nothing changes."""
        username, _ = arrange(aws, pg_users, Strategy.ALTERNATING_USERS)
        pg_users.execute(f"ALTER ROLE {pg_users.name('manager')} NOCREATEROLE")
        rotation = Rotation(
            secrets_manager(aws),
            "prizm/db",
            str(uuid.uuid4()),
            Strategy.ALTERNATING_USERS,
        )
        run_step("createSecret", rotation)

        error = failed_step("setSecret", rotation)

        assert error.code == "rotation_failed"
        assert "permission denied" in error.message
        assert (
            pg_users.query(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (f"{username}_clone",)
            )
            == []
        )
        assert current_works(aws, pg_users)


class TestTestSecretFailure:
    def test_clone_refused_leaves_current(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """alternating-users: the new login fails its test, the current one works."""
        username, _ = arrange(aws, pg_users, Strategy.ALTERNATING_USERS)
        old_version = version_with(aws, "prizm/db", "AWSCURRENT")
        rotation = Rotation(
            secrets_manager(aws),
            "prizm/db",
            str(uuid.uuid4()),
            Strategy.ALTERNATING_USERS,
        )
        run_step("createSecret", rotation)
        run_step("setSecret", rotation)
        pg_users.execute(f"ALTER ROLE {username}_clone NOLOGIN")

        error = failed_step("testSecret", rotation)

        assert error.code == "database_login_failed"
        assert error.to_dict()["step"] == "testSecret"
        assert version_with(aws, "prizm/db", "AWSCURRENT") == old_version
        assert current_works(aws, pg_users)

    def test_read_fails_then_rerun_finishes(
        self, aws: AwsFixture, pg_users: DatabaseFixture, proxy: FaultProxy
    ) -> None:
        """single-user: after setSecret only AWSPENDING logs in, so a failed
        testSecret leaves AWSCURRENT behind until the rotation runs again."""
        arrange(aws, pg_users, Strategy.SINGLE_USER)
        old_version = version_with(aws, "prizm/db", "AWSCURRENT")
        secrets = secrets_manager(aws, client_for(aws, proxy.url))
        token = str(uuid.uuid4())
        rotation = Rotation(secrets, "prizm/db", token, Strategy.SINGLE_USER)
        run_step("createSecret", rotation)
        run_step("setSecret", rotation)
        fault = aws_error("InternalServiceError", "Simulated failure", status=400)
        fault.operation = "GetSecretValue"
        proxy.add(fault)

        error = failed_step("testSecret", rotation)

        assert error.code == "service_error"
        assert version_with(aws, "prizm/db", "AWSCURRENT") == old_version
        assert pg_users.can_log_in(
            read_stage(aws, "prizm/db", "AWSPENDING")["SecretString"]
        )

        proxy.clear()
        report = rotate(secrets, "prizm/db", Strategy.SINGLE_USER)

        assert report.resumed is True
        assert report.new_version_id == token
        assert current_works(aws, pg_users)


class TestFinishSecretFailure:
    def test_stage_move_fails(
        self, aws: AwsFixture, pg_users: DatabaseFixture, proxy: FaultProxy
    ) -> None:
        """UpdateSecretVersionStage fails: AWSCURRENT stays and still works."""
        arrange(aws, pg_users, Strategy.ALTERNATING_USERS)
        old_version = version_with(aws, "prizm/db", "AWSCURRENT")
        secrets = secrets_manager(aws, client_for(aws, proxy.url))
        rotation = Rotation(
            secrets, "prizm/db", str(uuid.uuid4()), Strategy.ALTERNATING_USERS
        )
        for step in ("createSecret", "setSecret", "testSecret"):
            run_step(step, rotation)
        fault = aws_error("InternalServiceError", "Simulated failure", status=400)
        fault.operation = "UpdateSecretVersionStage"
        proxy.add(fault)

        error = failed_step("finishSecret", rotation)

        assert error.message.startswith("finishSecret failed: ")
        assert version_with(aws, "prizm/db", "AWSCURRENT") == old_version
        assert current_works(aws, pg_users)


class TestSecretsManagerErrors:
    def test_put_error_not_chained(self, aws: AwsFixture, canaries: Canaries) -> None:
        """botocore rejects the call before sending it; its error, which lists
        the parameters, is not chained to the Prizm error."""
        aws.create_secret("prizm/db", "{}")
        value = SecretValue(canaries.make("put"))

        with pytest.raises(PrizmError) as caught:
            secrets_manager(aws).put_pending("prizm/db", "short", value)

        scan_error(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__ is True


class TestMismatchedRotation:
    def test_strategy_change_rejected(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """A single-user AWSPENDING version cannot finish as alternating-users; the
        hint says how to start over."""
        arrange(aws, pg_users, Strategy.ALTERNATING_USERS)
        token = str(uuid.uuid4())
        secrets = secrets_manager(aws)
        run_step(
            "createSecret", Rotation(secrets, "prizm/db", token, Strategy.SINGLE_USER)
        )
        rotation = Rotation(secrets, "prizm/db", token, Strategy.ALTERNATING_USERS)

        error = failed_step("setSecret", rotation)

        assert error.code == "invalid_rotation_request"
        assert error.hint is not None
        assert "--remove-from-version-id " + token in error.hint
        assert current_works(aws, pg_users)

    def test_missing_master_fails_before_writing(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """Without masterarn or a named master secret, createSecret stores nothing,
        so a later rotation with either strategy is not blocked."""
        arrange(aws, pg_users, Strategy.SINGLE_USER)
        secrets = secrets_manager(aws)
        rotation = Rotation(
            secrets, "prizm/db", str(uuid.uuid4()), Strategy.ALTERNATING_USERS
        )

        error = failed_step("createSecret", rotation)
        report = rotate(secrets, "prizm/db", Strategy.SINGLE_USER)

        assert error.code == "invalid_rotation_request"
        assert "masterarn" in error.text
        assert version_with(aws, "prizm/db", "AWSPENDING") != rotation.token
        assert report.resumed is False
        assert current_works(aws, pg_users)
