"""Test Connection for AWS Secrets Manager, step by step.

The steps: the credentials resolve (STS GetCallerIdentity), the role is assumed when
one is set, Secrets Manager answers in the region, each named secret is read with
GetSecretValue and its keys are checked, and the KMS key is described when one is
set. Reading the secrets matters: listing them passes where a job run then fails.
Values are never shown, only key names and version IDs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prizm.errors import PrizmError
from prizm.providers.aws.errors import map_aws_error
from prizm.providers.base import (
    TestReport,
    TestStep,
    parse_secret_argument,
)
from prizm.references import LookupContext, extract_value
from prizm.secrets import FetchedSecret

if TYPE_CHECKING:
    from prizm.providers.aws.provider import AwsProvider

__all__ = ["run_checks"]

MAX_KEYS_SHOWN = 20


def run_checks(provider: AwsProvider, secrets: Sequence[str]) -> TestReport:
    """Run every step; a failed credentials step skips the steps that need it."""
    report = TestReport(provider.name, "aws", provider.location())
    identity_ok = _check_identity(provider, report)
    if not identity_ok:
        for name in ["Secrets Manager", *[f"Secret {s}" for s in secrets]]:
            report.add(TestStep(name, "skipped", "Skipped: no usable credentials."))
        return report

    _check_service(provider, report)
    for secret in secrets:
        _check_secret(provider, report, secret)
    if provider.settings.kms_key_arn:
        _check_kms_key(provider, report)
    return report


def _check_identity(provider: AwsProvider, report: TestReport) -> bool:
    settings = provider.settings
    try:
        sts = provider.clients.base_client("sts")
        identity = provider._timed("GetCallerIdentity", sts.get_caller_identity)
    except Exception as exc:  # noqa: BLE001 - reported as a failed step
        error = map_aws_error(exc, provider.context("GetCallerIdentity", None))
        report.add(TestStep.failed("Credentials", error))
        return False
    report.add(
        TestStep(
            "Credentials",
            "ok",
            f"Authenticated as {identity.get('Arn')} in account "
            f"{identity.get('Account')} ({settings.auth}).",
            data={"account": identity.get("Account"), "arn": identity.get("Arn")},
        )
    )
    if not settings.role_arn:
        return True

    try:
        sts = provider.clients.client("sts")
        assumed = provider._timed("GetCallerIdentity", sts.get_caller_identity)
    except Exception as exc:  # noqa: BLE001 - reported as a failed step
        # botocore sends AssumeRole before this call. A failure of GetCallerIdentity
        # itself carries that operation's name, which map_aws_error uses instead.
        error = map_aws_error(exc, provider.context("AssumeRole", None))
        report.add(TestStep.failed("Assume role", error))
        return False
    report.add(
        TestStep(
            "Assume role",
            "ok",
            f"Assumed {settings.role_arn} as {assumed.get('Arn')}.",
            data={"arn": assumed.get("Arn")},
        )
    )
    return True


def _check_service(provider: AwsProvider, report: TestReport) -> None:
    client = provider.clients.client("secretsmanager")
    try:
        provider._timed("ListSecrets", lambda: client.list_secrets(MaxResults=1))
    except Exception as exc:  # noqa: BLE001 - reported as a step
        error = map_aws_error(exc, provider.context("ListSecrets", None))
        if error.code == "access_denied":
            report.add(
                TestStep(
                    "Secrets Manager",
                    "ok",
                    f"Secrets Manager answers in {provider.location()} (ListSecrets "
                    "is not allowed, which job runs do not need).",
                )
            )
            return
        report.add(TestStep.failed("Secrets Manager", error))
        return
    report.add(
        TestStep(
            "Secrets Manager",
            "ok",
            f"Secrets Manager answers in {provider.location()}.",
        )
    )


def _check_secret(provider: AwsProvider, report: TestReport, text: str) -> None:
    step_name = f"Secret {text}"
    try:
        parsed, key = parse_secret_argument(provider.name, text)
        request, reference = provider.request_for(parsed), str(parsed)
    except PrizmError as error:
        report.add(TestStep.failed(step_name, error))
        return
    outcome = provider.get_secret_value(request)
    if isinstance(outcome, PrizmError):
        report.add(TestStep.failed(step_name, outcome))
        return
    report.add(_describe_secret(provider, step_name, outcome, key, reference))


def _describe_secret(
    provider: AwsProvider,
    step_name: str,
    fetched: FetchedSecret,
    key: str | None,
    reference: str,
) -> TestStep:
    source = fetched.source
    stages = ", ".join(source.version_stages) or "no stage"
    version = f"version {source.version_id} ({stages})"
    data: dict[str, Any] = {"arn": source.secret_id, "version_id": source.version_id}
    keys = _json_keys(fetched.document.reveal())
    if keys is None:
        shape = "plain text, not a JSON object"
    else:
        shown = ", ".join(keys[:MAX_KEYS_SHOWN])
        more = (
            f" and {len(keys) - MAX_KEYS_SHOWN} more"
            if len(keys) > MAX_KEYS_SHOWN
            else ""
        )
        shape = f"JSON keys: {shown or '(none)'}{more}"
        data["keys"] = keys
    if key is not None:
        context = LookupContext(
            reference, provider.name, provider.location(source.secret_id)
        )
        try:
            extract_value(fetched.document.reveal(), key, context)
        except PrizmError as error:
            return TestStep(
                step_name,
                "failed",
                f"Read {version}, but {error.message[0].lower()}{error.message[1:]}",
                fix=error.hint,
                code=error.code,
                data=data,
            )
        shape += f"; key {key!r} found"

    step = TestStep(
        step_name, "ok", f"Read {source.secret_id}, {version}; {shape}.", data=data
    )
    kms_warning = _kms_mismatch(provider, source.secret_id)
    if kms_warning:
        step.status = "warning"
        step.detail += f" {kms_warning}"
    return step


def _json_keys(document: str) -> list[str] | None:
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict):
        return None
    return [str(name) for name in parsed]


def _kms_mismatch(provider: AwsProvider, arn: str) -> str | None:
    """Compare the secret's KMS key with the configured one (DescribeSecret)."""
    configured = provider.settings.kms_key_arn
    if not configured:
        return None
    client = provider.clients.client("secretsmanager", provider.region_of(arn))
    try:
        described = provider._timed(
            "DescribeSecret", lambda: client.describe_secret(SecretId=arn)
        )
    except Exception:  # noqa: BLE001 - the comparison is optional
        return None
    actual = described.get("KmsKeyId")
    if actual is None:
        return (
            f"The secret is encrypted with the AWS managed key, not the configured "
            f"KMS key {configured}."
        )
    if actual != configured and not configured.endswith(str(actual)):
        return (
            f"The secret is encrypted with {actual}, not the configured KMS key "
            f"{configured}."
        )
    return None


def _check_kms_key(provider: AwsProvider, report: TestReport) -> None:
    arn = provider.settings.kms_key_arn
    assert arn is not None
    region = arn.split(":")[3]
    try:
        kms = provider.clients.client("kms", region)
        response = provider._timed("DescribeKey", lambda: kms.describe_key(KeyId=arn))
    except Exception as exc:  # noqa: BLE001 - reported as a step
        error = map_aws_error(exc, provider.context("DescribeKey", arn))
        aws_code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if error.code in ("access_denied", "kms_access_denied"):
            report.add(
                TestStep(
                    "KMS key",
                    "warning",
                    f"The identity may not call kms:DescribeKey on {arn}, so the key "
                    "could not be checked. Reads need only kms:Decrypt.",
                    fix=f"Allow kms:DescribeKey on {arn} for Test Connection.",
                    code=error.code,
                )
            )
            return
        if aws_code == "NotFoundException":
            report.add(
                TestStep(
                    "KMS key",
                    "failed",
                    f"The KMS key {arn} was not found in region {region}.",
                    fix="Check the KMS Key ARN, or clear it if the secrets use the AWS "
                    "managed key.",
                    code="kms_key_not_found",
                )
            )
            return
        report.add(TestStep.failed("KMS key", error))
        return
    metadata = response.get("KeyMetadata", {})
    state = metadata.get("KeyState", "unknown")
    enabled = metadata.get("Enabled", False)
    if not enabled or state != "Enabled":
        report.add(
            TestStep(
                "KMS key",
                "failed",
                f"The KMS key {arn} is not usable: its state is {state}.",
                fix="Enable the key in AWS KMS, or cancel its deletion.",
                code="decryption_failed",
            )
        )
        return
    report.add(
        TestStep(
            "KMS key",
            "ok",
            f"The KMS key {arn} is enabled ({metadata.get('KeyUsage', 'unknown')}, "
            f"managed by {metadata.get('KeyManager', 'unknown')}).",
        )
    )
