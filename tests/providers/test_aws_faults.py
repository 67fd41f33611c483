"""AWS failures that moto does not produce, injected by a loopback proxy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devtools.proxy import Fault, FaultProxy, aws_error, aws_query_error
from prizm.errors import PrizmError
from prizm.integrations import IntegrationService
from prizm.resolver import Resolver
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture, run_cli


@pytest.fixture
def proxy(aws: AwsFixture) -> Iterator[FaultProxy]:
    with FaultProxy(aws.server.url) as running:
        yield running


def resolve(references: dict[str, str]) -> dict[str, object]:
    resolver = Resolver(IntegrationService(open_store()))
    return dict(resolver.resolve(references).outcomes)


def error_of(reference: str) -> PrizmError:
    outcome = resolve({"f": reference})["f"]
    assert isinstance(outcome, PrizmError)
    return outcome


@pytest.fixture
def secret(aws: AwsFixture, canaries: Canaries) -> str:
    aws.create_secret("prizm/db", json.dumps({"password": canaries.make("faults")}))
    return "vault://aws/prizm/db#password"


class TestMappedErrors:
    def test_throttled_after_retries(
        self, aws: AwsFixture, proxy: FaultProxy, secret: str
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        proxy.add(aws_error("ThrottlingException", "Rate exceeded", status=400))

        error = error_of(secret)

        assert error.code == "throttled"
        assert "3 attempts" in error.text
        assert proxy.counts()["GetSecretValue"] == 3

    def test_access_denied(
        self, aws: AwsFixture, proxy: FaultProxy, secret: str
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        proxy.add(
            aws_error(
                "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/app is not authorized to "
                "perform: "
                "secretsmanager:GetSecretValue on resource: prizm/db because no "
                "identity-based policy allows the secretsmanager:GetSecretValue action",
            )
        )

        error = error_of(secret)

        assert error.code == "access_denied"
        assert "secretsmanager:GetSecretValue" in error.text

    def test_kms_access_denied_told_apart(
        self, aws: AwsFixture, proxy: FaultProxy, secret: str
    ) -> None:
        key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
        key = f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
        aws.add_integration(endpoint=proxy.url, kms_key_arn=key)
        proxy.add(aws_error("AccessDeniedException", "Access to KMS is not allowed"))

        error = error_of(secret)

        assert error.code == "kms_access_denied"
        assert "kms:Decrypt" in error.text
        assert key in error.text

    def test_decryption_failed(
        self, aws: AwsFixture, proxy: FaultProxy, secret: str
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        proxy.add(
            aws_error(
                "DecryptionFailure",
                "Secrets Manager can't decrypt the protected secret text using the "
                "provided KMS key.",
            )
        )

        assert error_of(secret).code == "decryption_failed"

    def test_invalid_credentials(
        self, aws: AwsFixture, proxy: FaultProxy, secret: str
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        proxy.add(
            aws_error(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        )

        error = error_of(secret)

        assert error.code == "invalid_credentials"
        assert "prizm integration update aws aws" in error.text

    def test_timeout(self, aws: AwsFixture, proxy: FaultProxy, secret: str) -> None:
        aws.add_integration(endpoint=proxy.url, read_timeout="0.5", max_attempts="1")
        proxy.add(Fault(action="hang", delay=2.0, operation="GetSecretValue"))

        error = error_of(secret)

        assert error.code == "timeout"
        assert "0.5 s" in error.text

    def test_unknown_aws_error_is_service_error(
        self, aws: AwsFixture, proxy: FaultProxy, secret: str
    ) -> None:
        aws.add_integration(endpoint=proxy.url, max_attempts="1")
        proxy.add(aws_error("InternalServiceError", "boom", status=500))

        assert error_of(secret).code == "service_error"


class TestTracebacks:
    """Errors handed out keep no frame whose locals hold the secret's value."""

    @pytest.mark.parametrize(
        ("code", "key"),
        [
            ("not_json", "#k"),
            ("key_not_found", "#user"),
            ("null_value", "#user"),
            ("binary_not_text", ""),
        ],
    )
    def test_value_errors(
        self, aws: AwsFixture, canaries: Canaries, code: str, key: str
    ) -> None:
        value = canaries.make(code)
        documents: dict[str, str | bytes] = {
            "not_json": value,
            "key_not_found": json.dumps({"password": value}),
            "null_value": json.dumps({"password": value, "user": None}),
            "binary_not_text": b"\xff" + value.encode(),
        }
        aws.add_integration()
        aws.create_secret("prizm/db", documents[code])

        error = error_of(f"vault://aws/prizm/db{key}")

        assert error.code == code
        canaries.scan_traceback(error)

    def test_malformed_response(
        self, aws: AwsFixture, proxy: FaultProxy, canaries: Canaries
    ) -> None:
        aws.add_integration(endpoint=proxy.url, max_attempts="1")
        body = {
            "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prizm/db-AbCdEf",
            "Name": "prizm/db",
            "SecretString": json.dumps({"password": canaries.make("malformed")}),
            "CreatedDate": "not-a-date",
        }
        proxy.add(
            Fault(
                status=200,
                body=json.dumps(body),
                headers={"Content-Type": "application/x-amz-json-1.1"},
                operation="GetSecretValue",
            )
        )

        error = error_of("vault://aws/prizm/db#password")

        assert error.code == "service_error"
        assert error.__cause__ is None
        canaries.scan_traceback(error)

    def test_chained_aws_error(
        self, aws: AwsFixture, proxy: FaultProxy, secret: str, canaries: Canaries
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        proxy.add(aws_error("InternalServiceError", "boom", status=500))

        error = error_of(secret)

        assert error.__cause__ is not None
        assert error.__cause__.__traceback__ is None
        canaries.scan_traceback(error)


class TestCredentials:
    def test_iam_role_uses_environment(
        self, aws: AwsFixture, secret: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-environment")
        result = run_cli(
            [
                "integration",
                "add",
                "aws",
                "--region",
                "us-east-1",
                "--endpoint-url",
                aws.endpoint,
                "--allow-http",
            ]
        )
        assert result.status == 0, result.err

        outcome = resolve({"f": secret})["f"]

        assert not isinstance(outcome, PrizmError)

    def test_iam_role_without_credentials(self, aws: AwsFixture, secret: str) -> None:
        result = run_cli(
            [
                "integration",
                "add",
                "aws",
                "--region",
                "us-east-1",
                "--endpoint-url",
                aws.endpoint,
                "--allow-http",
            ]
        )
        assert result.status == 0, result.err

        error = error_of(secret)

        assert error.code == "invalid_credentials"
        assert "default AWS credential chain" in error.text

    def test_assume_role_once_for_many_reads(
        self, aws: AwsFixture, proxy: FaultProxy, secret: str
    ) -> None:
        aws.add_integration(
            endpoint=proxy.url,
            role_arn="arn:aws:iam::123456789012:role/prizm-reader",
            external_id="ext-1",
        )

        for _ in range(3):
            assert not isinstance(resolve({"f": secret})["f"], PrizmError)

        assert proxy.counts()["AssumeRole"] == 1
        assert "ExternalId=ext-1" in proxy.bodies("AssumeRole")[0]

    def test_assume_role_denied_in_batch(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        role = "arn:aws:iam::123456789012:role/prizm-reader"
        aws.add_integration(endpoint=proxy.url, role_arn=role)
        fault = aws_query_error(
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: "
            f"sts:AssumeRole on resource: {role}",
        )
        fault.operation = "AssumeRole"
        proxy.add(fault)

        outcomes = resolve({"a": "vault://aws/x#k", "b": "vault://aws/y#k"})

        for outcome in outcomes.values():
            assert isinstance(outcome, PrizmError)
            assert outcome.code == "access_denied"
            assert f"could not assume role {role}" in outcome.text
            assert "BatchGetSecretValue" not in outcome.text
        # No GetSecretValue per secret followed, so batching was not given up.
        assert proxy.counts() == {"AssumeRole": 1}


class TestBatching:
    def test_one_batch_for_many_secrets(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        for index in range(5):
            aws.create_secret(
                f"batch/{index}", json.dumps({"u": f"user{index}", "p": f"pw{index}"})
            )
        references = {}
        for index in range(5):
            references[f"u{index}"] = f"vault://aws/batch/{index}#u"
            references[f"p{index}"] = f"vault://aws/batch/{index}#p"

        outcomes = resolve(references)

        assert all(not isinstance(o, PrizmError) for o in outcomes.values())
        assert proxy.counts() == {"BatchGetSecretValue": 1}

    def test_batch_errors_mapped_per_secret(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        aws.create_secret("ok", '{"k": "v"}')
        aws.create_secret("gone", '{"k": "v"}')
        aws.client().delete_secret(SecretId="gone")

        outcomes = resolve(
            {
                "a": "vault://aws/ok#k",
                "b": "vault://aws/missing#k",
                "c": "vault://aws/gone#k",
            }
        )

        assert not isinstance(outcomes["a"], PrizmError)
        assert isinstance(outcomes["b"], PrizmError)
        assert outcomes["b"].code == "secret_not_found"
        assert isinstance(outcomes["c"], PrizmError)
        assert outcomes["c"].code == "secret_scheduled_for_deletion"
        assert proxy.counts() == {"BatchGetSecretValue": 1}

    def test_denied_batch_falls_back_and_remembers(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        aws.create_secret("x", '{"k": "1"}')
        aws.create_secret("y", '{"k": "2"}')
        proxy.add(
            aws_error(
                "AccessDeniedException",
                "User is not authorized to perform: secretsmanager:BatchGetSecretValue",
            )
        )
        proxy.faults[-1].operation = "BatchGetSecretValue"
        references = {"a": "vault://aws/x#k", "b": "vault://aws/y#k"}

        first = resolve(references)
        proxy.calls.clear()
        second = resolve(references)

        assert all(not isinstance(o, PrizmError) for o in first.values())
        assert all(not isinstance(o, PrizmError) for o in second.values())
        assert proxy.counts() == {"GetSecretValue": 2}

    def test_pinned_versions_use_single_reads(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        aws.create_secret("pinned", '{"k": "1"}')
        aws.put_value("pinned", '{"k": "2"}')

        outcomes = resolve(
            {
                "now": "vault://aws/pinned#k",
                "before": "vault://aws/pinned?version-stage=AWSPREVIOUS#k",
            }
        )

        assert outcomes["now"].value.reveal() == "2"  # type: ignore[union-attr]
        assert outcomes["before"].value.reveal() == "1"  # type: ignore[union-attr]
        assert proxy.counts() == {"GetSecretValue": 2}
