"""Resolving references through AWS Secrets Manager, against moto's server over HTTP."""

from __future__ import annotations

import json
import uuid

import pytest

from prizm.errors import PrizmError
from prizm.integrations import IntegrationService
from prizm.resolver import Resolver
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture


def resolver() -> Resolver:
    return Resolver(IntegrationService(open_store()))


def resolve_one(reference: str) -> str:
    outcome = resolver().resolve({"field": reference}).outcomes["field"]
    if isinstance(outcome, PrizmError):
        raise outcome
    return outcome.value.reveal()


def error_of(reference: str) -> PrizmError:
    outcome = resolver().resolve({"field": reference}).outcomes["field"]
    assert isinstance(outcome, PrizmError), "expected an error"
    return outcome


@pytest.fixture
def integration(aws: AwsFixture) -> str:
    return aws.add_integration()


class TestValues:
    def test_key_of_json_secret(
        self, aws: AwsFixture, integration: str, canaries: Canaries
    ) -> None:
        password = canaries.make("password")
        aws.create_secret(
            "prizm/snowflake", json.dumps({"password": password, "user": "u"})
        )

        assert resolve_one("vault://aws/prizm/snowflake#password") == password

    def test_whole_secret_string(
        self, aws: AwsFixture, integration: str, canaries: Canaries
    ) -> None:
        value = canaries.make("whole") + "\n"
        aws.create_secret("plain", value)

        assert resolve_one("vault://aws/plain") == value

    def test_slash_and_dash_names_are_different_secrets(
        self, aws: AwsFixture, integration: str
    ) -> None:
        aws.create_secret("prizm/snowflake", '{"k": "slash"}')
        aws.create_secret("prizm-snowflake", '{"k": "dash"}')

        assert resolve_one("vault://aws/prizm/snowflake#k") == "slash"
        assert resolve_one("vault://aws/prizm-snowflake#k") == "dash"

    def test_name_with_specials_passed_verbatim(
        self, aws: AwsFixture, integration: str
    ) -> None:
        aws.create_secret("team+a=b@c.d_e-f", '{"k": "v+w"}')

        assert resolve_one("vault://aws/team+a=b@c.d_e-f#k") == "v+w"

    def test_full_arn(self, aws: AwsFixture, integration: str) -> None:
        arn = aws.create_secret("by-arn", '{"k": "v"}')["ARN"]

        assert resolve_one(f"vault://aws/{arn}#k") == "v"

    def test_partial_arn_passed_as_written(
        self, aws: AwsFixture, integration: str
    ) -> None:
        arn = aws.create_secret("partial", '{"k": "v"}')["ARN"]
        partial = arn[:-7]

        assert resolve_one(f"vault://aws/{partial}#k") == "v"

    def test_name_ending_like_suffix(self, aws: AwsFixture, integration: str) -> None:
        aws.create_secret("name-AbCdEf", '{"k": "v"}')

        assert resolve_one("vault://aws/name-AbCdEf#k") == "v"

    def test_arn_region_wins(self, aws: AwsFixture, integration: str) -> None:
        other = aws.client(region="eu-west-1")
        arn = other.create_secret(Name="in-eu", SecretString='{"k": "eu"}')["ARN"]

        assert resolve_one(f"vault://aws/{arn}#k") == "eu"
        assert error_of("vault://aws/in-eu#k").code == "secret_not_found"

    def test_number_boolean_and_object(self, aws: AwsFixture, integration: str) -> None:
        aws.create_secret(
            "typed", '{"port": 5432, "ssl": true, "extra": {"a": [1, "b"]}}'
        )

        assert resolve_one("vault://aws/typed#port") == "5432"
        assert resolve_one("vault://aws/typed#ssl") == "true"
        assert resolve_one("vault://aws/typed#extra") == '{"a":[1,"b"]}'

    def test_binary_secret_decoded_as_text(
        self, aws: AwsFixture, integration: str
    ) -> None:
        aws.create_secret("binary-text", '{"k": "é-text"}'.encode())

        assert resolve_one("vault://aws/binary-text#k") == "é-text"

    def test_binary_not_text(self, aws: AwsFixture, integration: str) -> None:
        aws.create_secret("binary-raw", b"\xff\xfe\x00\x81")

        error = error_of("vault://aws/binary-raw")

        assert error.code == "binary_not_text"
        assert error.__context__ is None

    def test_previous_stage_and_version_id(
        self, aws: AwsFixture, integration: str
    ) -> None:
        first = aws.create_secret("staged", '{"k": "one"}')["VersionId"]
        aws.put_value("staged", '{"k": "two"}')

        assert resolve_one("vault://aws/staged#k") == "two"
        assert resolve_one("vault://aws/staged?version-stage=AWSPREVIOUS#k") == "one"
        assert resolve_one(f"vault://aws/staged?version-id={first}#k") == "one"

    def test_source_names_arn_and_version(
        self, aws: AwsFixture, integration: str
    ) -> None:
        created = aws.create_secret("sourced", '{"k": "v"}')

        outcome = resolver().resolve({"f": "vault://aws/sourced#k"}).values["f"]

        assert outcome.source.secret_id == created["ARN"]
        assert outcome.source.version_id == created["VersionId"]
        assert outcome.source.integration == "aws"
        assert "AWSCURRENT" in outcome.source.version_stages

    def test_value_is_masked(
        self, aws: AwsFixture, integration: str, canaries: Canaries
    ) -> None:
        password = canaries.make("masked")
        aws.create_secret("masked", json.dumps({"p": password}))

        outcome = resolver().resolve({"f": "vault://aws/masked#p"}).values["f"]

        assert password not in repr(outcome)
        assert password not in str(outcome.value)
        assert password not in f"{outcome.value}"


class TestErrors:
    def test_secret_not_found_names_region(
        self, aws: AwsFixture, integration: str
    ) -> None:
        error = error_of("vault://aws/missing#k")

        assert error.code == "secret_not_found"
        assert "us-east-1" in error.text
        assert "vault://aws/missing#k" in error.text
        assert "'aws'" in error.text

    def test_version_not_found(self, aws: AwsFixture, integration: str) -> None:
        aws.create_secret("one-version", '{"k": "v"}')
        missing = str(uuid.uuid4())

        assert (
            error_of(f"vault://aws/one-version?version-id={missing}").code
            == "version_not_found"
        )

    def test_stage_not_found(self, aws: AwsFixture, integration: str) -> None:
        aws.create_secret("no-previous", '{"k": "v"}')

        error = error_of("vault://aws/no-previous?version-stage=AWSPREVIOUS")

        assert error.code in ("version_not_found", "secret_not_found")

    def test_scheduled_for_deletion(self, aws: AwsFixture, integration: str) -> None:
        aws.create_secret("doomed", '{"k": "v"}')
        aws.client().delete_secret(SecretId="doomed", RecoveryWindowInDays=7)

        error = error_of("vault://aws/doomed#k")

        assert error.code == "secret_scheduled_for_deletion"
        assert error.hint is not None
        assert (
            "aws secretsmanager restore-secret --secret-id doomed --region us-east-1 "
            f"--endpoint-url {aws.endpoint}"
        ) in error.hint

    def test_arn_errors_name_its_region(
        self, aws: AwsFixture, integration: str
    ) -> None:
        other = aws.client(region="eu-west-1")
        arn = other.create_secret(Name="in-eu", SecretString='{"k": "eu"}')["ARN"]
        missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nothere"

        no_key = error_of(f"vault://aws/{arn}#password")
        no_secret = error_of(f"vault://aws/{missing}#k")

        assert no_key.code == "key_not_found"
        assert no_secret.code == "secret_not_found"
        for error in (no_key, no_secret):
            assert "region eu-west-1" in error.text
            assert error.location is not None
            assert error.location.startswith("region eu-west-1")
            assert "us-east-1" not in error.text

    def test_unknown_integration(self, aws: AwsFixture, integration: str) -> None:
        error = error_of("vault://nope/x#k")

        assert error.code == "unknown_integration"
        assert "vault://nope/x#k" in error.text

    def test_invalid_reference(self, integration: str) -> None:
        assert error_of("vault://aws/").code == "invalid_reference"

    def test_version_option_of_other_vault(self, integration: str) -> None:
        error = error_of("vault://aws/x?version=2")

        assert error.code == "invalid_reference"
        assert "version-stage or version-id" in error.text

    def test_both_stage_and_id(self, integration: str) -> None:
        reference = "vault://aws/x?version-stage=AWSCURRENT&version-id=" + "a" * 32

        assert error_of(reference).code == "invalid_reference"

    def test_bad_version_id(self, integration: str) -> None:
        assert error_of("vault://aws/x?version-id=short").code == "invalid_reference"

    def test_not_json(
        self, aws: AwsFixture, integration: str, canaries: Canaries
    ) -> None:
        aws.create_secret("text", canaries.make("text"))

        error = error_of("vault://aws/text#k")

        assert error.code == "not_json"

    def test_key_not_found(self, aws: AwsFixture, integration: str) -> None:
        aws.create_secret("keys", '{"user": "u"}')

        assert error_of("vault://aws/keys#password").code == "key_not_found"

    def test_null_value(self, aws: AwsFixture, integration: str) -> None:
        aws.create_secret("nulls", '{"password": null}')

        assert error_of("vault://aws/nulls#password").code == "null_value"

    def test_one_failure_does_not_blank_others(
        self, aws: AwsFixture, integration: str
    ) -> None:
        aws.create_secret("good", '{"k": "fine"}')

        resolution = resolver().resolve(
            {"a": "vault://aws/good#k", "b": "vault://aws/missing#k", "c": "vault://x/"}
        )

        assert resolution.values["a"].value.reveal() == "fine"
        assert resolution.errors["b"].code == "secret_not_found"
        assert resolution.errors["c"].code == "invalid_reference"
        assert not resolution.ok

    def test_endpoint_unreachable(self, aws: AwsFixture) -> None:
        from devtools.servers import free_port

        aws.add_integration("down", endpoint=f"http://127.0.0.1:{free_port()}")

        error = error_of("vault://down/x#k")

        assert error.code == "endpoint_unreachable"
        assert "'down'" in error.text
