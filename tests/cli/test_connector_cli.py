"""``prizm connector``, ``prizm run`` and ``prizm runs`` on the command line."""

from __future__ import annotations

import json
import subprocess
import sys

from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture, run_cli
from tests.support.postgres import Database

SECRET = "prizm/analytics"


def connector_args(
    database: Database, name: str = "analytics", **fields: str
) -> list[str]:
    values = {
        "host": "127.0.0.1",
        "port": str(database.port),
        "database": database.name,
        "username": f"vault://aws/{SECRET}#username",
        "password": f"vault://aws/{SECRET}#password",
        "sslmode": "disable",
    }
    values.update(fields)
    args = ["connector", "add", "postgres", name]
    for key, value in values.items():
        args += ["--field", f"{key}={value}"]
    return args


class TestAdd:
    def test_types_lists_secret_fields(self) -> None:
        result = run_cli(["connector", "types", "--json"])

        kinds = {kind["type"]: kind for kind in json.loads(result.out)}
        assert set(kinds) == {"postgres", "redshift", "snowflake", "jira"}
        secret = {f["name"] for f in kinds["postgres"]["fields"] if f["secret"]}
        assert secret == {"password"}

    def test_literal_password_rejected_without_echo(
        self, aws: AwsFixture, database: Database, canaries: Canaries
    ) -> None:
        aws.add_integration()
        literal = canaries.make("literal-password")

        result = run_cli(connector_args(database, password=literal))

        assert result.status == 1
        assert result.err.startswith("error[invalid_field]: ")
        assert "vault://aws/prizm/postgres#password" in result.err
        assert run_cli(["connector", "list", "--json"]).out.strip() == "[]"

    def test_unknown_integration_rejected(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()

        result = run_cli(connector_args(database, password="vault://nope/x#password"))

        assert result.status == 1
        assert result.err.startswith("error[unknown_integration]: Field 'password'")

    def test_malformed_reference_rejected(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()

        result = run_cli(connector_args(database, username="vault://aws/#user"))

        assert result.status == 1
        assert "error[invalid_reference]" in result.err
        assert "vault://<integration>/<secret-name>" in result.err

    def test_unknown_and_missing_fields(self, aws: AwsFixture) -> None:
        aws.add_integration()

        unknown = run_cli(
            ["connector", "add", "postgres", "x", "--field", "colour=red"]
        )
        missing = run_cli(["connector", "add", "postgres", "x", "--field", "host=h"])
        bad_port = run_cli(
            ["connector", "add", "postgres", "x", "-f", "host=h", "-f", "port=99999"]
        )

        assert "no field 'colour'" in unknown.err
        assert "needs the field(s) database, username, password" in missing.err
        assert "error[invalid_field]" in bad_port.err

    def test_unknown_type(self) -> None:
        result = run_cli(["connector", "add", "oracle", "x"])

        assert result.status == 1
        assert "postgres" in result.err

    def test_field_without_equals(self) -> None:
        result = run_cli(
            ["connector", "add", "postgres", "x", "--field", "host=h", "--field", "pw1"]
        )

        assert result.status == 1
        assert "Field argument 2 has no '='" in result.err
        assert "pw1" not in result.err

    def test_integration_in_use_cannot_be_removed(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        assert run_cli(connector_args(database)).status == 0

        result = run_cli(["integration", "remove", "aws"])

        assert result.status == 1
        assert result.err.startswith("error[integration_in_use]: ")
        assert "analytics" in result.err


class TestRun:
    def test_run_show_and_history(
        self, aws: AwsFixture, database: Database, canaries: Canaries
    ) -> None:
        database.set_password(canaries.make("cli-run"))
        aws.add_integration()
        created = aws.create_secret(SECRET, json.dumps(database.secret_json()))
        assert run_cli(connector_args(database)).status == 0

        run = run_cli(["run", "analytics", "--stats"])
        shown = run_cli(["connector", "show", "analytics", "--json"])
        history = run_cli(["runs", "analytics", "--json"])
        table = run_cli(["runs"])

        assert run.status == 0, run.err
        assert "succeeded" in run.out
        assert "customers" in run.out
        assert "API call" in run.out
        view = json.loads(shown.out)
        assert view["fields"]["password"] == f"vault://aws/{SECRET}#password"
        versions = {use["version_id"] for use in view["last_used_versions"]}
        assert versions == {created["VersionId"]}
        records = json.loads(history.out)
        assert records[0]["status"] == "succeeded"
        assert records[0]["fields"][0]["secret_id"] == created["ARN"]
        assert "analytics" in table.out

    def test_bracketed_names_printed_verbatim(
        self, aws: AwsFixture, database: Database
    ) -> None:
        """Names in output are text, never Rich markup that could crash or hide."""
        aws.add_integration()
        aws.create_secret(SECRET, json.dumps(database.secret_json()))
        database.server.execute(
            'create table "evil[/]" (id int); create table "[bold]loud" (id int)',
            database=database.name,
        )
        database.server.execute(
            f'grant select on "evil[/]", "[bold]loud" to "{database.user}"',
            database=database.name,
        )
        assert run_cli(connector_args(database)).status == 0

        run = run_cli(["run", "analytics"])
        shown = run_cli(["runs", "--id", "1"])
        probe = run_cli(["secret", "get", "vault://aws/prizm/[bold]probe[/]"])
        audit = run_cli(["audit"])
        events = run_cli(["audit", "--json"])

        assert run.status == 0, run.err
        assert "evil[/]" in run.out
        assert "[bold]loud" in run.out
        assert shown.status == 0, shown.err
        assert "evil[/]" in shown.out
        assert probe.err.startswith("error[secret_not_found]")
        assert "prizm/[bold]probe[/]" in probe.err
        assert audit.status == 0, audit.err
        read = json.loads(events.out.splitlines()[-1])
        assert read["target"] == "vault://aws/prizm/[bold]probe[/]"
        assert read["details"] == {"command": "secret get"}

    def test_failed_run_json_and_status(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        assert run_cli(connector_args(database)).status == 0

        result = run_cli(["run", "analytics", "--json"])

        record = json.loads(result.out)
        assert result.status == 1
        assert record["status"] == "failed"
        assert record["error"]["code"] == "secret_not_found"

    def test_failed_run_error_on_stderr(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        assert run_cli(connector_args(database)).status == 0

        result = run_cli(["run", "analytics"])
        failed = run_cli(["runs", "--status", "failed", "--json"])
        succeeded = run_cli(["runs", "--status", "succeeded", "--json"])

        assert result.status == 1
        assert "Run 1 of 'analytics' failed." in result.out
        assert "not read (secret_not_found)" in result.out
        assert "error[" not in result.out
        errors = [line for line in result.err.splitlines() if line.startswith("error[")]
        assert len(errors) == 1
        assert errors[0].startswith("error[secret_not_found]: ")
        assert [run["id"] for run in json.loads(failed.out)] == [1]
        assert json.loads(succeeded.out) == []

    def test_run_unknown_connector(self) -> None:
        result = run_cli(["run", "ghost"])

        assert result.status == 1
        assert result.err.startswith("error[unknown_connector]: ")

    def test_runs_by_id_and_bad_status(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        assert run_cli(connector_args(database)).status == 0
        run_cli(["run", "analytics"])

        one = run_cli(["runs", "--id", "1", "--json"])
        missing = run_cli(["runs", "--id", "99"])
        bad = run_cli(["runs", "--status", "sleeping"])

        assert json.loads(one.out)["id"] == 1
        assert missing.err.startswith("error[run_not_found]")
        assert bad.status == 2

    def test_check_reports_versions(self, aws: AwsFixture, database: Database) -> None:
        aws.add_integration()
        created = aws.create_secret(SECRET, json.dumps(database.secret_json()))
        assert run_cli(connector_args(database)).status == 0

        result = run_cli(["connector", "check", "analytics", "--json"])

        checked = json.loads(result.out)
        assert result.status == 0
        assert checked["password"]["version_id"] == created["VersionId"]

    def test_check_audited(self, aws: AwsFixture, database: Database) -> None:
        aws.add_integration()
        created = aws.create_secret(SECRET, json.dumps(database.secret_json()))
        run_cli(connector_args(database))

        run_cli(["connector", "check", "analytics"])

        events = [e for e in open_store().audit.events() if e.action == "secret.check"]
        assert [event.details["field"] for event in events] == ["username", "password"]
        assert all(event.actor.startswith("cli:") for event in events)
        assert {event.details["connector"] for event in events} == {"analytics"}
        assert {event.details["version_id"] for event in events} == {
            created["VersionId"]
        }

    def test_update_and_remove(self, aws: AwsFixture, database: Database) -> None:
        aws.add_integration()
        assert run_cli(connector_args(database)).status == 0

        updated = run_cli(
            ["connector", "update", "analytics", "--field", "sslmode=require"]
        )
        rejected = run_cli(
            ["connector", "update", "analytics", "--field", "password=plain"]
        )
        removed = run_cli(["connector", "remove", "analytics"])

        assert updated.status == 0, updated.err
        assert rejected.status == 1
        assert removed.status == 0
        assert run_cli(["integration", "remove", "aws"]).status == 0


def test_closed_pipe_exits_with_sigpipe_status() -> None:
    """A reader that stops early (`| head`) is not reported as a failed command."""
    script = (
        "from prizm.cli.output import stdout\n"
        "for number in range(50000):\n"
        "    stdout.print(f'line {number}')\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"line 0\n"
    process.stdout.close()

    _, err = process.communicate(timeout=60)

    assert process.returncode == 141
    assert err == b""
