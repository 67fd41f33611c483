"""How many API calls and round trips a resolution makes, counted at the HTTP boundary.

These tests count calls and requests in flight at the loopback proxy in front of
moto. They never measure time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from devtools.proxy import Fault, FaultProxy, aws_error
from prizm.errors import PrizmError
from prizm.integrations import IntegrationService
from prizm.resolver import Resolution, Resolver
from prizm.secrets import ResolvedValue
from prizm.store import open_store
from tests.support.fixtures import AwsFixture


@pytest.fixture
def proxy(aws: AwsFixture) -> Iterator[FaultProxy]:
    with FaultProxy(aws.server.url) as running:
        yield running


def resolver() -> Resolver:
    return Resolver(IntegrationService(open_store()))


def job_references(
    secrets: int, integration: str = "aws", prefix: str = "job"
) -> dict[str, str]:
    references = {}
    for index in range(secrets):
        for key in ("username", "password"):
            references[f"{prefix}{index}_{key}"] = (
                f"vault://{integration}/{prefix}/{index}#{key}"
            )
    return references


def create_job_secrets(aws: AwsFixture, secrets: int, prefix: str = "job") -> None:
    for index in range(secrets):
        aws.create_secret(
            f"{prefix}/{index}",
            json.dumps(
                {"username": f"user{index}", "password": f"pw-{prefix}-{index}"}
            ),
        )


def assert_all_resolved(resolution: Resolution) -> None:
    assert resolution.errors == {}
    for label, outcome in resolution.values.items():
        index = label.split("_")[0].removeprefix("job")
        if label.endswith("_username") and index.isdigit():
            assert outcome.value.reveal() == f"user{index}"


class TestBatching:
    def test_fifty_references_to_25_secrets_in_two_calls(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        create_job_secrets(aws, 25)
        proxy.delay = 0.2

        resolution = resolver().resolve(job_references(25))

        assert_all_resolved(resolution)
        assert proxy.counts() == {"BatchGetSecretValue": 2}
        assert proxy.peak_in_flight == 2
        assert len(resolution.api_calls) == 2

    def test_batches_split_at_twenty(self, aws: AwsFixture, proxy: FaultProxy) -> None:
        aws.add_integration(endpoint=proxy.url)
        create_job_secrets(aws, 41)

        resolution = resolver().resolve(job_references(41))

        assert_all_resolved(resolution)
        assert proxy.counts() == {"BatchGetSecretValue": 3}
        sizes = sorted(
            len(json.loads(body)["SecretIdList"])
            for body in proxy.bodies("BatchGetSecretValue")
        )
        assert sizes == [1, 20, 20]

    def test_integrations_fetched_concurrently(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration("first", endpoint=proxy.url)
        aws.add_integration("second", endpoint=proxy.url)
        create_job_secrets(aws, 3, prefix="a")
        create_job_secrets(aws, 3, prefix="b")
        references = job_references(3, "first", "a") | job_references(3, "second", "b")
        proxy.delay = 0.2

        resolution = resolver().resolve(references)

        assert resolution.errors == {}
        assert proxy.counts() == {"BatchGetSecretValue": 2}
        assert proxy.peak_in_flight == 2

    def test_single_reads_go_out_together(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        ids = [
            aws.create_secret(f"pinned/{i}", '{"k": "v"}')["VersionId"]
            for i in range(4)
        ]
        references = {
            f"f{i}": f"vault://aws/pinned/{i}?version-id={version}#k"
            for i, version in enumerate(ids)
        }
        proxy.delay = 0.2

        resolution = resolver().resolve(references)

        assert resolution.errors == {}
        assert proxy.counts() == {"GetSecretValue": 4}
        assert proxy.peak_in_flight == 4

    def test_mixed_batch_errors_keep_other_values(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        good = aws.create_secret("mixed/good", '{"k": "fine"}')
        aws.create_secret("mixed/doomed", '{"k": "v"}')
        aws.client().delete_secret(SecretId="mixed/doomed", RecoveryWindowInDays=7)
        # moto cannot deny one secret of a batch, so the proxy answers the batch as
        # AWS does: one value, and per-secret errors.
        proxy.add(
            Fault(
                status=200,
                operation="BatchGetSecretValue",
                headers={"Content-Type": "application/x-amz-json-1.1"},
                body=json.dumps(
                    {
                        "SecretValues": [
                            {
                                "ARN": good["ARN"],
                                "Name": "mixed/good",
                                "VersionId": good["VersionId"],
                                "SecretString": '{"k": "fine"}',
                                "VersionStages": ["AWSCURRENT"],
                            }
                        ],
                        "Errors": [
                            {
                                "SecretId": "mixed/missing",
                                "ErrorCode": "ResourceNotFoundException",
                                "Message": "Secrets Manager can't find the "
                                "specified secret.",
                            },
                            {
                                "SecretId": "mixed/denied",
                                "ErrorCode": "AccessDeniedException",
                                "Message": "not authorized to perform: "
                                "secretsmanager:GetSecretValue",
                            },
                            {
                                "SecretId": "mixed/kms",
                                "ErrorCode": "AccessDeniedException",
                                "Message": "Access to KMS is not allowed",
                            },
                            {
                                "SecretId": "mixed/doomed",
                                "ErrorCode": "InvalidRequestException",
                                "Message": "You can't perform this operation on the "
                                "secret because it was marked for deletion.",
                            },
                        ],
                    }
                ),
            )
        )
        names = ["good", "missing", "denied", "kms", "doomed"]

        resolution = resolver().resolve({n: f"vault://aws/mixed/{n}#k" for n in names})

        assert resolution.values["good"].value.reveal() == "fine"
        codes = {label: error.code for label, error in resolution.errors.items()}
        assert codes == {
            "missing": "secret_not_found",
            "denied": "access_denied",
            "kms": "kms_access_denied",
            "doomed": "secret_scheduled_for_deletion",
        }
        assert proxy.counts() == {"BatchGetSecretValue": 1}

    def test_throttled_batch_maps_every_secret(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url, max_attempts="2")
        create_job_secrets(aws, 3)
        proxy.add(aws_error("ThrottlingException", "Rate exceeded"))

        resolution = resolver().resolve(job_references(3))

        assert {error.code for error in resolution.errors.values()} == {"throttled"}
        assert len(resolution.errors) == 6
        assert proxy.counts() == {"BatchGetSecretValue": 2}
        assert resolution.api_calls[0].retries == 1

    def test_batch_rereads_non_current_version(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        """A batch entry without AWSCURRENT is read again by naming the stage.

        Depends on moto 5.2: after UpdateSecretVersionStage, as a rotation's
        finishSecret calls it, its batch still returns the old version.
        """
        aws.add_integration(endpoint=proxy.url)
        create_job_secrets(aws, 2)
        old = aws.client().describe_secret(SecretId="job/0")["VersionIdsToStages"]
        new = aws.put_value(
            "job/0",
            json.dumps({"username": "user0", "password": "rotated"}),
            VersionStages=["AWSPENDING"],
        )["VersionId"]
        aws.client().update_secret_version_stage(
            SecretId="job/0",
            VersionStage="AWSCURRENT",
            MoveToVersionId=new,
            RemoveFromVersionId=next(iter(old)),
        )

        resolution = resolver().resolve(job_references(2))

        assert_all_resolved(resolution)
        rotated = resolution.values["job0_password"]
        assert rotated.value.reveal() == "rotated"
        assert rotated.source.version_id == new
        assert "AWSCURRENT" in rotated.source.version_stages
        assert proxy.counts() == {"BatchGetSecretValue": 1, "GetSecretValue": 1}
        assert '"VersionStage": "AWSCURRENT"' in proxy.bodies("GetSecretValue")[0]
        operations = [call.operation for call in resolution.api_calls]
        assert sorted(operations) == ["BatchGetSecretValue", "GetSecretValue"]


class TestCache:
    def test_no_cache_by_default(self, aws: AwsFixture, proxy: FaultProxy) -> None:
        aws.add_integration(endpoint=proxy.url)
        create_job_secrets(aws, 2)

        resolver().resolve(job_references(2))
        resolver().resolve(job_references(2))

        assert proxy.counts() == {"BatchGetSecretValue": 2}

    def test_cache_revalidates_and_sees_rotation(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url, cache_ttl="300")
        create_job_secrets(aws, 2)
        references = job_references(2)

        first = resolver().resolve(references)
        proxy.calls.clear()
        second = resolver().resolve(references)
        reuse = proxy.counts()
        proxy.calls.clear()
        aws.put_value("job/1", json.dumps({"username": "user1", "password": "rotated"}))
        third = resolver().resolve(references)

        assert first.values["job1_password"].value.reveal() == "pw-job-1"
        assert second.values["job1_password"].value.reveal() == "pw-job-1"
        assert reuse == {"DescribeSecret": 2}
        assert third.values["job1_password"].value.reveal() == "rotated"
        assert third.values["job0_password"].value.reveal() == "pw-job-0"
        assert proxy.counts() == {"DescribeSecret": 2, "GetSecretValue": 1}

    def test_cache_never_keeps_failures(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url, cache_ttl="300")

        resolver().resolve({"a": "vault://aws/late#k"})
        aws.create_secret("late", '{"k": "now"}')
        resolution = resolver().resolve({"a": "vault://aws/late#k"})

        assert resolution.values["a"].value.reveal() == "now"
        assert proxy.counts() == {"GetSecretValue": 2}

    def test_pinned_version_revalidated(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url, cache_ttl="300")
        version = aws.create_secret("pin", '{"k": "v"}')["VersionId"]
        reference = {"a": f"vault://aws/pin?version-id={version}#k"}

        resolver().resolve(reference)
        proxy.calls.clear()
        again = resolver().resolve(reference)

        assert again.values["a"].value.reveal() == "v"
        assert proxy.counts() == {"DescribeSecret": 1}

    def test_deleted_secret_not_served_from_cache(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url, cache_ttl="300")
        create_job_secrets(aws, 1)
        resolver().resolve(job_references(1))

        aws.client().delete_secret(SecretId="job/0", RecoveryWindowInDays=7)
        again = resolver().resolve(job_references(1))

        codes = {error.code for error in again.errors.values()}
        assert codes == {"secret_scheduled_for_deletion"}

    def test_fresh_bypasses_cache(self, aws: AwsFixture, proxy: FaultProxy) -> None:
        aws.add_integration(endpoint=proxy.url, cache_ttl="300")
        create_job_secrets(aws, 1)

        resolver().resolve(job_references(1))
        proxy.calls.clear()
        resolver().resolve(job_references(1), fresh=True)

        assert proxy.counts() == {"GetSecretValue": 1}


class TestThreads:
    def test_concurrent_resolutions_share_one_client(
        self, aws: AwsFixture, proxy: FaultProxy
    ) -> None:
        aws.add_integration(endpoint=proxy.url)
        create_job_secrets(aws, 12)
        shared = resolver()
        results: dict[int, Resolution] = {}
        errors: list[BaseException] = []

        def work(index: int) -> None:
            try:
                results[index] = shared.resolve(
                    {
                        "u": f"vault://aws/job/{index}#username",
                        "p": f"vault://aws/job/{index}#password",
                    }
                )
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        for index, resolution in results.items():
            assert resolution.values["u"].value.reveal() == f"user{index}"
            assert resolution.values["p"].value.reveal() == f"pw-job-{index}"
            assert len(resolution.api_calls) == 1
        provider = IntegrationService(open_store()).provider("aws")
        assert len(provider.clients._clients) == 1  # type: ignore[attr-defined]


def test_outcomes_are_values_or_typed_errors(aws: AwsFixture) -> None:
    aws.add_integration()
    create_job_secrets(aws, 1)

    resolution = resolver().resolve(job_references(1) | {"bad": "vault://aws/none#k"})

    for outcome in resolution.outcomes.values():
        assert isinstance(outcome, ResolvedValue | PrizmError)
