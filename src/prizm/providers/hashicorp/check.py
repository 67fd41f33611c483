"""Test Connection for HashiCorp Vault and OpenBao, step by step.

The steps: the server responds and is unsealed (``GET sys/seal-status``), the login
works, the token is looked up (``auth/token/lookup-self``: policies, TTL, renewable),
the KV mounts the token can see are listed, and each named secret is read with its
keys listed. Values are never shown, only key names and versions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import hvac.exceptions

from prizm.errors import PrizmError
from prizm.providers.base import (
    TestReport,
    TestStep,
    parse_secret_argument,
)
from prizm.providers.hashicorp.errors import map_vault_error
from prizm.references import LookupContext, extract_value
from prizm.secrets import FetchedSecret

if TYPE_CHECKING:
    from prizm.providers.hashicorp.provider import HashicorpProvider

__all__ = ["run_checks"]

MAX_KEYS_SHOWN = 20


def run_checks(provider: HashicorpProvider, secrets: Sequence[str]) -> TestReport:
    """Run every step. A failed step skips the steps that depend on it."""
    report = TestReport(provider.name, "hashicorp", provider.location())
    later = ["Login", "Token", "Mounts", *[f"Secret {secret}" for secret in secrets]]
    if not _check_server(provider, report):
        _skip(report, later, "the server is not usable")
        return report
    if not _check_login(provider, report):
        _skip(report, later[1:], "no token")
        return report
    if not _check_token(provider, report):
        # Each later step would repeat the Token step's error.
        _skip(report, later[2:], "the token is not usable")
        return report
    _check_mounts(provider, report)
    for secret in secrets:
        _check_secret(provider, report, secret)
    return report


def _skip(report: TestReport, names: list[str], reason: str) -> None:
    for name in names:
        report.add(TestStep(name, "skipped", f"Skipped: {reason}."))


def _check_server(provider: HashicorpProvider, report: TestReport) -> bool:
    connection = provider.connection
    try:
        status = connection.call(
            "seal status", connection.root_client.sys.read_seal_status
        )
    except Exception as exc:  # noqa: BLE001 - reported as a failed step
        error = map_vault_error(exc, provider.context("seal status"))
        report.add(TestStep.failed("Server", error))
        return False
    version = status.get("version", "unknown version")
    if status.get("sealed"):
        report.add(
            TestStep(
                "Server",
                "failed",
                f"The server at {provider.settings.address} ({version}) is sealed.",
                fix="Ask an operator to unseal it with: bao operator unseal (or vault "
                "operator unseal).",
                code="vault_sealed",
            )
        )
        return False
    if status.get("initialized") is False:
        report.add(
            TestStep(
                "Server",
                "failed",
                f"The server at {provider.settings.address} is not initialized.",
                fix="Initialize it with: bao operator init.",
                code="service_error",
            )
        )
        return False
    report.add(
        TestStep(
            "Server",
            "ok",
            f"The server at {provider.settings.address} responds ({version}, "
            "unsealed).",
            data={"version": version},
        )
    )
    return True


def _check_login(provider: HashicorpProvider, report: TestReport) -> bool:
    settings = provider.settings
    try:
        provider.tokens.token()
    except Exception as exc:  # noqa: BLE001 - reported as a failed step
        error = map_vault_error(exc, provider.context("login"))
        report.add(TestStep.failed("Login", error))
        return False
    if provider.tokens.is_static:
        detail = "Uses the integration's static token; no login is needed."
    else:
        namespace = settings.login_namespace or "root"
        detail = (
            f"Logged in with {settings.auth} at auth/{settings.mount} in namespace "
            f"{namespace}."
        )
    report.add(TestStep("Login", "ok", detail))
    return True


def _check_token(provider: HashicorpProvider, report: TestReport) -> bool:
    """Add the Token step, and return False when the token is not usable."""
    try:
        info = provider.tokens.lookup()
    except hvac.exceptions.Forbidden:
        if provider.tokens.is_static:
            return _check_static_token_without_lookup(provider, report)
        report.add(
            TestStep(
                "Token",
                "warning",
                "The token may not look itself up (auth/token/lookup-self).",
                fix="Attach the default policy to the role, which allows the "
                "lookup-self and renew-self that keep the token alive.",
                code="access_denied",
            )
        )
        return True
    except Exception as exc:  # noqa: BLE001 - reported as a failed step
        error = map_vault_error(exc, provider.context("lookup"))
        report.add(TestStep.failed("Token", error))
        return False
    ttl = "no expiry" if info.ttl == 0 else f"TTL {info.ttl} s"
    renewable = "renewable" if info.renewable else "not renewable"
    policies = ", ".join(info.policies) or "none"
    report.add(
        TestStep(
            "Token",
            "ok",
            f"Token '{info.display_name}' with policies {policies}; {ttl}, "
            f"{renewable}.",
            data={
                "policies": list(info.policies),
                "ttl": info.ttl,
                "renewable": info.renewable,
            },
        )
    )
    return True


def _check_static_token_without_lookup(
    provider: HashicorpProvider, report: TestReport
) -> bool:
    """Tell a static token that lacks the default policy from a rejected one.

    Vault returns 403 for lookup-self in both cases, but any valid token may list
    the mounts (``sys/internal/ui/mounts``), so the step lists them.
    """
    try:
        provider.mounts.visible()
    except Exception as exc:  # noqa: BLE001 - reported as a failed step
        # A rejected token arrives as TokenRejected, which maps to token_expired.
        error = map_vault_error(exc, provider.context("lookup"))
        report.add(TestStep.failed("Token", error))
        return False
    report.add(
        TestStep(
            "Token",
            "warning",
            "The token is valid but cannot look itself up "
            "(auth/token/lookup-self), so its TTL and policies are unknown.",
            fix="Attach the default policy to the token to see its TTL and "
            "policies, and to let Prizm renew it when it is renewable.",
            code="access_denied",
        )
    )
    return True


def _check_mounts(provider: HashicorpProvider, report: TestReport) -> None:
    try:
        mounts = provider.mounts.visible()
    except Exception as exc:  # noqa: BLE001 - reported as a step
        error = map_vault_error(exc, provider.context("mount listing"))
        report.add(TestStep.failed("Mounts", error))
        return
    kv = [mount for mount in mounts if mount.is_kv]
    namespace = provider.settings.namespace or "root"
    if not kv:
        report.add(
            TestStep(
                "Mounts",
                "warning",
                f"The token can see no KV mount in namespace {namespace}.",
                fix="Check the integration's namespace (--namespace) and that the "
                "token's policies grant access below a KV mount; a namespace "
                "mismatch is the usual cause.",
            )
        )
        return
    shown = ", ".join(mount.describe() for mount in kv)
    report.add(
        TestStep(
            "Mounts",
            "ok",
            f"KV mounts the token can see in namespace {namespace}: {shown}.",
            data={"kv": {mount.path: mount.kv_version for mount in kv}},
        )
    )


def _check_secret(provider: HashicorpProvider, report: TestReport, text: str) -> None:
    step_name = f"Secret {text}"
    try:
        parsed, key = parse_secret_argument(provider.name, text, "PATH")
        request, reference = provider.request_for(parsed), str(parsed)
    except PrizmError as error:
        report.add(TestStep.failed(step_name, error))
        return
    outcome = provider.read(request)
    if isinstance(outcome, PrizmError):
        report.add(TestStep.failed(step_name, outcome))
        return
    report.add(_describe_secret(provider, step_name, outcome, key, reference))


def _describe_secret(
    provider: HashicorpProvider,
    step_name: str,
    fetched: FetchedSecret,
    key: str | None,
    reference: str,
) -> TestStep:
    source = fetched.source
    version = "KV v1" if source.version_id is None else f"version {source.version_id}"
    fields: dict[str, Any] = json.loads(fetched.document.reveal())
    keys = [str(name) for name in fields]
    shown = ", ".join(keys[:MAX_KEYS_SHOWN]) or "(none)"
    if len(keys) > MAX_KEYS_SHOWN:
        shown += f" and {len(keys) - MAX_KEYS_SHOWN} more"
    data = {"path": source.secret_id, "version": source.version_id, "keys": keys}
    detail = f"Read {source.secret_id}, {version}; keys: {shown}"
    if key is not None:
        context = LookupContext(reference, provider.name, provider.location())
        try:
            extract_value(fetched.document.reveal(), key, context)
        except PrizmError as error:
            message = error.message[0].lower() + error.message[1:]
            return TestStep(
                step_name,
                "failed",
                f"Read {source.secret_id}, {version}, but {message}",
                fix=error.hint,
                code=error.code,
                data=data,
            )
        detail += f"; key {key!r} found"
    return TestStep(step_name, "ok", detail + ".", data=data)
