"""Whole rotations against moto's Secrets Manager and a real PostgreSQL."""

from __future__ import annotations

import json

import pytest

from prizm.rotation import MasterSecret, Strategy, rotate
from prizm.rotation.passwords import PasswordPolicy
from tests.rotation.support import read_stage, secrets_manager, stages, version_with
from tests.support.fixtures import AwsFixture
from tests.support.pgusers import DatabaseFixture


class TestSingleUser:
    def test_current_logs_in_after_rotation(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """After rotation the AWSCURRENT password logs in, the old one does not."""
        username, password = pg_users.create_user("app")
        old = pg_users.document(username, password)
        created = aws.create_secret("prizm/db", old)

        report = rotate(secrets_manager(aws), "prizm/db", Strategy.SINGLE_USER)

        current = read_stage(aws, "prizm/db", "AWSCURRENT")
        assert pg_users.can_log_in(current["SecretString"])
        assert not pg_users.can_log_in(old)
        assert report.old_version_id == created["VersionId"]
        assert report.new_version_id == current["VersionId"]
        assert not report.resumed
        assert [result.step for result in report.steps] == [
            "createSecret",
            "setSecret",
            "testSecret",
            "finishSecret",
        ]

    def test_previous_is_the_old_version(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """UpdateSecretVersionStage moves AWSPREVIOUS to the replaced version."""
        username, password = pg_users.create_user("app")
        created = aws.create_secret("prizm/db", pg_users.document(username, password))

        report = rotate(secrets_manager(aws), "prizm/db", Strategy.SINGLE_USER)

        previous = read_stage(aws, "prizm/db", "AWSPREVIOUS")
        assert previous["VersionId"] == created["VersionId"]
        assert json.loads(previous["SecretString"])["password"] == password
        assert stages(aws, "prizm/db")[report.new_version_id] == ["AWSCURRENT"]

    def test_document_keeps_other_keys(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """Keys Prizm does not use, such as RDS's identifiers, stay in the new
        version; the user name does not change."""
        username, password = pg_users.create_user("app")
        document = pg_users.document(
            username, password, dbInstanceIdentifier="prizm-db-1"
        )
        aws.create_secret("prizm/db", document)

        rotate(secrets_manager(aws), "prizm/db", Strategy.SINGLE_USER)

        current = json.loads(read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"])
        assert current["dbInstanceIdentifier"] == "prizm-db-1"
        assert current["username"] == username
        assert current["password"] != password

    def test_password_follows_policy(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        policy = PasswordPolicy(length=48, exclude_characters="abcdef!$")

        rotate(secrets_manager(aws), "prizm/db", Strategy.SINGLE_USER, policy=policy)

        new = json.loads(read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"])
        assert len(new["password"]) == 48
        assert not set(new["password"]) & set("abcdef!$")

    def test_rotates_twice(self, aws: AwsFixture, pg_users: DatabaseFixture) -> None:
        """A second rotation starts from the version the first one made current."""
        username, password = pg_users.create_user("app")
        aws.create_secret("prizm/db", pg_users.document(username, password))
        secrets = secrets_manager(aws)

        first = rotate(secrets, "prizm/db", Strategy.SINGLE_USER)
        second = rotate(secrets, "prizm/db", Strategy.SINGLE_USER)

        assert second.old_version_id == first.new_version_id
        assert not second.resumed
        current = read_stage(aws, "prizm/db", "AWSCURRENT")
        assert current["VersionId"] == second.new_version_id
        assert pg_users.can_log_in(current["SecretString"])

    def test_redshift_engine_path(
        self, aws: AwsFixture, pg_users: DatabaseFixture
    ) -> None:
        """engine "redshift" sends the password itself instead of a SCRAM verifier;
        PostgreSQL accepts that statement too, which is how this path is tested."""
        username, password = pg_users.create_user("app")
        document = pg_users.document(username, password, engine="redshift")
        aws.create_secret("prizm/db", document)

        rotate(secrets_manager(aws), "prizm/db", Strategy.SINGLE_USER)

        current = read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"]
        assert pg_users.can_log_in(current)
        assert len(json.loads(current)["password"]) == 32


class TestAlternatingUsers:
    @pytest.fixture
    def table(self, pg_users: DatabaseFixture) -> str:
        """A table the original user may read, through a grant to that user."""
        name = pg_users.name("orders")
        pg_users.execute(f"CREATE TABLE {name} (id int)")
        pg_users.execute(f"INSERT INTO {name} VALUES (7)")
        return name

    def arrange(
        self, aws: AwsFixture, pg_users: DatabaseFixture, table: str
    ) -> tuple[str, str]:
        username, password = pg_users.create_user("app")
        pg_users.execute(f"GRANT SELECT ON {table} TO {username}")
        manager, manager_password = pg_users.create_master(username)
        master = aws.create_secret(
            "prizm/db-master", pg_users.document(manager, manager_password)
        )
        aws.create_secret(
            "prizm/db",
            pg_users.document(username, password, masterarn=master["ARN"]),
        )
        return username, password

    def test_first_rotation_creates_clone(
        self, aws: AwsFixture, pg_users: DatabaseFixture, table: str
    ) -> None:
        """The clone gets the original's rights; the original still logs in."""
        username, _ = self.arrange(aws, pg_users, table)
        old = read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"]

        rotate(secrets_manager(aws), "prizm/db", Strategy.ALTERNATING_USERS)

        current = json.loads(read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"])
        assert current["username"] == f"{username}_clone"
        assert pg_users.can_log_in(json.dumps(current))
        assert pg_users.can_log_in(old)
        members = pg_users.query(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", (current["username"], username)
        )
        assert members == [(True,)]

    def test_clone_reads_original_tables(
        self, aws: AwsFixture, pg_users: DatabaseFixture, table: str
    ) -> None:
        import psycopg

        self.arrange(aws, pg_users, table)

        rotate(secrets_manager(aws), "prizm/db", Strategy.ALTERNATING_USERS)

        current = json.loads(read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"])
        with psycopg.connect(
            host=current["host"],
            port=current["port"],
            user=current["username"],
            password=current["password"],
            dbname="postgres",
        ) as connection:
            rows = connection.execute(f"SELECT id FROM {table}").fetchall()
        assert rows == [(7,)]

    def test_second_rotation_switches_back(
        self, aws: AwsFixture, pg_users: DatabaseFixture, table: str
    ) -> None:
        """The next rotation gives the original user a new password, and the clone's
        password, now AWSPREVIOUS, keeps working."""
        username, password = self.arrange(aws, pg_users, table)
        secrets = secrets_manager(aws)

        rotate(secrets, "prizm/db", Strategy.ALTERNATING_USERS)
        rotate(secrets, "prizm/db", Strategy.ALTERNATING_USERS)

        current = read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"]
        previous = read_stage(aws, "prizm/db", "AWSPREVIOUS")["SecretString"]
        assert json.loads(current)["username"] == username
        assert json.loads(current)["password"] != password
        assert json.loads(previous)["username"] == f"{username}_clone"
        assert pg_users.can_log_in(current)
        assert pg_users.can_log_in(previous)

    def test_master_secret_option_wins(
        self, aws: AwsFixture, pg_users: DatabaseFixture, table: str
    ) -> None:
        """A master secret given by the caller serves a secret without masterarn."""
        username, password = pg_users.create_user("app")
        manager, manager_password = pg_users.create_master(username)
        aws.create_secret("prizm/db", pg_users.document(username, password))
        aws.create_secret("prizm/master", pg_users.document(manager, manager_password))
        secrets = secrets_manager(aws)

        rotate(
            secrets,
            "prizm/db",
            Strategy.ALTERNATING_USERS,
            master=MasterSecret(secrets, "prizm/master"),
        )

        current = read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"]
        assert json.loads(current)["username"] == f"{username}_clone"
        assert pg_users.can_log_in(current)
        assert version_with(aws, "prizm/db", "AWSPREVIOUS") is not None

    def test_redshift_engine_copies_grants(
        self, aws: AwsFixture, pg_users: DatabaseFixture, table: str
    ) -> None:
        """engine "redshift" copies table grants instead of granting membership.
        The queries also run on PostgreSQL, which is where this test runs them."""
        import psycopg

        username, password = pg_users.create_user("app")
        pg_users.execute(f"GRANT SELECT ON {table} TO {username}")
        manager, manager_password = pg_users.create_user(
            "manager", attributes="SUPERUSER"
        )
        master = aws.create_secret(
            "prizm/db-master",
            pg_users.document(manager, manager_password, engine="redshift"),
        )
        aws.create_secret(
            "prizm/db",
            pg_users.document(
                username, password, engine="redshift", masterarn=master["ARN"]
            ),
        )

        rotate(secrets_manager(aws), "prizm/db", Strategy.ALTERNATING_USERS)

        current = json.loads(read_stage(aws, "prizm/db", "AWSCURRENT")["SecretString"])
        members = pg_users.query(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", (current["username"], username)
        )
        assert members == [(False,)]
        with psycopg.connect(
            host=current["host"],
            port=current["port"],
            user=current["username"],
            password=current["password"],
            dbname="postgres",
        ) as connection:
            rows = connection.execute(f"SELECT id FROM {table}").fetchall()
        assert rows == [(7,)]
