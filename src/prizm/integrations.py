"""The integration service: add, change, test and remove vault integrations.

The command line and the web console both call this service. It validates settings
with the integration type's pydantic model, keeps credentials sealed in the store,
and hands out one provider per integration and process.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from prizm import audit, redaction
from prizm.errors import (
    CredentialsUnreadable,
    IntegrationExists,
    IntegrationInUse,
    InvalidIntegration,
    PrizmError,
    UnknownIntegration,
)
from prizm.policy import check_patterns, request_allowed, unrestricted_warning
from prizm.providers.base import Provider, ProviderType, TestReport, TestStep
from prizm.providers.registry import provider_type
from prizm.references import (
    INTEGRATION_NAME,
    Reference,
    is_reference,
    parse_reference,
)
from prizm.store.integrations import IntegrationRecord
from prizm.store.store import Store

__all__ = ["IntegrationService", "IntegrationView", "format_validation_error"]

log = logging.getLogger(__name__)

PROVIDER_RECHECK_SECONDS = 2.0
"""How long a provider is handed out before its stored settings are read again.

Changes made through this process take effect at once; changes made by another
process (the web console while a worker runs jobs) within this many seconds.
"""


@dataclass
class _Cached:
    fingerprint: tuple[str, str, str, str]
    provider: Provider
    allowed: tuple[str, ...]
    checked_at: float


# Keyed by store URL and integration name: two stores in one process (tests,
# benchmarks) may each have an integration called "aws".
_providers: dict[tuple[str, str], _Cached] = {}

MAX_REFERENCES_TESTED = 20
"""References read by a Test Connection that names no secret, at most."""
_providers_lock = threading.Lock()


def format_validation_error(error: ValidationError) -> str:
    """Describe what is wrong with settings without echoing any input value."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in item.get("loc", ()))
        message = str(item.get("msg", "is invalid"))
        message = message.removeprefix("Value error, ")
        problems.append(f"{field}: {message}" if field else message)
    return "; ".join(problems)


@dataclass(frozen=True)
class IntegrationView:
    """What ``list`` and ``show`` display. Credentials appear only as "set"."""

    record: IntegrationRecord
    display_name: str
    summary: dict[str, str]
    connectors: tuple[str, ...] = ()

    @property
    def warnings(self) -> list[str]:
        """Return the configuration problems an admin should fix."""
        if self.record.allowed_secrets:
            return []
        return [unrestricted_warning(self.record.name, self.record.type)]

    def to_dict(self) -> dict[str, Any]:
        record = self.record
        settings = {
            name: value for name, value in record.settings.items() if value is not None
        }
        for name in record.credential_fields:
            settings[name] = "(set)"
        return {
            "name": record.name,
            "type": record.type,
            "type_display_name": self.display_name,
            "location": self.summary.get("location"),
            "auth": self.summary.get("auth"),
            "settings": settings,
            "connectors": list(self.connectors),
            "allowed_secrets": list(record.allowed_secrets),
            "warnings": self.warnings,
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(),
            "last_test": None
            if record.last_test_at is None
            else {
                "at": record.last_test_at.isoformat(),
                "ok": record.last_test_ok,
                "summary": record.last_test_summary,
            },
        }


class IntegrationService:
    """Business rules of integrations, over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._store_url = str(store.engine.url)

    def validate(self, kind: ProviderType, values: Mapping[str, Any]) -> BaseModel:
        """Validate ``values`` with the type's settings model."""
        try:
            return kind.settings_model.model_validate(dict(values))
        except ValidationError as error:
            raise InvalidIntegration(
                f"The {kind.display_name} settings are invalid: "
                f"{format_validation_error(error)}.",
                hint="Correct the values and try again.",
            ) from None

    def _split(
        self, kind: ProviderType, settings: BaseModel
    ) -> tuple[dict[str, Any], dict[str, str]]:
        plain: dict[str, Any] = {}
        secret: dict[str, str] = {}
        for name, value in settings.model_dump().items():
            if name in kind.credential_fields:
                if isinstance(value, SecretStr):
                    value = value.get_secret_value()
                if value:
                    secret[name] = value
            elif value is not None:
                plain[name] = value
        return plain, secret

    def default_name(self, type_name: str) -> str:
        return provider_type(type_name).default_name

    def add(
        self,
        type_name: str,
        name: str | None,
        values: Mapping[str, Any],
        allowed_secrets: Sequence[str] = (),
    ) -> IntegrationRecord:
        """Validate and store a new integration.

        Without ``name`` the type's default name is used (``aws`` for the first AWS
        integration); when that is taken the error asks for a name.
        """
        kind = provider_type(type_name)
        if name is None:
            name = kind.default_name
            if self.store.integrations.find(name) is not None:
                raise IntegrationExists(
                    f"An integration called '{name}' already exists.",
                    hint=f"Give the new {kind.display_name} integration its own name: "
                    f"prizm integration add {type_name} {name}-2 ...",
                    integration=name,
                )
        self.check_name(name)
        patterns = self.check_patterns(allowed_secrets)
        settings = self.validate(kind, values)
        plain, secret = self._split(kind, settings)
        record = self.store.integrations.add(name, kind.type_name, plain, secret)
        self.forget_provider(name)
        if patterns:
            record = self.store.integrations.set_allowed(name, patterns)
        audit.record(
            self.store,
            "integration.add",
            "integration",
            name,
            type=kind.type_name,
            settings=sorted(plain),
            credentials=sorted(secret),
            allowed_secrets=patterns,
        )
        log.info("integration added name=%s type=%s", name, kind.type_name)
        return record

    def references_outside(self, name: str) -> dict[str, builtins.list[str]]:
        """Return, by connector, the fields whose references the allowed list of
        integration ``name`` now excludes: the runs that will be refused."""
        provider = self.provider(name)
        patterns = self.allowed_secrets(name)
        outside: dict[str, builtins.list[str]] = {}
        for connector, field, reference in self._references_to(name):
            if not request_allowed(provider, reference.name, patterns):
                outside.setdefault(connector, []).append(field)
        return outside

    def _references_to(self, name: str) -> Iterator[tuple[str, str, Reference]]:
        """Yield connector, field and parsed reference for each field that refers
        to integration ``name``; fields that do not parse are left out."""
        for connector in self.store.connectors.all():
            for field, value in connector.fields.items():
                if not is_reference(value):
                    continue
                try:
                    reference = parse_reference(value)
                except PrizmError:
                    continue
                if reference.integration == name:
                    yield connector.name, field, reference

    def check_patterns(self, patterns: Sequence[str]) -> list[str]:
        try:
            return check_patterns(patterns)
        except ValueError as error:
            raise InvalidIntegration(
                f"Invalid allowed-secrets pattern: {error}.",
                hint="Use a glob such as 'prizm/*', a prefix ending in '/', or an "
                "exact secret name.",
            ) from None

    def restrict(self, name: str, patterns: Sequence[str]) -> IntegrationRecord:
        """Replace the allowed secret patterns of ``name``; empty allows all."""
        before = self.store.integrations.get(name).allowed_secrets
        cleaned = self.check_patterns(patterns)
        record = self.store.integrations.set_allowed(name, cleaned)
        self.forget_provider(name)
        audit.record(
            self.store,
            "integration.restrict",
            "integration",
            name,
            before=list(before),
            after=cleaned,
        )
        log.info(
            "integration allowed secrets changed name=%s count=%d", name, len(cleaned)
        )
        return record

    def update(
        self,
        name: str,
        changes: Mapping[str, Any],
        *,
        clear: Sequence[str] = (),
    ) -> IntegrationRecord:
        """Change settings of an integration; credentials not given are kept."""
        record = self.store.integrations.get(name)
        kind = provider_type(record.type)
        settings = self._validate_merged(
            kind, record, self._merge(record, changes, clear)
        )
        plain, secret = self._split(kind, settings)
        self._check_destination(record, kind, plain, secret, changes)
        updated = self.store.integrations.update(name, plain, secret)
        self.forget_provider(name)
        changed = sorted(_effective_changes(kind, changes))
        audit.record(
            self.store,
            "integration.update",
            "integration",
            name,
            changed=changed,
            cleared=sorted(clear),
        )
        log.info("integration updated name=%s type=%s", name, kind.type_name)
        return updated

    def _merge(
        self,
        record: IntegrationRecord,
        changes: Mapping[str, Any],
        clear: Sequence[str],
    ) -> dict[str, Any]:
        """Return the stored settings and credentials with ``changes`` applied."""
        kind = provider_type(record.type)
        known = set(kind.settings_model.model_fields)
        unknown = sorted(set(clear) - known)
        if unknown:
            raise InvalidIntegration(
                f"A {kind.display_name} integration has no setting "
                f"{', '.join(repr(name) for name in unknown)} to clear.",
                hint=f"Its settings are: {', '.join(sorted(known))}.",
                integration=record.name,
            )
        merged: dict[str, Any] = dict(record.settings)
        try:
            merged.update(self.store.integrations.credentials(record))
        except CredentialsUnreadable:
            # The master key was lost: the change must bring the credentials again,
            # and ``_validate_merged`` raises that reason when it does not.
            log.info("stored credentials unreadable name=%s", record.name)
        for field in clear:
            merged.pop(field, None)
        merged.update(_effective_changes(kind, changes))
        return merged

    def _validate_merged(
        self, kind: ProviderType, record: IntegrationRecord, merged: Mapping[str, Any]
    ) -> BaseModel:
        """Validate merged settings; blame unreadable stored credentials first."""
        try:
            return self.validate(kind, merged)
        except InvalidIntegration as error:
            try:
                self.store.integrations.credentials(record)
            except CredentialsUnreadable as unreadable:
                raise unreadable.reworded(
                    f"{unreadable.message} So the change must give the credentials "
                    f"again: {error.message}"
                ) from None
            raise

    def _check_destination(
        self,
        record: IntegrationRecord,
        kind: ProviderType,
        plain: Mapping[str, Any],
        secret: Mapping[str, str],
        changes: Mapping[str, Any],
    ) -> None:
        """Reject moving stored credentials to a new destination without re-entry.

        Credentials given with the change may go anywhere; a stored credential that
        the change keeps may not follow a changed destination field.
        """
        moved = [
            field
            for field in kind.destination_fields
            if plain.get(field) != record.settings.get(field)
        ]
        kept = [field for field in secret if not changes.get(field)]
        if not moved or not kept:
            return
        raise InvalidIntegration(
            f"Changing {', '.join(moved)} of integration '{record.name}' would send "
            "its stored credentials to a new destination, so they must be entered "
            "again with the change.",
            hint=f"Repeat the update with the credential options of {kind.type_name} "
            f"(see prizm integration update {kind.type_name} --help).",
            integration=record.name,
        )

    def check_name(self, name: str) -> None:
        if not INTEGRATION_NAME.fullmatch(name):
            raise InvalidIntegration(
                f"Invalid integration name {name!r}.",
                hint="Use 1 to 63 lowercase letters, digits, '-' and '_', starting "
                "with a letter or digit; references use it as vault://<name>/...",
            )

    def get(self, name: str) -> IntegrationRecord:
        return self.store.integrations.get(name)

    def view(self, record: IntegrationRecord) -> IntegrationView:
        kind = provider_type(record.type)
        return IntegrationView(
            record=record,
            display_name=kind.display_name,
            summary=kind.summary(record.settings),
            connectors=tuple(self.store.connectors.referencing(record.name)),
        )

    def list(self) -> list[IntegrationView]:
        return [self.view(record) for record in self.store.integrations.all()]

    def remove(self, name: str) -> None:
        """Delete an integration; reject it while connectors still reference it."""
        self.store.integrations.get(name)
        users = self.store.connectors.referencing(name)
        if users:
            raise IntegrationInUse(
                f"Integration '{name}' is still referenced by connectors: "
                f"{', '.join(users)}.",
                hint="Point those connectors at another integration or remove them "
                "first.",
                integration=name,
            )
        self.store.integrations.remove(name)
        self.forget_provider(name)
        audit.record(self.store, "integration.remove", "integration", name)
        log.info("integration removed name=%s", name)

    def settings(self, record: IntegrationRecord) -> BaseModel:
        """Return the validated settings of ``record``, credentials decrypted."""
        kind = provider_type(record.type)
        values: dict[str, Any] = dict(record.settings)
        credentials = self.store.integrations.credentials(record)
        for value in credentials.values():
            # Credentials are masked like resolved values: SDK debug logs and
            # driver errors may show them.
            redaction.register(value)
        values.update(credentials)
        return self.validate(kind, values)

    def provider(self, name: str) -> Provider:
        """Return this process's provider for integration ``name``.

        A provider, and with it the SDK client, is reused across runs and threads
        until the integration's settings change.
        """
        return self._cached(name).provider

    def allowed_secrets(self, name: str) -> tuple[str, ...]:
        """Return the allowed secret patterns of ``name`` (empty: all allowed)."""
        return self._cached(name).allowed

    def _cache_key(self, name: str) -> tuple[str, str]:
        return (self._store_url, name)

    def _cached(self, name: str) -> _Cached:
        now = time.monotonic()
        key = self._cache_key(name)
        with _providers_lock:
            cached = _providers.get(key)
            if (
                cached is not None
                and now - cached.checked_at < PROVIDER_RECHECK_SECONDS
            ):
                return cached
        record = self.store.integrations.find(name)
        if record is None:
            raise UnknownIntegration(
                f"No integration is called '{name}'.",
                hint="List the configured ones with: prizm integration list.",
                integration=name,
            )
        fingerprint = record.fingerprint
        with _providers_lock:
            cached = _providers.get(key)
            if cached is not None and cached.fingerprint == fingerprint:
                cached.checked_at = now
                return cached
        provider = provider_type(record.type).create(name, self.settings(record))
        fresh = _Cached(fingerprint, provider, record.allowed_secrets, now)
        with _providers_lock:
            cached = _providers.get(key)
            if cached is not None and cached.fingerprint == fingerprint:
                provider.close()
                return cached
            # A replaced provider is not closed here: another thread may still be in
            # a call on it. Its clients close when it is garbage collected.
            _providers[key] = fresh
        return fresh

    def forget_provider(self, name: str) -> None:
        """Drop the cached provider; calls still running on it finish normally."""
        with _providers_lock:
            _providers.pop(self._cache_key(name), None)

    def test(self, name: str, secrets: Sequence[str] = ()) -> TestReport:
        """Run Test Connection on a stored integration and store the outcome."""
        provider = self.provider(name)
        patterns = self.allowed_secrets(name)
        report = self._test_provider(name, provider, secrets, patterns)
        self.store.integrations.record_test(name, report.ok, report.summary())
        self._record_test(name, report, secrets)
        log.info("integration tested name=%s ok=%s", name, report.ok)
        return report

    def _record_test(
        self, name: str, report: TestReport, secrets: Sequence[str], **details: Any
    ) -> None:
        audit.record(
            self.store,
            "integration.test",
            "integration",
            name,
            outcome="passed" if report.ok else "failed",
            secrets=list(secrets),
            failed_steps=[
                step.name for step in report.steps if step.status == "failed"
            ],
            **details,
        )

    def _test_provider(
        self,
        name: str,
        provider: Provider,
        secrets: Sequence[str],
        patterns: Sequence[str],
    ) -> TestReport:
        """Run Test Connection, reading only the secrets ``patterns`` allow.

        Without named ``secrets``, the references of the connectors that use the
        integration are read, because a test that reads nothing passes where runs
        then fail (a missing permission or KMS grant shows only on a read).
        """
        skipped = 0
        if not secrets:
            referenced = self.referenced(name)
            secrets = referenced[:MAX_REFERENCES_TESTED]
            skipped = len(referenced) - len(secrets)
        allowed, refused = self._split_by_policy(name, provider, secrets, patterns)
        report = provider.test_connection(allowed)
        report.steps = _in_argument_order(report.steps, refused, secrets)
        if not secrets and report.ok:
            report.add(
                TestStep(
                    "Secrets",
                    "warning",
                    "No secret was read: none was named and no connector "
                    f"references integration '{name}'.",
                    fix="Name a secret to read (prizm integration test NAME --secret "
                    "SECRET, or Secrets to read in the console), so the test proves "
                    "that reads and decryption work.",
                )
            )
        elif skipped:
            report.add(
                TestStep(
                    "Secrets",
                    "skipped",
                    f"Read the first {len(secrets)} references of connectors; "
                    f"{skipped} more were not read.",
                )
            )
        return report

    def referenced(self, name: str) -> builtins.list[str]:
        """Return the distinct references to integration ``name`` in connectors."""
        return sorted({str(reference) for _, _, reference in self._references_to(name)})

    def _split_by_policy(
        self,
        name: str,
        provider: Provider,
        secrets: Sequence[str],
        patterns: Sequence[str],
    ) -> tuple[builtins.list[str], builtins.list[TestStep]]:
        """Keep Test Connection from reading secrets outside the allowed list."""
        allowed: builtins.list[str] = []
        refused: builtins.list[TestStep] = []
        for text in secrets:
            secret = text
            if is_reference(text):
                try:
                    reference = parse_reference(text)
                except PrizmError:
                    allowed.append(text)  # the provider reports the bad reference
                    continue
                if reference.integration != name:
                    allowed.append(text)  # the provider names the other integration
                    continue
                secret = reference.name
            else:
                secret = secret.partition("#")[0]
            if not secret or request_allowed(provider, secret, patterns):
                allowed.append(text)
                continue
            refused.append(
                TestStep(
                    f"Secret {text}",
                    "failed",
                    f"Secret '{secret}' is outside the secrets integration '{name}' "
                    f"may read (allowed: {', '.join(patterns)}), so it was not read.",
                    fix="Check a secret that matches the allowed patterns, or add a "
                    "pattern for it to the integration's allowed secrets (prizm "
                    f"integration restrict {name} --allowed-secrets PATTERN).",
                    code="reference_not_allowed",
                )
            )
        return allowed, refused

    def test_changes(
        self,
        name: str,
        changes: Mapping[str, Any],
        *,
        clear: Sequence[str] = (),
        secrets: Sequence[str] = (),
        allowed_secrets: Sequence[str] | None = None,
    ) -> TestReport:
        """Run Test Connection on a stored integration with unsaved changes.

        The changes merge as in ``update``, so empty credential fields use the
        stored credentials. ``allowed_secrets`` replaces the stored patterns for
        this test when given. Only the audit event is stored, not the outcome.
        """
        record = self.store.integrations.get(name)
        kind = provider_type(record.type)
        values = self._merge(record, changes, clear)
        plain, secret = self._split(kind, self._validate_merged(kind, record, values))
        # Testing at a new destination would send the stored credentials there too.
        self._check_destination(record, kind, plain, secret, changes)
        if allowed_secrets is None:
            allowed_secrets = record.allowed_secrets
        return self._test_unsaved(
            kind,
            name,
            values,
            secrets,
            allowed_secrets,
            changed=sorted(_effective_changes(kind, changes)),
            cleared=sorted(clear),
        )

    def test_unsaved(
        self,
        type_name: str,
        name: str,
        values: Mapping[str, Any],
        secrets: Sequence[str] = (),
        allowed_secrets: Sequence[str] = (),
    ) -> TestReport:
        """Run Test Connection on settings that are not stored yet.

        Secrets outside ``allowed_secrets`` are reported as failed steps, not read.
        Only the audit event is stored, not the outcome.
        """
        return self._test_unsaved(
            provider_type(type_name), name, values, secrets, allowed_secrets
        )

    def _test_unsaved(
        self,
        kind: ProviderType,
        name: str,
        values: Mapping[str, Any],
        secrets: Sequence[str],
        allowed_secrets: Sequence[str],
        **details: Any,
    ) -> TestReport:
        patterns = self.check_patterns(allowed_secrets)
        settings = self.validate(kind, values)
        provider = kind.create(name, settings)
        try:
            report = self._test_provider(name, provider, secrets, patterns)
        finally:
            provider.close()
        # The test read secrets, so it is audited like a stored integration's.
        self._record_test(
            name,
            report,
            secrets,
            unsaved=True,
            type=kind.type_name,
            allowed_secrets=patterns,
            **details,
        )
        log.info("unsaved integration tested name=%s ok=%s", name, report.ok)
        return report


def _effective_changes(
    kind: ProviderType, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the changes that replace a stored setting.

    ``None`` changes nothing, and an empty credential (an edit form's empty
    password input) keeps the stored one.
    """
    return {
        field: value
        for field, value in changes.items()
        if value is not None and not (field in kind.credential_fields and value == "")
    }


def _in_argument_order(
    steps: builtins.list[TestStep],
    refused: builtins.list[TestStep],
    secrets: Sequence[str],
) -> builtins.list[TestStep]:
    """Put the steps of refused secrets among the provider's secret steps, so the
    report lists secrets in the order they were given."""
    if not refused:
        return steps
    position = {f"Secret {text}": index for index, text in enumerate(secrets)}
    secret_steps = sorted(
        [step for step in steps if step.name in position] + refused,
        key=lambda step: position.get(step.name, len(position)),
    )
    ordered: builtins.list[TestStep] = []
    for step in steps:
        if step.name in position:
            if secret_steps:
                ordered.extend(secret_steps)
                secret_steps = []
            continue
        ordered.append(step)
    return ordered + secret_steps


def forget_all_providers() -> None:
    """Close every cached provider. Tests call this between cases."""
    with _providers_lock:
        cached = list(_providers.values())
        _providers.clear()
    for entry in cached:
        entry.provider.close()
