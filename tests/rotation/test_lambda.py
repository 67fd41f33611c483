"""The Lambda handler, called with Secrets Manager's events, against moto."""

from __future__ import annotations

import json
import logging
import string
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from prizm.errors import PrizmError
from prizm.rotation import handler
from tests.rotation.support import read_stage, scan_error, version_with
from tests.support.fixtures import ACCESS_KEY_ID, AwsFixture
from tests.support.pgusers import DatabaseFixture


@pytest.fixture
def lambda_environment(
    aws: AwsFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The variables Lambda sets, with moto as the Secrets Manager endpoint.

    The handler sets the level of Prizm's logger, as it should in Lambda; the
    fixture sets it back for the tests that follow.
    """
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", aws.server.url)
    monkeypatch.setenv("AWS_REGION", aws.region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", aws.region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "moto-secret-key")
    prizm_logger = logging.getLogger("prizm")
    level = prizm_logger.level
    yield
    prizm_logger.setLevel(level)


def event(step: str, token: str, secret_id: str = "prizm/db") -> dict[str, str]:
    return {"SecretId": secret_id, "ClientRequestToken": token, "Step": step}


def invoke_all(token: str, secret_id: str = "prizm/db") -> list[dict[str, Any]]:
    steps = ("createSecret", "setSecret", "testSecret", "finishSecret")
    return [handler(event(step, token, secret_id), None) for step in steps]


def failed(request: dict[str, str]) -> PrizmError:
    with pytest.raises(PrizmError) as caught:
        handler(request, None)
    scan_error(caught.value)
    return caught.value


@pytest.mark.usefixtures("lambda_environment")
class TestHandler:
    def test_rotates_single_user(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """Four invocations rotate the secret; AWSPREVIOUS is the old version."""
        username, password = pg_users.create_user("app")
        created = aws.create_secret("prizm/db", pg_users.document(username, password))
        token = str(uuid.uuid4())

        results = invoke_all(token)

        current = read_stage(aws, "prizm/db", "AWSCURRENT")
        assert current["VersionId"] == token
        assert pg_users.can_log_in(current["SecretString"])
        assert version_with(aws, "prizm/db", "AWSPREVIOUS") == created["VersionId"]
        assert [result["step"] for result in results] == [
            "createSecret",
            "setSecret",
            "testSecret",
            "finishSecret",
        ]

    def test_each_step_twice(self, aws: AwsFixture, pg_users: DatabaseFixture) -> None:
        """Secrets Manager retries steps; a repeated one changes nothing."""
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        token = str(uuid.uuid4())

        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            handler(event(step, token), None)
            again = handler(event(step, token), None)

            assert again["changed"] is False, step

        current = read_stage(aws, "prizm/db", "AWSCURRENT")
        assert current["VersionId"] == token
        assert pg_users.can_log_in(current["SecretString"])

    def test_endpoint_from_aws_variable(
        self,
        aws: AwsFixture,
        pg_users: DatabaseFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """AWS_ENDPOINT_URL_SECRETS_MANAGER serves when SECRETS_MANAGER_ENDPOINT is
        not set."""
        monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT")
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws.server.url)
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        token = str(uuid.uuid4())

        invoke_all(token)

        assert version_with(aws, "prizm/db", "AWSCURRENT") == token

    def test_alternating_from_masterarn(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """Without PRIZM_ROTATION_STRATEGY, a secret with masterarn alternates."""
        username, password = pg_users.create_user("app")
        manager, manager_password = pg_users.create_master(username)
        master = aws.create_secret(
            "prizm/master", pg_users.document(manager, manager_password)
        )
        aws.create_secret(
            "prizm/db", pg_users.document(username, password, masterarn=master["ARN"])
        )

        invoke_all(str(uuid.uuid4()))

        current = read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"]
        assert json.loads(current)["username"] == f"{username}_clone"
        assert pg_users.can_log_in(current)

    def test_strategy_variable_wins(
        self,
        aws: AwsFixture,
        pg_users: DatabaseFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("PRIZM_ROTATION_STRATEGY", "single-user")
        username, password = pg_users.create_user("app")
        aws.create_secret(
            "prizm/db",
            pg_users.document(username, password, masterarn="arn:unused"),
        )

        invoke_all(str(uuid.uuid4()))

        current = read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"]
        assert json.loads(current)["username"] == username
        assert pg_users.can_log_in(current)

    def test_password_variables(
        self,
        aws: AwsFixture,
        pg_users: DatabaseFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """PASSWORD_LENGTH and EXCLUDE_PUNCTUATION shape the new password."""
        monkeypatch.setenv("PASSWORD_LENGTH", "20")
        monkeypatch.setenv("EXCLUDE_PUNCTUATION", "true")
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        token = str(uuid.uuid4())

        handler(event("createSecret", token), None)

        pending = read_stage(aws, "prizm/db", "AWSPENDING")["SecretString"]
        new_password = json.loads(pending)["password"]
        assert len(new_password) == 20
        assert set(new_password) <= set(string.ascii_letters + string.digits)

    def test_current_version_is_done(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """A token that is AWSCURRENT already needs no work."""
        username, password = pg_users.create_user("app")
        created = aws.create_secret("prizm/db", pg_users.document(username, password))

        result = handler(event("setSecret", created["VersionId"]), None)

        assert result["changed"] is False
        assert pg_users.can_log_in(pg_users.document(username, password))

    def test_unknown_token_rejected(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))

        error = failed(event("setSecret", str(uuid.uuid4())))

        assert error.code == "invalid_rotation_request"
        assert "is not a version" in error.message

    def test_token_not_pending_rejected(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """A version without AWSPENDING, here the AWSPREVIOUS one, is rejected."""
        username, password = pg_users.create_user("app")
        created = aws.create_secret("prizm/db", pg_users.document(username, password))
        invoke_all(str(uuid.uuid4()))

        error = failed(event("setSecret", created["VersionId"]))

        assert error.code == "invalid_rotation_request"
        assert "AWSPENDING" in error.message

    def test_rotation_disabled_rejected(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """RotationEnabled false rejects the request.

        moto 5.2 reports RotationEnabled only after RotateSecret. Without a Lambda,
        that call also moves AWSCURRENT to a new, empty version, which does not
        matter here because the handler stops before it reads any version.
        """
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        aws.client().rotate_secret(SecretId="prizm/db")

        error = failed(event("createSecret", str(uuid.uuid4())))

        assert error.code == "invalid_rotation_request"
        assert "not enabled" in error.message

    @pytest.mark.parametrize(
        ("request_", "expected"),
        [
            ({"SecretId": "prizm/db", "ClientRequestToken": "t" * 36}, "no Step"),
            (
                {"SecretId": "prizm/db", "ClientRequestToken": "t" * 36, "Step": "x"},
                "Unknown rotation step",
            ),
            ({"ClientRequestToken": "t" * 36, "Step": "setSecret"}, "no SecretId"),
        ],
        ids=["missing-step", "unknown-step", "missing-secret"],
    )
    def test_invalid_event_rejected(
        self, request_: dict[str, str], expected: str
    ) -> None:
        error = failed(request_)

        assert error.code == "invalid_rotation_request"
        assert expected in error.message

    def test_missing_secret(self, aws: AwsFixture) -> None:
        error = failed(event("createSecret", str(uuid.uuid4()), "prizm/absent"))

        assert error.code == "secret_not_found"
