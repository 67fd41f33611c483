"""Test Connection for Azure Key Vault, step by step.

The steps: the vault returns its bearer challenge to an anonymous call (which
names its tenant and the token scope), the credential gets a token for that scope,
and each named secret is read with Get Secret, its attributes checked (enabled,
``nbf``, ``exp``) and its JSON keys listed. Only the named secrets are read, so an
unrelated disabled or expired secret in the vault never fails the test. Values are
never shown, only key names and version IDs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.keyvault.secrets import SecretProperties

from prizm.errors import PrizmError
from prizm.providers.azure.clients import Challenge
from prizm.providers.azure.errors import map_azure_error
from prizm.providers.azure.lifecycle import as_utc
from prizm.providers.base import (
    TestReport,
    TestStep,
    parse_secret_argument,
)
from prizm.references import LookupContext, extract_value
from prizm.secrets import FetchedSecret

if TYPE_CHECKING:
    from prizm.providers.azure.provider import AzureProvider

__all__ = ["run_checks"]

MAX_KEYS_SHOWN = 20
EXPIRY_WARNING = timedelta(days=30)


def _skip_rest(report: TestReport, names: list[str], reason: str) -> TestReport:
    for name in names:
        report.add(TestStep(name, "skipped", f"Skipped: {reason}."))
    return report


def run_checks(provider: AzureProvider, secrets: Sequence[str]) -> TestReport:
    """Run every step; a failed step skips the steps that need it."""
    report = TestReport(provider.name, "azure", provider.location())
    secret_steps = [f"Secret {secret}" for secret in secrets]
    challenge = _check_vault(provider, report)
    if challenge is None:
        return _skip_rest(report, ["Token", *secret_steps], "the vault did not respond")
    if not _check_token(provider, report, challenge):
        return _skip_rest(report, secret_steps, "no access token")
    for secret in secrets:
        _check_secret(provider, report, secret)
    return report


def _check_vault(provider: AzureProvider, report: TestReport) -> Challenge | None:
    """Send an anonymous GET /secrets and read the vault's bearer challenge."""
    vault_url = provider.settings.vault_url
    try:
        status, challenge = provider.clients.challenge()
    except Exception as exc:  # noqa: BLE001 - reported as a failed step
        error = map_azure_error(
            exc, provider.context("the anonymous challenge request", None)
        )
        report.add(TestStep.failed("Key Vault", error))
        return None
    if status != 401 or challenge is None:
        report.add(
            TestStep(
                "Key Vault",
                "failed",
                f"{vault_url} answered HTTP {status} without a Key Vault bearer "
                "challenge, so it does not look like Azure Key Vault.",
                fix="Use the vault's URL as shown in the Azure portal (Vault URI).",
                code="service_error",
            )
        )
        return None
    tenant = provider.settings.tenant_id
    if tenant and challenge.tenant_id and challenge.tenant_id.lower() != tenant:
        report.add(
            TestStep(
                "Key Vault",
                "failed",
                f"{vault_url} belongs to tenant {challenge.tenant_id}, but the "
                f"integration signs in to tenant {tenant}.",
                fix=f"Set the vault's tenant: prizm integration update azure "
                f"{provider.name} --tenant-id {challenge.tenant_id}",
                code="invalid_credentials",
            )
        )
        return None
    report.add(
        TestStep(
            "Key Vault",
            "ok",
            f"{vault_url} responds and accepts tokens of tenant "
            f"{challenge.tenant_id or '(any)'} for {challenge.scope}.",
            data={"tenant_id": challenge.tenant_id, "scope": challenge.scope},
        )
    )
    return challenge


def _check_token(
    provider: AzureProvider, report: TestReport, challenge: Challenge
) -> bool:
    """Get a token for the vault's scope and tenant, as the SDK does on its first
    call to the vault."""
    context = provider.context("GetToken", None)
    credential = provider.credential(context)
    if isinstance(credential, PrizmError):
        report.add(TestStep.failed("Token", credential))
        return False
    options: dict[str, Any] = {"enable_cae": True}
    if challenge.tenant_id:
        options["tenant_id"] = challenge.tenant_id
    try:
        token = provider._timed(
            "GetToken", lambda: credential.get_token(challenge.scope, **options)
        )
    except Exception as exc:  # noqa: BLE001 - reported as a failed step
        report.add(TestStep.failed("Token", map_azure_error(exc, context)))
        return False
    expires = datetime.fromtimestamp(token.expires_on, UTC)
    report.add(
        TestStep(
            "Token",
            "ok",
            f"The {provider.settings.auth} credential got an access token for "
            f"{challenge.scope}, valid until {expires:%Y-%m-%d %H:%M} UTC.",
        )
    )
    return True


def _check_secret(provider: AzureProvider, report: TestReport, text: str) -> None:
    step_name = f"Secret {text}"
    try:
        parsed, key = parse_secret_argument(provider.name, text)
        request, reference = provider.request_for(parsed), str(parsed)
    except PrizmError as error:
        report.add(TestStep.failed(step_name, error))
        return
    outcome, properties = provider.read_secret(request)
    if isinstance(outcome, PrizmError):
        report.add(TestStep.failed(step_name, outcome))
        return
    assert isinstance(outcome, FetchedSecret)
    assert properties is not None
    report.add(
        _describe_secret(provider, step_name, outcome, properties, key, reference)
    )


def _describe_secret(
    provider: AzureProvider,
    step_name: str,
    fetched: FetchedSecret,
    properties: SecretProperties,
    key: str | None,
    reference: str,
) -> TestStep:
    source = fetched.source
    data: dict[str, Any] = {"id": source.secret_id, "version_id": source.version_id}
    window = _validity(properties)
    keys = _json_keys(fetched.document.reveal())
    if keys is None:
        shape = "plain text, not a JSON object"
    else:
        listed = ", ".join(keys[:MAX_KEYS_SHOWN]) or "(none)"
        more = len(keys) - MAX_KEYS_SHOWN
        if more > 0:
            listed += f" and {more} more"
        shape = f"JSON keys: {listed}"
        data["keys"] = keys
    if key is not None:
        context = LookupContext(reference, provider.name, provider.location())
        try:
            extract_value(fetched.document.reveal(), key, context)
        except PrizmError as error:
            return TestStep(
                step_name,
                "failed",
                f"Read version {source.version_id}, but "
                f"{error.message[0].lower()}{error.message[1:]}",
                fix=error.hint,
                code=error.code,
                data=data,
            )
        shape += f"; key {key!r} found"
    step = TestStep(
        step_name,
        "ok",
        f"Read {source.secret_id} (enabled{window}); {shape}.",
        data=data,
    )
    warning = _expiry_warning(as_utc(properties.expires_on))
    if warning:
        step.status = "warning"
        step.detail += f" {warning}"
        step.fix = "Store a new version before it expires, or move the expiration date."
    return step


def _validity(properties: SecretProperties) -> str:
    """Describe the version's activation and expiry dates, which Prizm checked."""
    text = ""
    if properties.not_before is not None:
        text += f", valid from {properties.not_before:%Y-%m-%d %H:%M} UTC"
    if properties.expires_on is not None:
        text += f", expires {properties.expires_on:%Y-%m-%d %H:%M} UTC"
    else:
        text += ", no expiry date"
    return text


def _expiry_warning(expires: datetime | None) -> str | None:
    if expires is None:
        return None
    left = expires - datetime.now(UTC)
    if left > EXPIRY_WARNING:
        return None
    return f"It expires on {expires:%Y-%m-%d %H:%M} UTC, in {max(left.days, 0)} days."


def _json_keys(document: str) -> list[str] | None:
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict):
        return None
    return [str(name) for name in parsed]
