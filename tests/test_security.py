"""Allowed secrets, the audit log, outbound safety, key rotation and log masking."""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from prizm import redaction
from prizm.connector_service import ConnectorService
from prizm.errors import InvalidIntegration, PrizmError, ReferenceNotAllowed
from prizm.integrations import IntegrationService
from prizm.jobs import JobService
from prizm.logging import KeyValueFormatter, configure_logging
from prizm.policy import matches
from prizm.secrets import SecretValue
from prizm.store import open_store
from prizm.store.crypto import load_master_keys, sealed_key_id
from prizm.store.store import reset_stores
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture, run_cli, run_cli_process
from tests.support.postgres import Database
from tests.test_jobs import Listener


class TestPatterns:
    @pytest.mark.parametrize(
        ("name", "patterns", "allowed"),
        [
            ("prizm/db", ["prizm/*"], True),
            ("prizm/team/db", ["prizm/*"], True),
            ("other/db", ["prizm/*"], False),
            ("secret/prizm/app", ["secret/prizm/"], True),
            ("secret/prizmx/app", ["secret/prizm/"], False),
            ("exact", ["exact"], True),
            ("exact-not", ["exact"], False),
            ("team-a-db", ["team-?-db"], True),
            ("anything", [], True),
            ("secret/prizm/../other", ["secret/prizm/*"], False),
            ("secret/prizm//x", ["secret/prizm/*"], False),
            ("a[b]", ["a[b]"], True),
        ],
    )
    def test_matching(self, name: str, patterns: list[str], allowed: bool) -> None:
        assert matches(name, patterns) is allowed

    def test_case_insensitive_when_asked(self) -> None:
        assert matches("PRIZM-db", ["prizm-*"], case_sensitive=False)
        assert not matches("PRIZM-db", ["prizm-*"])

    @pytest.mark.parametrize("pattern", ["", " prizm/*", "bad\npattern"])
    def test_bad_patterns_rejected(self, pattern: str) -> None:
        with pytest.raises(InvalidIntegration):
            IntegrationService(open_store()).check_patterns([pattern])


class TestAllowedSecrets:
    def test_add_warns_when_unrestricted(self, aws: AwsFixture) -> None:
        result = run_cli(
            [
                "integration", "add", "aws", "--region", "us-east-1",
                "--endpoint-url", aws.endpoint, "--allow-http",
            ]
        )  # fmt: skip

        assert result.status == 0
        assert "allows every secret its identity can read" in result.err
        assert "--allowed-secrets 'prizm/*'" in result.err

    def test_reference_outside_list_rejected_at_save(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration(allowed_secrets="prizm/*")

        with pytest.raises(ReferenceNotAllowed) as caught:
            ConnectorService(open_store()).add(
                "postgres",
                "leaky",
                {
                    "host": "127.0.0.1",
                    "database": "d",
                    "username": "u",
                    "password": "vault://aws/payroll/admin#password",
                },
            )

        assert caught.value.code == "reference_not_allowed"
        assert "prizm/*" in caught.value.text
        assert "prizm integration restrict aws" in caught.value.text

    def test_arn_matched_by_name(self, aws: AwsFixture) -> None:
        aws.add_integration(allowed_secrets="prizm/*")
        arn = aws.create_secret("prizm/db", '{"k": "v"}')["ARN"]
        other = aws.create_secret("payroll/db", '{"k": "v"}')["ARN"]

        good = run_cli(["secret", "get", f"vault://aws/{arn}#k"], reveals=True)
        bad = run_cli(["secret", "get", f"vault://aws/{other}#k"])

        assert good.status == 0, good.err
        assert bad.err.startswith("error[reference_not_allowed]")

    def test_connection_keeps_argument_order(self, aws: AwsFixture) -> None:
        aws.add_integration(allowed_secrets="prizm/*")
        aws.create_secret("prizm/db", '{"k": "v"}')

        result = run_cli(
            ["integration", "test", "aws", "--json",
             "--secret", "payroll/x", "--secret", "prizm/db", "--secret", "hr/y"]
        )  # fmt: skip

        names = [step["name"] for step in json.loads(result.out)["steps"]]
        secrets = [name for name in names if name.startswith("Secret ")]
        assert secrets == ["Secret payroll/x", "Secret prizm/db", "Secret hr/y"]
        assert names.index("Secret payroll/x") > names.index("Secrets Manager")

    def test_connection_names_other_integration_first(self, aws: AwsFixture) -> None:
        aws.add_integration(allowed_secrets="prizm/*")

        result = run_cli(
            ["integration", "test", "aws", "--json",
             "--secret", "vault://other/secret/db", "--secret", ""]
        )  # fmt: skip

        steps = {step["name"]: step for step in json.loads(result.out)["steps"]}
        other = steps["Secret vault://other/secret/db"]
        assert other["code"] == "invalid_reference"
        assert "names integration 'other'" in other["detail"]
        assert steps["Secret "]["code"] == "invalid_reference"

    def test_arn_of_other_region_or_account_refused(self, aws: AwsFixture) -> None:
        aws.add_integration(allowed_secrets="prizm/*")
        own = aws.create_secret("prizm/db", '{"k": "v"}')["ARN"]
        account = own.split(":")[4]
        other_region = own.replace(f":{aws.region}:", ":eu-west-3:")
        other_account = own.replace(f":{account}:", ":999999999999:")

        refused = [
            run_cli(["secret", "get", f"vault://aws/{arn}#k"])
            for arn in (other_region, other_account)
        ]

        for result in refused:
            assert result.err.startswith("error[reference_not_allowed]")
            assert "own region and account" in result.err

    @pytest.mark.parametrize(
        ("name", "code"),
        [
            ("secret/prizm/db", None),
            ("secret/prizm/team/db", None),
            ("secret/payroll/db", "reference_not_allowed"),
            ("secret/prizm/../payroll/db", "invalid_reference"),
            ("secret/data/payroll/db", "reference_not_allowed"),
            ("secret/prizm/data/db", None),
        ],
        ids=["inside", "nested", "outside", "dot-dot", "data-outside", "data-key"],
    )
    def test_vault_paths_checked(self, name: str, code: str | None) -> None:
        IntegrationService(open_store()).add(
            "hashicorp",
            "hashicorp",
            {"address": "https://127.0.0.1:8200", "token": "s.policy-test"},
            allowed_secrets=["secret/prizm/*"],
        )
        service = ConnectorService(open_store())
        fields = {
            "host": "127.0.0.1",
            "database": "d",
            "username": "u",
            "password": f"vault://hashicorp/{name}#password",
        }

        if code is None:
            service.add("postgres", "vaulted", fields)
            assert service.get("vaulted").fields["password"].endswith("#password")
        else:
            with pytest.raises(PrizmError) as caught:
                service.add("postgres", "vaulted", fields)
            assert caught.value.code == code

    @pytest.mark.parametrize(
        ("name", "allowed"),
        [("prizm-db", True), ("PRIZM-DB", True), ("other-db", False)],
        ids=["same-case", "other-case", "outside"],
    )
    def test_key_vault_names_case_insensitive(self, name: str, allowed: bool) -> None:
        IntegrationService(open_store()).add(
            "azure",
            "azure",
            {
                "vault_url": "https://prizm.vault.azure.net",
                "auth": "client-secret",
                "tenant_id": "00000000-0000-0000-0000-000000000001",
                "client_id": "00000000-0000-0000-0000-000000000002",
                "client_secret": "policy-test-secret",
            },
            allowed_secrets=["prizm-*"],
        )
        service = ConnectorService(open_store())
        fields = {
            "host": "127.0.0.1",
            "database": "d",
            "username": "u",
            "password": f"vault://azure/{name}#password",
        }

        if allowed:
            service.add("postgres", "keyed", fields)
        else:
            with pytest.raises(ReferenceNotAllowed):
                service.add("postgres", "keyed", fields)

    def test_exfiltration_refused_at_run_time(
        self, aws: AwsFixture, database: Database, canaries: Canaries
    ) -> None:
        """An editor points host at their listener and password at a foreign secret."""
        aws.add_integration()
        aws.create_secret("prizm/app", json.dumps({"password": "app-pw"}))
        aws.create_secret(
            "payroll/admin", json.dumps({"password": canaries.make("payroll")})
        )
        listener = Listener()
        try:
            ConnectorService(open_store()).add(
                "postgres",
                "exfil",
                {
                    "host": "127.0.0.1",
                    "port": str(listener.port),
                    "database": "d",
                    "username": "u",
                    "password": "vault://aws/payroll/admin#password",
                    "sslmode": "disable",
                },
            )
            restricted = run_cli(
                ["integration", "restrict", "aws", "--allowed-secrets", "prizm/*"]
            )

            run = JobService(open_store()).run("exfil")
        finally:
            listener.close()

        assert restricted.status == 0
        assert run.status == "failed"
        assert run.error_code == "reference_not_allowed"
        assert listener.accepted == 0

    def test_restrict_needs_patterns_or_allow_all(self, aws: AwsFixture) -> None:
        aws.add_integration()

        neither = run_cli(["integration", "restrict", "aws"])
        cleared = run_cli(["integration", "restrict", "aws", "--allow-all"])

        assert neither.status == 2
        assert cleared.status == 0
        assert "allows every secret" in cleared.err


class TestAudit:
    def test_actions_and_resolutions_recorded(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration(allowed_secrets="prizm/*")
        aws.create_secret("prizm/db", json.dumps(database.secret_json()))
        assert run_cli(["integration", "test", "aws"]).status == 0
        assert (
            run_cli(
                [
                    "connector", "add", "postgres", "db",
                    "-f", f"host={database.host}", "-f", f"port={database.port}",
                    "-f", f"database={database.name}", "-f", "sslmode=disable",
                    "-f", "username=vault://aws/prizm/db#username",
                    "-f", "password=vault://aws/prizm/db#password",
                ]
            ).status
            == 0
        )  # fmt: skip
        assert run_cli(["run", "db"]).status == 0
        run_cli(["secret", "get", "vault://aws/prizm/db#username"], reveals=True)
        run_cli(["integration", "restrict", "aws", "--allowed-secrets", "prizm/db"])

        result = run_cli(["audit", "--json"])

        events = [json.loads(line) for line in result.out.splitlines()]
        actions = [event["action"] for event in events]
        assert actions[:3] == ["integration.add", "integration.test", "connector.add"]
        assert actions.count("run.resolve") == 2
        assert "secret.read" in actions
        assert actions[-1] == "integration.restrict"
        resolve = next(event for event in events if event["action"] == "run.resolve")
        assert resolve["details"]["version_id"]
        assert resolve["details"]["secret_id"].startswith("arn:aws:secretsmanager:")
        assert all(event["actor"].startswith("cli:") for event in events)
        restrict = events[-1]["details"]
        assert restrict == {"before": ["prizm/*"], "after": ["prizm/db"]}

    def test_mistyped_reference_not_kept(
        self, aws: AwsFixture, canaries: Canaries, tmp_path: Path
    ) -> None:
        """A password pasted where a reference belongs never enters the log."""
        aws.add_integration()
        pasted = canaries.make_plain("pasted-password")
        env_file = tmp_path / "app.env"
        env_file.write_text("A=vault:/aws/prizm/db\n")

        got = run_cli(["secret", "get", pasted])
        empty = run_cli(["secret", "get", ""])
        resolved = run_cli(["resolve", "--env-file", str(env_file)])
        events = [
            json.loads(line) for line in run_cli(["audit", "--json"]).out.splitlines()
        ]

        assert got.err.startswith("error[invalid_reference]")
        assert empty.status != 0
        assert resolved.status == 1
        targets = [
            event["target"] for event in events if event["action"] == "secret.read"
        ]
        assert targets == [
            f"(invalid reference, {len(pasted)} characters)",
            "(invalid reference, 0 characters)",
            "(invalid reference, 19 characters)",
        ]

    def test_since_filters(self, aws: AwsFixture) -> None:
        aws.add_integration()

        recent = run_cli(["audit", "--json", "--since", "1h"])
        future = run_cli(["audit", "--json", "--since", "2999-01-01T00:00:00"])
        bad = run_cli(["audit", "--since", "yesterday"])

        assert len(recent.out.splitlines()) == 1
        assert future.out == ""
        assert bad.status == 2

    def test_log_is_append_only(self, aws: AwsFixture, prizm_home: Path) -> None:
        aws.add_integration()
        reset_stores()
        connection = sqlite3.connect(prizm_home / "prizm.db")

        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("update audit_events set actor = 'someone else'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("delete from audit_events")


class TestOutbound:
    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254",
            "https://169.254.169.254/",
            "https://[fd00:ec2::254]",
            "https://[::ffff:169.254.169.254]",
            "https://metadata.google.internal",
        ],
    )
    def test_metadata_endpoints_rejected(self, url: str) -> None:
        add = ["integration", "add", "aws", "--region", "us-east-1"]

        result = run_cli([*add, "--endpoint-url", url, "--allow-http"])

        assert result.status == 1
        assert "error[invalid_integration]" in result.err
        assert "metadata" in result.err

    def test_plain_http_needs_allow_http(self) -> None:
        result = run_cli(
            ["integration", "add", "aws", "--region", "us-east-1", "--endpoint-url",
             "http://127.0.0.1:4566"]
        )  # fmt: skip

        assert result.status == 1
        assert "--allow-http" in result.err

    def test_vault_address_on_metadata_rejected(self) -> None:
        result = run_cli(
            ["integration", "add", "hashicorp", "--address", "https://169.254.169.254",
             "--auth", "token", "--token-stdin"],
            stdin="token-value\n",
        )  # fmt: skip

        assert result.status == 1
        assert "link-local" in result.err


PAUSED_ROTATION = """
import sys, time
from prizm.cli.main import main
from prizm.store.integrations import IntegrationRepository

original = IntegrationRepository.reseal
calls = []


def paused(self, name):
    if len(calls) == 5:
        print("paused", flush=True)
        time.sleep(600)
    calls.append(name)
    return original(self, name)


IntegrationRepository.reseal = paused
sys.exit(main(["keys", "rotate"]))
"""


def add_keyed_integrations(count: int, canaries: Canaries) -> dict[str, str]:
    service = IntegrationService(open_store())
    keys = {}
    for index in range(count):
        key = canaries.make_plain(f"key{index}")
        service.add(
            "aws",
            f"int{index}",
            {
                "region": "us-east-1",
                "auth": "access-keys",
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": key,
            },
        )
        keys[f"int{index}"] = key
    return keys


class TestKeys:
    def test_rotate_with_key_file(self, prizm_home: Path, canaries: Canaries) -> None:
        keys = add_keyed_integrations(3, canaries)
        old = load_master_keys()[0].key_id

        result = run_cli(["keys", "rotate", "--json"])

        report = json.loads(result.out)
        assert result.status == 0
        assert sorted(report["resealed"]) == sorted(keys)
        assert report["retired_key_ids"] == [old]
        lines = (prizm_home / "master.key").read_text().split()
        assert len(lines) == 1
        service = IntegrationService(open_store())
        for name, key in keys.items():
            record = service.get(name)
            assert (
                sealed_key_id(record.sealed_credentials or "")
                == report["primary_key_id"]
            )
            settings = service.settings(record)
            assert settings.secret_access_key.get_secret_value() == key  # type: ignore[attr-defined]

    def test_rotate_counts_keyless_integrations(self, canaries: Canaries) -> None:
        add_keyed_integrations(1, canaries)
        IntegrationService(open_store()).add(
            "aws", "role", {"region": "us-east-1", "auth": "iam-role"}
        )

        result = run_cli(["keys", "rotate", "--json"])

        report = json.loads(result.out)
        assert report["resealed"] == ["int0"]
        assert report["unchanged"] == []
        assert report["without_credentials"] == ["role"]

    def test_interrupted_rotation_resumes(
        self, prizm_home: Path, canaries: Canaries
    ) -> None:
        keys = add_keyed_integrations(12, canaries)
        reset_stores()
        database = prizm_home / "prizm.db"
        old = load_master_keys()[0].key_id
        # The rotation runs in a child process that pauses after five reseals, so
        # the kill always lands half-way; nothing else of the rotation is changed.
        process = subprocess.Popen(
            [sys.executable, "-c", PAUSED_ROTATION],
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "paused"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        rows = sqlite3.connect(database).execute("select credentials from integrations")
        moved = [row for row in rows.fetchall() if sealed_key_id(row[0]) != old]
        assert len(moved) == 5
        assert len((prizm_home / "master.key").read_text().split()) == 2

        again = run_cli_process(["keys", "rotate", "--json"])

        report = json.loads(again.out)
        assert again.status == 0, again.err
        assert report["finished"] is True
        assert report["unreadable"] == []
        assert len((prizm_home / "master.key").read_text().split()) == 1
        check = run_cli_process(["keys", "check", "--json"])
        assert check.status == 0
        assert all(item["readable"] for item in json.loads(check.out))
        reset_stores()
        service = IntegrationService(open_store())
        for name, key in keys.items():
            settings = service.settings(service.get(name))
            assert settings.secret_access_key.get_secret_value() == key  # type: ignore[attr-defined]

    def test_environment_keys(
        self, monkeypatch: pytest.MonkeyPatch, canaries: Canaries
    ) -> None:
        old = base64.urlsafe_b64encode(os.urandom(32)).decode()
        new = base64.urlsafe_b64encode(os.urandom(32)).decode()
        monkeypatch.setenv("PRIZM_MASTER_KEY", old)
        add_keyed_integrations(2, canaries)

        single = run_cli(["keys", "rotate"])
        monkeypatch.setenv("PRIZM_MASTER_KEY", f"{new},{old}")
        reset_stores()
        rotated = run_cli(["keys", "rotate", "--json"])
        monkeypatch.setenv("PRIZM_MASTER_KEY", new)
        reset_stores()
        checked = run_cli(["keys", "check", "--json"])

        assert single.status == 2
        assert "NEW,OLD" in single.err
        assert rotated.status == 0, rotated.err
        assert checked.status == 0
        assert all(item["readable"] for item in json.loads(checked.out))

    def test_lost_key_names_integrations(
        self, prizm_home: Path, canaries: Canaries
    ) -> None:
        add_keyed_integrations(2, canaries)
        reset_stores()
        (prizm_home / "master.key").unlink()
        (prizm_home / "master.key").write_text(
            base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n"
        )

        result = run_cli(["keys", "check"])
        used = run_cli(["secret", "get", "vault://int0/x"])

        assert result.status == 1
        assert "int0" in result.out
        assert "int1" in result.out
        assert "prizm integration update aws int0" in result.out
        assert used.err.startswith("error[credentials_unreadable]")
        assert "integration 'int0'" in used.err

    def test_running_process_sees_new_key(self, canaries: Canaries) -> None:
        add_keyed_integrations(1, canaries)
        store = open_store()
        before = store.master_keys()[0].key_id

        assert run_cli_process(["keys", "rotate"]).status == 0
        after = store.master_keys()[0].key_id
        settings = IntegrationService(store).settings(store.integrations.get("int0"))

        assert after != before
        assert settings is not None


class TestLogMasking:
    def test_any_logger_is_masked(
        self, canaries: Canaries, caplog: pytest.LogCaptureFixture
    ) -> None:
        configure_logging()
        value = canaries.make("logged")
        SecretValue(value)
        other = logging.getLogger("somelibrary.internal")

        other.warning("connecting with %s", value)
        other.warning(
            "encoded %s and %s",
            quote(value, safe=""),
            base64.b64encode(value.encode()).decode(),
        )
        try:
            raise RuntimeError(f"driver said password={value}")
        except RuntimeError:
            other.exception("failed")

        text = "\n".join(
            record.getMessage() + (record.exc_text or "") for record in caplog.records
        )
        assert "connecting with ********" in text
        assert "driver said password=********" in text
        assert "encoded ******** and ********" in text

    @pytest.mark.parametrize("literal", ["null", "true", "false"])
    def test_json_literals_not_masked(self, literal: str) -> None:
        redaction.register(literal)

        assert redaction.scrub(f"the secret is {literal}") == f"the secret is {literal}"

    def test_value_inside_basic_auth_header_masked(self, canaries: Canaries) -> None:
        token = canaries.make_plain("jira")
        SecretValue(token)
        header = base64.b64encode(f"me@example.com:{token}".encode()).decode()

        assert "cnry" not in redaction.scrub(header)
        assert redaction.scrub(header) != header

    def test_key_value_line_escapes_control_characters(self) -> None:
        record = logging.LogRecord(
            "prizm.test",
            logging.WARNING,
            __file__,
            1,
            "user=%s",
            ("ana\nforged",),
            None,
        )
        record.detail = "a\r\x1b[31mb\u2028c"

        line = KeyValueFormatter().format(record)

        assert "\n" not in line
        assert line.endswith(
            "prizm.test user=ana\\nforged detail=a\\r\\x1b[31mb\\u2028c"
        )

    def test_unknown_log_level_warned(
        self, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("PRIZM_LOG_LEVEL", "loud")

        configure_logging()

        err = capfd.readouterr().err
        assert "PRIZM_LOG_LEVEL='loud' is not a log level" in err
        assert logging.getLogger("prizm").level == logging.WARNING


class TestReviewFindings:
    """Behaviours found by trying Prizm as a new user would."""

    def test_rotate_held_to_allowed_list_and_audited(
        self, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.add_integration(allowed_secrets="prizm/*")
        aws.create_secret("other/db", json.dumps({"password": canaries.make("rot")}))

        refused = run_cli(
            ["rotate", "vault://aws/other/db", "--strategy", "single-user"]
        )
        events = run_cli(["audit", "--json"]).out.splitlines()

        assert refused.status == 1
        assert "error[reference_not_allowed]" in refused.err
        assert "own region and account" not in refused.err
        assert aws.client().describe_secret(SecretId="other/db")["VersionIdsToStages"]
        assert not any('"secret.rotate"' in line for line in events)

    def test_missing_key_file_not_replaced(
        self, prizm_home: Path, canaries: Canaries
    ) -> None:
        add_keyed_integrations(1, canaries)
        reset_stores()
        (prizm_home / "master.key").rename(prizm_home / "master.key.away")

        checked = run_cli(["keys", "check", "--json"])
        added = run_cli(
            ["integration", "add", "aws", "later", "--region", "us-east-1", "--auth",
             "access-keys", "--access-key-id", "AKIAIOSFODNN7EXAMPLE",
             "--secret-access-key-stdin"],
            stdin="key\n",
        )  # fmt: skip

        assert checked.status == 1
        assert not (prizm_home / "master.key").exists()
        assert added.status == 1
        assert added.err.startswith("error[credentials_unreadable]")
        assert "master key is missing" in added.err

    def test_lost_key_reset_then_reentered(
        self, prizm_home: Path, canaries: Canaries
    ) -> None:
        add_keyed_integrations(2, canaries)
        reset_stores()
        (prizm_home / "master.key").unlink()
        new_key = canaries.make_plain("re-entered-key")

        missing = run_cli(["secret", "get", "vault://int0/x"])
        reset = run_cli(["keys", "reset", "--json"])
        again = run_cli(["keys", "reset"])
        partial = run_cli(
            ["integration", "update", "aws", "int0", "--region", "us-west-2"]
        )
        reentered = run_cli(
            ["integration", "update", "aws", "int0", "--access-key-id",
             "AKIAIOSFODNN7EXAMPLE", "--secret-access-key-stdin"],
            stdin=new_key + "\n",
        )  # fmt: skip
        checked = run_cli(["keys", "check", "--json"])

        assert "int0, int1" in missing.err
        assert "prizm keys reset" in missing.err
        assert reset.status == 0, reset.err
        assert json.loads(reset.out) == {"unreadable": ["int0", "int1"]}
        assert (prizm_home / "master.key").exists()
        assert again.status == 2
        assert "not lost" in again.err
        assert partial.status == 1
        assert partial.err.startswith("error[credentials_unreadable]")
        assert "must give the credentials again" in partial.err
        assert reentered.status == 0, reentered.err
        readable = {
            item["integration"]: item["readable"] for item in json.loads(checked.out)
        }
        assert readable == {"int0": True, "int1": False}
        service = IntegrationService(open_store())
        settings = service.settings(service.get("int0"))
        assert settings.secret_access_key.get_secret_value() == new_key  # type: ignore[attr-defined]
        actions = [event.action for event in open_store().audit.events()]
        assert "keys.reset" in actions

    @pytest.mark.parametrize("where", ["environment", "file"])
    def test_malformed_key_not_called_missing(
        self,
        where: str,
        prizm_home: Path,
        canaries: Canaries,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        add_keyed_integrations(1, canaries)
        reset_stores()
        if where == "environment":
            monkeypatch.setenv("PRIZM_MASTER_KEY", "garbage")
        else:
            (prizm_home / "master.key").write_text("AAAA\n")

        used = run_cli(["secret", "get", "vault://int0/x"])
        checked = run_cli(["keys", "check"])

        for result in (used, checked):
            assert result.status == 1
            assert result.err.startswith("error[store_error]")
            assert "missing" not in result.err
            assert "again" not in result.out

    def test_reset_refused_with_environment_key(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "PRIZM_MASTER_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode()
        )

        result = run_cli(["keys", "reset"])

        assert result.status == 2
        assert "PRIZM_MASTER_KEY is set" in result.err

    def test_store_file_is_private(self, prizm_home: Path, canaries: Canaries) -> None:
        add_keyed_integrations(1, canaries)

        mode = os.stat(prizm_home / "prizm.db").st_mode & 0o777

        assert mode == 0o600

    def test_secret_field_literal_not_echoed(
        self, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.add_integration()
        literal = "vault:" + canaries.make_plain("typed-password")

        result = run_cli(
            ["connector", "add", "postgres", "c", "-f", "host=h", "-f", "database=d",
             "-f", "username=u", "-f", f"password={literal}"]
        )  # fmt: skip

        assert result.status == 1
        assert result.err.startswith(
            "error[invalid_reference]: Field 'password' is secret"
        )

    def test_unknown_fields_to_clear_rejected(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        service = IntegrationService(open_store())

        with pytest.raises(InvalidIntegration):
            service.update("aws", {}, clear=["anything"])
        result = run_cli(["connector", "update", "nothing-here", "--unset", "x"])

        assert result.err.startswith("error[unknown_connector]")

    def test_huge_run_id_is_not_found(self) -> None:
        result = run_cli(["runs", "--id", "99999999999999999999999"])

        assert result.status == 1
        assert result.err.startswith("error[run_not_found]")

    def test_runs_of_unknown_connector(self) -> None:
        result = run_cli(["runs", "ghost"])

        assert result.status == 1
        assert result.err.startswith("error[unknown_connector]")

    def test_nul_in_password_is_explained(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        credentials = database.secret_json() | {"password": "pass\u0000word"}
        aws.create_secret("prizm/nul", json.dumps(credentials))
        ConnectorService(open_store()).add(
            "postgres",
            "nul",
            {
                "host": database.host,
                "port": str(database.port),
                "database": database.name,
                "username": "vault://aws/prizm/nul#username",
                "password": "vault://aws/prizm/nul#password",
            },
        )

        run = JobService(open_store()).run("nul")

        assert run.error_code == "invalid_field"
        assert "NUL character" in (run.error_message or "")

    def test_missing_stage_is_version_not_found(self, aws: AwsFixture) -> None:
        aws.add_integration()
        aws.create_secret("staged", '{"k": "v"}')

        result = run_cli(["secret", "get", "vault://aws/staged?version-stage=NOPE#k"])

        assert result.err.startswith("error[version_not_found]")

    def test_broker_url_on_metadata_address_rejected(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from prizm.errors import BrokerUnavailable
        from prizm.worker.settings import WorkerSettings

        monkeypatch.setenv("PRIZM_BROKER_URL", "redis://169.254.169.254:6379/0")

        with pytest.raises(BrokerUnavailable):
            WorkerSettings.from_environment()

    def test_restrict_warns_about_broken_connectors(
        self, aws: AwsFixture, database: Database
    ) -> None:
        aws.add_integration()
        ConnectorService(open_store()).add(
            "postgres",
            "legacy",
            {
                "host": "h",
                "database": "d",
                "username": "u",
                "password": "vault://aws/legacy/db#password",
            },
        )

        result = run_cli(
            ["integration", "restrict", "aws", "--allowed-secrets", "prizm/*"]
        )

        assert result.status == 0
        assert "connector 'legacy'" in result.err
