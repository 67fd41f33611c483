"""The integration service: add, change, test and remove vault integrations.

The command line and the web console both call this service. It validates settings
with the integration type's pydantic model, keeps credentials sealed in the store,
and hands out one provider per integration and process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from prizm.errors import (
    IntegrationExists,
    IntegrationInUse,
    InvalidIntegration,
    UnknownIntegration,
)
from prizm.providers.base import Provider, ProviderType, TestReport
from prizm.providers.registry import provider_type
from prizm.references import INTEGRATION_NAME
from prizm.store.integrations import IntegrationRecord
from prizm.store.store import Store

__all__ = ["IntegrationService", "IntegrationView", "format_validation_error"]

log = logging.getLogger(__name__)

_providers: dict[str, tuple[tuple[str, str, str], Provider]] = {}
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
        self, type_name: str, name: str | None, values: Mapping[str, Any]
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
        settings = self.validate(kind, values)
        plain, secret = self._split(kind, settings)
        record = self.store.integrations.add(name, kind.type_name, plain, secret)
        log.info("integration added name=%s type=%s", name, kind.type_name)
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
        settings = self.validate(kind, self._merge(record, changes, clear))
        plain, secret = self._split(kind, settings)
        updated = self.store.integrations.update(name, plain, secret)
        self.forget_provider(name)
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
        merged: dict[str, Any] = dict(record.settings)
        merged.update(self.store.integrations.credentials(record))
        for field in clear:
            merged.pop(field, None)
        for field, value in changes.items():
            if value is None:
                continue
            if field in kind.credential_fields and value == "":
                # An empty credential field on an edit form keeps the stored one.
                continue
            merged[field] = value
        return merged

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
        log.info("integration removed name=%s", name)

    def settings(self, record: IntegrationRecord) -> BaseModel:
        """Return the validated settings of ``record``, credentials decrypted."""
        kind = provider_type(record.type)
        values: dict[str, Any] = dict(record.settings)
        values.update(self.store.integrations.credentials(record))
        return self.validate(kind, values)

    def provider(self, name: str) -> Provider:
        """Return this process's provider for integration ``name``.

        A provider, and with it the SDK client, is reused across runs and threads
        until the integration's settings change.
        """
        record = self.store.integrations.find(name)
        if record is None:
            raise UnknownIntegration(
                f"No integration is called '{name}'.",
                hint="List the configured ones with: prizm integration list.",
                integration=name,
            )
        fingerprint = record.fingerprint
        with _providers_lock:
            cached = _providers.get(name)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
        provider = provider_type(record.type).create(name, self.settings(record))
        with _providers_lock:
            cached = _providers.get(name)
            if cached is not None and cached[0] == fingerprint:
                provider.close()
                return cached[1]
            if cached is not None:
                cached[1].close()
            _providers[name] = (fingerprint, provider)
        return provider

    def forget_provider(self, name: str) -> None:
        with _providers_lock:
            cached = _providers.pop(name, None)
        if cached is not None:
            cached[1].close()

    def test(self, name: str, secrets: Sequence[str] = ()) -> TestReport:
        """Run Test Connection on a stored integration and store the outcome."""
        provider = self.provider(name)
        report = provider.test_connection(list(secrets))
        self.store.integrations.record_test(name, report.ok, report.summary())
        log.info("integration tested name=%s ok=%s", name, report.ok)
        return report

    def test_changes(
        self,
        name: str,
        changes: Mapping[str, Any],
        *,
        clear: Sequence[str] = (),
        secrets: Sequence[str] = (),
    ) -> TestReport:
        """Run Test Connection on a stored integration with unsaved changes.

        The changes merge as in ``update``, so empty credential fields use the
        stored credentials. Nothing is stored, not even the outcome.
        """
        record = self.store.integrations.get(name)
        values = self._merge(record, changes, clear)
        return self.test_unsaved(record.type, name, values, secrets)

    def test_unsaved(
        self,
        type_name: str,
        name: str,
        values: Mapping[str, Any],
        secrets: Sequence[str] = (),
    ) -> TestReport:
        """Run Test Connection on settings that are not stored yet."""
        kind = provider_type(type_name)
        settings = self.validate(kind, values)
        provider = kind.create(name, settings)
        try:
            return provider.test_connection(list(secrets))
        finally:
            provider.close()


def forget_all_providers() -> None:
    """Close every cached provider. Tests call this between cases."""
    with _providers_lock:
        cached = list(_providers.values())
        _providers.clear()
    for _, provider in cached:
        provider.close()
