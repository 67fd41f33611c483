"""``prizm rotate`` against moto and a real PostgreSQL, through an integration."""

from __future__ import annotations

import json
from typing import Any

from devtools.servers import HOST
from prizm.connector_service import ConnectorService
from prizm.store import open_store
from tests.rotation.support import read_stage, version_with
from tests.support.canaries import CANARIES
from tests.support.fixtures import AwsFixture, CliResult, run_cli
from tests.support.pgusers import DatabaseFixture


def rescan(result: CliResult) -> None:
    """Scan the output again, now that the generated passwords are watched."""
    CANARIES.scan(result.out, "standard output of prizm rotate")
    CANARIES.scan(result.err, "standard error of prizm rotate")


class TestRotateCommand:
    def test_json_names_versions(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """--json prints the ARN and both version IDs, never a value."""
        username, password = pg_users.create_user("app")
        created = aws.create_secret("prizm/db", pg_users.document(username, password))
        aws.add_integration()

        result = run_cli(
            ["rotate", "vault://aws/prizm/db", "--strategy", "single-user", "--json"]
        )

        assert result.status == 0, result.err
        output = json.loads(result.out)
        current = read_stage(aws, "prizm/db", "AWSCURRENT")
        rescan(result)
        assert output["secret_arn"] == created["ARN"]
        assert output["old_version_id"] == created["VersionId"]
        assert output["new_version_id"] == current["VersionId"]
        assert output["strategy"] == "single-user"
        assert output["resumed"] is False
        assert [step["step"] for step in output["steps"]] == [
            "createSecret",
            "setSecret",
            "testSecret",
            "finishSecret",
        ]
        assert pg_users.can_log_in(current["SecretString"])

    def test_progress_for_people(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """Without --json, each step is reported on standard error."""
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        aws.add_integration()

        result = run_cli(
            ["rotate", "vault://aws/prizm/db", "--strategy", "single-user"]
        )

        assert result.status == 0, result.err
        read_stage(aws, "prizm/db", "AWSCURRENT")
        rescan(result)
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            assert f"  {step} ... " in result.err
        assert "Logged in as user" in result.err
        assert result.out.startswith("Rotated arn:aws:secretsmanager:")

    def test_alternating_with_master_option(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        username, password = pg_users.create_user("app")
        manager, manager_password = pg_users.create_master(username)
        aws.create_secret("prizm/db", pg_users.document(username, password))
        aws.create_secret("prizm/master", pg_users.document(manager, manager_password))
        aws.add_integration()

        result = run_cli(
            [
                "rotate",
                "vault://aws/prizm/db",
                "--strategy",
                "alternating-users",
                "--master-secret",
                "vault://aws/prizm/master",
                "--json",
            ]
        )

        assert result.status == 0, result.err
        current = read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"]
        rescan(result)
        assert json.loads(current)["username"] == f"{username}_clone"
        assert pg_users.can_log_in(current)

    def test_password_options(self, aws: AwsFixture, pg_users: DatabaseFixture) -> None:
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        aws.add_integration()

        result = run_cli(
            [
                "rotate",
                "vault://aws/prizm/db",
                "--strategy",
                "single-user",
                "--password-length",
                "40",
                "--exclude-characters",
                "0123456789",
            ]
        )

        assert result.status == 0, result.err
        new = json.loads(read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"])
        rescan(result)
        assert len(new["password"]) == 40
        assert not set(new["password"]) & set("0123456789")

    def test_failed_step_reported(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """A database that rejects the change: exit 1, the step named, AWSCURRENT
        unchanged."""
        username, password = pg_users.create_user("app")
        created = aws.create_secret("prizm/db", pg_users.document(username, password))
        pg_users.execute(
            f"ALTER ROLE {username} SET default_transaction_read_only = on"
        )
        aws.add_integration()

        result = run_cli(
            ["rotate", "vault://aws/prizm/db", "--strategy", "single-user"]
        )

        assert result.status == 1
        read_stage(aws, "prizm/db", "AWSPENDING")
        rescan(result)
        assert "error[rotation_failed]: setSecret failed:" in result.err
        assert version_with(aws, "prizm/db", "AWSCURRENT") == created["VersionId"]
        assert pg_users.can_log_in(pg_users.document(username, password))

    def test_failed_step_as_json(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        pg_users.execute(f"ALTER ROLE {username} CONNECTION LIMIT 0")
        aws.add_integration()

        result = run_cli(
            ["rotate", "vault://aws/prizm/db", "--strategy", "single-user", "--json"]
        )

        assert result.status == 1
        read_stage(aws, "prizm/db", "AWSPENDING")
        rescan(result)
        error = json.loads(result.out)["error"]
        assert error["code"] == "database_login_failed"
        assert error["step"] == "setSecret"


class TestRunAfterRotate:
    """``prizm run`` after ``prizm rotate`` logs in with the new version."""

    def add_connector(self, pg_users: DatabaseFixture) -> None:
        fields = {
            "host": HOST,
            "port": str(pg_users.server.port),
            "database": "postgres",
            "username": "vault://aws/prizm/db#username",
            "password": "vault://aws/prizm/db#password",
            "sslmode": "disable",
        }
        ConnectorService(open_store()).add("postgres", "app-db", fields)

    def rotate_and_run(
        self, aws: AwsFixture, options: list[str]
    ) -> tuple[str, dict[str, Any]]:
        """Run ``prizm rotate`` with ``options``, then ``prizm run``.

        Returns the new version ID and the run record.
        """
        rotated = run_cli(["rotate", "vault://aws/prizm/db", *options, "--json"])
        assert rotated.status == 0, rotated.err
        read_stage(aws, "prizm/db", "AWSCURRENT")
        result = run_cli(["run", "app-db", "--json"])
        assert result.status == 0, result.out
        return json.loads(rotated.out)["new_version_id"], json.loads(result.out)

    def test_single_user(self, aws: AwsFixture, pg_users: DatabaseFixture) -> None:
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        aws.add_integration()
        self.add_connector(pg_users)

        new_version, run = self.rotate_and_run(aws, ["--strategy", "single-user"])

        assert run["status"] == "succeeded"
        assert {use["version_id"] for use in run["fields"]} == {new_version}
        assert {use["attempt"] for use in run["fields"]} == {1}

    def test_alternating_users(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        username, password = pg_users.create_user("app")
        manager, manager_password = pg_users.create_master(username)
        aws.create_secret("prizm/db", pg_users.document(username, password))
        aws.create_secret("prizm/master", pg_users.document(manager, manager_password))
        aws.add_integration()
        self.add_connector(pg_users)

        new_version, run = self.rotate_and_run(
            aws,
            [
                "--strategy",
                "alternating-users",
                "--master-secret",
                "vault://aws/prizm/master",
            ],
        )

        assert run["status"] == "succeeded"
        assert {use["version_id"] for use in run["fields"]} == {new_version}
        assert {use["attempt"] for use in run["fields"]} == {1}


class TestRotateUsage:
    def test_missing_strategy(self) -> None:
        result = run_cli(["rotate", "vault://aws/prizm/db"])

        assert result.status == 2
        assert "error[usage_error]: Missing option --strategy." in result.err

    def test_unknown_strategy(self) -> None:
        result = run_cli(["rotate", "vault://aws/prizm/db", "--strategy", "dual"])

        assert result.status == 2
        assert "--strategy must be one of" in result.err

    def test_reference_with_key(self) -> None:
        result = run_cli(
            ["rotate", "vault://aws/prizm/db#password", "--strategy", "single-user"]
        )

        assert result.status == 2
        assert "rotation works on the whole secret" in result.err

    def test_password_too_short(self) -> None:
        result = run_cli(
            [
                "rotate",
                "vault://aws/prizm/db",
                "--strategy",
                "single-user",
                "--password-length",
                "4",
            ]
        )

        assert result.status == 2
        assert "password length 4 is out of range" in result.err

    def test_master_needs_alternating(self) -> None:
        result = run_cli(
            [
                "rotate",
                "vault://aws/prizm/db",
                "--strategy",
                "single-user",
                "--master-secret",
                "vault://aws/prizm/master",
            ]
        )

        assert result.status == 2
        assert "--master-secret applies to --strategy alternating-users" in result.err

    def test_unknown_integration(self) -> None:
        result = run_cli(
            ["rotate", "vault://nowhere/prizm/db", "--strategy", "single-user"]
        )

        assert result.status == 1
        assert "error[unknown_integration]" in result.err
