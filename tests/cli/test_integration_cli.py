"""``prizm integration`` and ``prizm secret get`` on the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devtools.proxy import Fault, FaultProxy, aws_error, aws_query_error
from devtools.servers import free_port
from tests.support.canaries import Canaries
from tests.support.fixtures import (
    ACCESS_KEY_ID,
    AwsFixture,
    run_cli,
    run_cli_process,
)

ADD = ["integration", "add", "aws", "--region", "us-east-1"]
ROLE = "arn:aws:iam::123456789012:role/prizm-reader"


def add_args(endpoint: str, *extra: str) -> list[str]:
    return [
        *ADD,
        "--auth",
        "access-keys",
        "--access-key-id",
        ACCESS_KEY_ID,
        "--secret-access-key-stdin",
        "--endpoint-url",
        endpoint,
        "--allow-http",
        *extra,
    ]


@pytest.fixture
def proxy(aws: AwsFixture) -> Iterator[FaultProxy]:
    with FaultProxy(aws.server.url) as running:
        yield running


def deny_assume_role(proxy: FaultProxy) -> None:
    fault = aws_query_error(
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: "
        f"sts:AssumeRole on resource: {ROLE}",
    )
    fault.operation = "AssumeRole"
    proxy.add(fault)


class TestAdd:
    def test_first_aws_integration_is_named_aws(self, aws: AwsFixture) -> None:
        result = run_cli(add_args(aws.endpoint), stdin="key\n")

        assert result.status == 0, result.err
        assert "'aws'" in result.out

    def test_second_needs_its_own_name(self, aws: AwsFixture) -> None:
        run_cli(add_args(aws.endpoint), stdin="key\n")

        again = run_cli(add_args(aws.endpoint), stdin="key\n")
        named = run_cli(
            [*add_args(aws.endpoint)[:3], "aws-eu", *add_args(aws.endpoint)[3:]],
            stdin="key\n",
        )

        assert again.status == 1
        assert again.err.startswith("error[integration_exists]: ")
        assert "prizm integration add aws aws-2" in again.err
        assert named.status == 0, named.err

    def test_secret_key_never_printed_or_stored(
        self, aws: AwsFixture, canaries: Canaries
    ) -> None:
        secret_key = canaries.make("secret-key")
        token = canaries.make("session-token")

        add = run_cli(
            add_args(aws.endpoint, "--session-token-stdin"),
            stdin=f"{secret_key}\n{token}\n",
        )
        show = run_cli(["integration", "show", "aws", "--json"])
        listed = run_cli(["integration", "list", "--json"])

        assert add.status == 0, add.err
        settings = json.loads(show.out)["settings"]
        assert settings["secret_access_key"] == "(set)"
        assert settings["session_token"] == "(set)"
        assert json.loads(listed.out)[0]["name"] == "aws"

    def test_access_keys_without_stdin_is_usage_error(self) -> None:
        result = run_cli(
            [*ADD, "--auth", "access-keys", "--access-key-id", ACCESS_KEY_ID]
        )

        assert result.status == 2
        assert result.err.startswith("error[usage_error]: ")
        assert "--secret-access-key-stdin" in result.err

    def test_missing_region_is_usage_error(self) -> None:
        result = run_cli(["integration", "add", "aws"])

        assert result.status == 2
        assert "--region" in result.err

    def test_unknown_auth_is_usage_error(self) -> None:
        result = run_cli([*ADD, "--auth", "password"])

        assert result.status == 2

    def test_invalid_settings_listed_without_values(self) -> None:
        result = run_cli(
            [
                *ADD[:-1],
                "mars-north-9x",
                "--kms-key-arn",
                "not-an-arn",
                "--endpoint-url",
                "ftp://example",
            ]
        )

        assert result.status == 1
        assert result.err.startswith("error[invalid_integration]: ")
        assert "region" in result.err
        assert "kms_key_arn" in result.err
        assert "endpoint_url" in result.err

    @pytest.mark.parametrize("external_id", ["x", "has space", "a" * 1225])
    def test_invalid_external_id_rejected(
        self, aws: AwsFixture, external_id: str
    ) -> None:
        args = add_args(aws.endpoint, "--role-arn", ROLE, "--external-id", external_id)

        result = run_cli(args, stdin="key\n")

        assert result.status == 1
        assert result.err.startswith("error[invalid_integration]: ")
        assert "External ID must be 2 to 1224 characters" in result.err

    def test_key_with_spaces_rejected(self, canaries: Canaries) -> None:
        key = canaries.make_plain("spaced-key")

        result = run_cli(add_args("http://127.0.0.1:1"), stdin=f"  {key}  \n")

        assert result.status == 1
        assert result.err.startswith("error[invalid_integration]: ")
        assert "whitespace" in result.err

    def test_empty_stdin_line_rejected(self) -> None:
        result = run_cli(add_args("http://127.0.0.1:1"), stdin="\n")

        assert result.status == 2
        assert "empty" in result.err

    def test_bad_integration_name(self, aws: AwsFixture) -> None:
        args = add_args(aws.endpoint)
        result = run_cli([*args[:3], "Bad Name", *args[3:]], stdin="k\n")

        assert result.status == 1
        assert "error[invalid_integration]" in result.err

    def test_json_error_shape(self) -> None:
        result = run_cli(["integration", "show", "nope", "--json"])

        assert result.status == 1
        error = json.loads(result.out)["error"]
        assert error["code"] == "unknown_integration"
        assert "prizm integration list" in error["message"]


class TestUpdate:
    def test_update_keeps_credentials(self, aws: AwsFixture) -> None:
        aws.add_integration()
        aws.create_secret("kept", '{"k": "v"}')

        updated = run_cli(
            ["integration", "update", "aws", "aws", "--read-timeout", "20"]
        )
        value = run_cli(["secret", "get", "vault://aws/kept#k"], reveals=True)

        assert updated.status == 0, updated.err
        assert value.out == "v\n"

    def test_update_clears_with_empty_value(self, aws: AwsFixture) -> None:
        key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
        key = f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
        aws.add_integration(kms_key_arn=key)

        run_cli(["integration", "update", "aws", "aws", "--kms-key-arn", ""])
        shown = json.loads(run_cli(["integration", "show", "aws", "--json"]).out)

        assert "kms_key_arn" not in shown["settings"]

    def test_switch_to_iam_role_drops_keys(self, aws: AwsFixture) -> None:
        aws.add_integration()

        result = run_cli(["integration", "update", "aws", "aws", "--auth", "iam-role"])
        shown = json.loads(run_cli(["integration", "show", "aws", "--json"]).out)

        assert result.status == 0, result.err
        assert shown["settings"]["auth"] == "iam-role"
        assert "secret_access_key" not in shown["settings"]


class TestRemove:
    def test_remove(self, aws: AwsFixture) -> None:
        aws.add_integration()

        removed = run_cli(["integration", "remove", "aws"])
        listed = run_cli(["integration", "list", "--json"])

        assert removed.status == 0
        assert json.loads(listed.out) == []

    def test_remove_unknown(self) -> None:
        result = run_cli(["integration", "remove", "ghost"])

        assert result.status == 1
        assert result.err.startswith("error[unknown_integration]: ")


class TestTestConnection:
    def test_all_steps_pass(self, aws: AwsFixture, canaries: Canaries) -> None:
        aws.add_integration()
        aws.create_secret(
            "prizm/db", json.dumps({"username": "u", "password": canaries.make()})
        )

        result = run_cli(
            [
                "integration",
                "test",
                "aws",
                "--secret",
                "prizm/db",
                "--secret",
                "prizm/db#password",
            ]
        )

        assert result.status == 0, result.out
        assert "Credentials" in result.out
        assert "username, password" in result.out
        assert "Result: passed" in result.out

    def test_json_report_and_last_test(self, aws: AwsFixture) -> None:
        aws.add_integration()

        result = run_cli(
            ["integration", "test", "aws", "--secret", "missing", "--json"]
        )
        listed = json.loads(run_cli(["integration", "list", "--json"]).out)

        report = json.loads(result.out)
        assert result.status == 1
        assert report["ok"] is False
        failed = [step for step in report["steps"] if step["status"] == "failed"]
        assert failed[0]["code"] == "secret_not_found"
        assert "fix" in failed[0]
        assert listed[0]["last_test"]["ok"] is False

    def test_reads_connector_references(self, aws: AwsFixture) -> None:
        aws.add_integration()
        aws.create_secret("prizm/db", json.dumps({"username": "u"}))
        fields = {
            "host": "127.0.0.1",
            "database": "d",
            "username": "vault://aws/prizm/db#username",
            "password": "vault://aws/prizm/db#password",
        }
        args = ["connector", "add", "postgres", "app"]
        for key, value in fields.items():
            args += ["--field", f"{key}={value}"]
        assert run_cli(args).status == 0

        result = run_cli(["integration", "test", "aws", "--json"])

        report = json.loads(result.out)
        steps = {step["name"]: step for step in report["steps"]}
        assert result.status == 1
        assert steps["Secret vault://aws/prizm/db#username"]["status"] == "ok"
        password = steps["Secret vault://aws/prizm/db#password"]
        assert password["status"] == "failed"
        assert password["code"] == "key_not_found"

    def test_nothing_read_warns(self, aws: AwsFixture) -> None:
        aws.add_integration()

        result = run_cli(["integration", "test", "aws", "--json"])
        text = run_cli(["integration", "test", "aws"])

        report = json.loads(result.out)
        assert result.status == 0
        assert "1 with a warning, first: Secrets" in text.out
        assert report["steps"][-1]["name"] == "Secrets"
        assert report["steps"][-1]["status"] == "warning"
        assert "--secret" in report["steps"][-1]["fix"]

    def test_missing_key_fails_step(self, aws: AwsFixture) -> None:
        aws.add_integration()
        aws.create_secret("prizm/db", json.dumps({"username": "u"}))

        result = run_cli(
            ["integration", "test", "aws", "--secret", "prizm/db#password"]
        )

        assert result.status == 1
        assert "no key 'password'" in result.out

    def test_bracketed_secret_name_shown_verbatim(self, aws: AwsFixture) -> None:
        aws.add_integration()

        result = run_cli(["integration", "test", "aws", "--secret", "prizm/[red]x[/]"])

        assert result.status == 1
        assert "Secret prizm/[red]x[/]:" in result.out
        assert "internal_error" not in result.err

    def test_reference_to_other_integration_fails_step(self, aws: AwsFixture) -> None:
        aws.add_integration()

        result = run_cli(
            [
                "integration",
                "test",
                "aws",
                "--secret",
                "vault://other/prizm/db#password",
                "--json",
            ]
        )

        assert result.status == 1
        report = json.loads(result.out)
        failed = [step for step in report["steps"] if step["status"] == "failed"]
        assert failed[0]["code"] == "invalid_reference"
        assert "prizm integration test other" in failed[0]["fix"]

    def test_kms_denied_names_fix(self, aws: AwsFixture, proxy: FaultProxy) -> None:
        aws.add_integration(endpoint=proxy.url)
        aws.create_secret("prizm/db", '{"password": "p"}')
        proxy.add(aws_error("AccessDeniedException", "Access to KMS is not allowed"))
        proxy.faults[-1].operation = "GetSecretValue"

        result = run_cli(["integration", "test", "aws", "--secret", "prizm/db"])

        assert result.status == 1
        assert "kms:Decrypt" in result.out

    def test_bad_credentials_skip_later_steps(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        fault = aws_query_error(
            "InvalidClientTokenId", "The security token included is invalid."
        )
        fault.operation = "GetCallerIdentity"
        proxy.add(fault)

        result = run_cli(["integration", "test", "aws", "--secret", "x", "--json"])

        steps = json.loads(result.out)["steps"]
        assert steps[0]["name"] == "Credentials"
        assert steps[0]["code"] == "invalid_credentials"
        assert "in AWS STS (" in steps[0]["detail"]
        assert "Access Key ID" in steps[0]["fix"]
        assert all(step["status"] == "skipped" for step in steps[1:])

    def test_sts_timeout_names_sts(self, aws: AwsFixture, proxy: FaultProxy) -> None:
        aws.add_integration(endpoint=proxy.url, read_timeout="0.5", max_attempts="1")
        proxy.add(Fault(action="hang", delay=2.0, operation="GetCallerIdentity"))

        result = run_cli(["integration", "test", "aws", "--json"])

        step = json.loads(result.out)["steps"][0]
        assert step["code"] == "timeout"
        assert "AWS did not answer GetCallerIdentity within 0.5 s" in step["detail"]
        assert "in AWS STS (" in step["detail"]
        assert "Secrets Manager" not in step["detail"]

    def test_throttled_list_names_no_secret(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url, max_attempts="1")
        fault = aws_error("ThrottlingException", "Rate exceeded")
        fault.operation = "ListSecrets"
        proxy.add(fault)

        result = run_cli(["integration", "test", "aws", "--json"])

        steps = {step["name"]: step for step in json.loads(result.out)["steps"]}
        service = steps["Secrets Manager"]
        assert service["code"] == "throttled"
        assert service["detail"].startswith(
            "AWS throttled ListSecrets in AWS Secrets Manager ("
        )
        assert proxy.counts()["ListSecrets"] == 1

    def test_assume_role_denied_names_fix(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url, role_arn=ROLE)
        deny_assume_role(proxy)

        result = run_cli(
            ["integration", "test", "aws", "--secret", "prizm/db", "--json"]
        )

        steps = {step["name"]: step for step in json.loads(result.out)["steps"]}
        assumed = steps["Assume role"]
        assert result.status == 1
        assert steps["Credentials"]["status"] == "ok"
        assert assumed["status"] == "failed"
        assert assumed["code"] == "access_denied"
        assert f"could not assume role {ROLE}" in assumed["detail"]
        assert f"Allow sts:AssumeRole on {ROLE}" in assumed["fix"]
        assert "trust policy" in assumed["fix"]
        assert "--external-id" in assumed["fix"]
        assert steps["Secret prizm/db"]["status"] == "skipped"

    def test_unreachable_endpoint(self, aws: AwsFixture) -> None:
        aws.add_integration(
            "down", endpoint=f"http://127.0.0.1:{free_port()}", max_attempts="1"
        )

        result = run_cli(["integration", "test", "down", "--json"])

        steps = json.loads(result.out)["steps"]
        assert result.status == 1
        assert steps[0]["code"] == "endpoint_unreachable"
        assert "endpoint URL" in steps[0]["fix"]

    def test_kms_key_described(self, aws: AwsFixture) -> None:
        key = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
        aws.add_integration(kms_key_arn=key)
        aws.create_secret("prizm/kms", '{"k": "v"}', KmsKeyId=key)

        result = run_cli(
            ["integration", "test", "aws", "--secret", "prizm/kms", "--json"]
        )

        steps = {step["name"]: step for step in json.loads(result.out)["steps"]}
        assert result.status == 0, result.out
        assert steps["KMS key"]["status"] == "ok"
        assert steps["Secret prizm/kms"]["status"] == "ok"

    def test_secret_with_other_kms_key_warns(self, aws: AwsFixture) -> None:
        kms = aws.client("kms")
        configured = kms.create_key()["KeyMetadata"]["Arn"]
        other = kms.create_key()["KeyMetadata"]["Arn"]
        aws.add_integration(kms_key_arn=configured)
        aws.create_secret("prizm/other", '{"k": "v"}', KmsKeyId=other)

        result = run_cli(
            ["integration", "test", "aws", "--secret", "prizm/other", "--json"]
        )

        steps = {step["name"]: step for step in json.loads(result.out)["steps"]}
        assert steps["Secret prizm/other"]["status"] == "warning"
        assert other in steps["Secret prizm/other"]["detail"]

    def test_disabled_kms_key_fails(self, aws: AwsFixture) -> None:
        kms = aws.client("kms")
        metadata = kms.create_key()["KeyMetadata"]
        key = metadata["Arn"]
        kms.disable_key(KeyId=metadata["KeyId"])
        aws.add_integration(kms_key_arn=key)

        result = run_cli(["integration", "test", "aws", "--json"])

        steps = {step["name"]: step for step in json.loads(result.out)["steps"]}
        assert result.status == 1
        assert steps["KMS key"]["status"] == "failed"
        assert "Disabled" in steps["KMS key"]["detail"]


class TestSecretGet:
    @pytest.mark.reveals_values
    def test_prints_value_with_newline(
        self, aws: AwsFixture, canaries: Canaries
    ) -> None:
        aws.add_integration()
        value = canaries.make("printed")
        aws.create_secret("printed", json.dumps({"k": value}))

        plain = run_cli(["secret", "get", "vault://aws/printed#k"], reveals=True)
        bare = run_cli(["secret", "get", "-n", "vault://aws/printed#k"], reveals=True)

        assert plain.out == value + "\n"
        assert bare.out == value

    @pytest.mark.reveals_values
    def test_json_has_value_and_source(self, aws: AwsFixture) -> None:
        aws.add_integration()
        created = aws.create_secret("sourced", '{"k": "v"}')

        result = run_cli(
            ["secret", "get", "vault://aws/sourced#k", "--json"], reveals=True
        )

        data = json.loads(result.out)
        assert data["value"] == "v"
        assert data["source"]["secret_id"] == created["ARN"]
        assert data["source"]["version_id"] == created["VersionId"]

    def test_error_line_and_status(self, aws: AwsFixture) -> None:
        aws.add_integration()

        result = run_cli(["secret", "get", "vault://aws/none#k"])

        assert result.status == 1
        assert result.out == ""
        assert result.err.startswith(
            "error[secret_not_found]: Cannot resolve vault://aws/none#k"
        )

    def test_missing_arn_names_its_region(self, aws: AwsFixture) -> None:
        aws.add_integration()
        arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nothere"

        result = run_cli(["secret", "get", f"vault://aws/{arn}#k"])

        assert result.status == 1
        assert result.err.startswith("error[secret_not_found]: ")
        assert "region eu-west-1" in result.err
        assert "us-east-1" not in result.err
        assert "needs its full ARN" not in result.err

    def test_assume_role_denied(self, aws: AwsFixture, proxy: FaultProxy) -> None:
        aws.add_integration(endpoint=proxy.url, role_arn=ROLE, external_id="ext-1")
        deny_assume_role(proxy)

        result = run_cli(["secret", "get", "vault://aws/prizm/db#password"])

        assert result.status == 1
        assert result.err.startswith("error[access_denied]: ")
        assert f"could not assume role {ROLE}" in result.err
        assert "in AWS STS (" in result.err
        assert f"Allow sts:AssumeRole on {ROLE}" in result.err
        assert "trust policy" in result.err
        assert "External ID" in result.err
        assert "GetSecretValue" not in result.err
        assert proxy.counts() == {"AssumeRole": 1}

    def test_malformed_reference(self) -> None:
        result = run_cli(["secret", "get", "aws/x"])

        assert result.status == 1
        assert result.err.startswith("error[invalid_reference]: ")
        assert "vault://<integration>/<secret-name>" in result.err


class TestProcess:
    """The installed command in its own process: exit statuses and standard input."""

    @pytest.mark.reveals_values
    def test_add_and_get_in_processes(
        self, aws: AwsFixture, canaries: Canaries
    ) -> None:
        value = canaries.make("process")
        aws.create_secret("proc", json.dumps({"password": value}))

        added = run_cli_process(add_args(aws.endpoint), stdin="moto-secret-key\n")
        got = run_cli_process(
            ["secret", "get", "vault://aws/proc#password"], reveals=True
        )
        missing = run_cli_process(["secret", "get", "vault://aws/none"])
        usage = run_cli_process(["integration", "frobnicate"])

        assert added.status == 0, added.err
        assert got.status == 0, got.err
        assert got.out == value + "\n"
        assert missing.status == 1
        assert missing.err.startswith("error[secret_not_found]")
        assert usage.status == 2
        assert usage.err.startswith("error[usage_error]")
