"""The connector service: add, change, show, check and remove connectors.

A secret field accepts only a ``vault://`` reference, so no plaintext secret is ever
stored. Every reference is validated when the connector is saved: the grammar, that
the integration exists, and that its provider accepts the name and options.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prizm import audit
from prizm.connectors.base import ConnectorType
from prizm.connectors.registry import all_connector_types, connector_type
from prizm.errors import InvalidField, InvalidReference, PrizmError
from prizm.integrations import IntegrationService
from prizm.references import (
    INTEGRATION_NAME,
    MAX_REFERENCE_LENGTH,
    is_reference,
    parse_reference,
)
from prizm.resolver import Resolver
from prizm.secrets import ResolvedValue
from prizm.store.connectors import ConnectorRecord
from prizm.store.runs import FieldUse
from prizm.store.store import Store

__all__ = ["ConnectorService", "ConnectorView", "parse_field_assignments"]

log = logging.getLogger(__name__)

MAX_FIELD_LENGTH = 65536


def _references(fields: Mapping[str, str]) -> dict[str, str]:
    """Return the fields that hold references: safe to audit, since never values."""
    return {name: value for name, value in fields.items() if is_reference(value)}


def parse_field_assignments(pairs: list[str]) -> dict[str, str]:
    """Turn ``KEY=VALUE`` arguments into a dict. The value may contain ``=``."""
    fields: dict[str, str] = {}
    for number, pair in enumerate(pairs, start=1):
        name, separator, value = pair.partition("=")
        if not separator or not name:
            # The text is not shown: a mistyped argument may be a bare password.
            problem = "has no '='" if not separator else "has no KEY before '='"
            raise InvalidField(
                f"Field argument {number} {problem}, so it is not KEY=VALUE (its "
                "text is not shown, in case it is a secret).",
                hint="Write each field as --field KEY=VALUE, for example "
                "--field host=db.example.com.",
            )
        if name in fields:
            raise InvalidField(
                f"The field '{name}' is given twice.",
                hint="Give each field once.",
            )
        fields[name] = value
    return fields


@dataclass(frozen=True)
class ConnectorView:
    """What ``connector show`` displays: fields as stored and the versions last used."""

    record: ConnectorRecord
    kind: ConnectorType
    last_used: list[FieldUse]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.record.name,
            "type": self.record.type,
            "fields": dict(self.record.fields),
            "secret_fields": [spec.name for spec in self.kind.fields if spec.secret],
            "last_used_versions": [use.to_dict() for use in self.last_used],
            "created_at": self.record.created_at.isoformat(),
            "updated_at": self.record.updated_at.isoformat(),
        }


class ConnectorService:
    """Business rules of connectors, over one store."""

    def __init__(self, store: Store, resolver: Resolver | None = None) -> None:
        self.store = store
        self.integrations = IntegrationService(store)
        self.resolver = resolver or Resolver(self.integrations)

    def types(self) -> list[ConnectorType]:
        return all_connector_types()

    def validate(self, type_name: str, fields: Mapping[str, str]) -> dict[str, str]:
        """Check field names, secret fields, references and literal values.

        Returns the fields to store. Raises ``InvalidField`` or the reference's typed
        error (``invalid_reference``, ``unknown_integration``).
        """
        kind = connector_type(type_name)
        specs = {spec.name: spec for spec in kind.fields}
        unknown = sorted(set(fields) - set(specs))
        if unknown:
            raise InvalidField(
                f"A {kind.display_name} connector has no field "
                f"{', '.join(repr(name) for name in unknown)}.",
                hint=f"Its fields are: {', '.join(specs)}.",
            )
        cleaned: dict[str, str] = {}
        for name, value in fields.items():
            if len(value) > MAX_FIELD_LENGTH:
                raise InvalidField(
                    f"The field '{name}' is longer than {MAX_FIELD_LENGTH} characters.",
                    hint="Store large values in the vault and reference them.",
                )
            if value == "":
                continue
            cleaned[name] = value
        missing = [
            spec.name
            for spec in kind.fields
            if spec.required and spec.default is None and spec.name not in cleaned
        ]
        if missing:
            raise InvalidField(
                f"A {kind.display_name} connector needs the field(s) "
                f"{', '.join(missing)}.",
                hint="Add them with --field NAME=VALUE. Secret fields take a "
                "reference.",
            )
        for name, value in cleaned.items():
            if specs[name].secret and not is_reference(value):
                raise self._literal_secret(kind, name)
        kind.validate(cleaned)
        secret = {spec.name for spec in kind.fields if spec.secret}
        self._check_references(cleaned, secret)
        return cleaned

    def validate_field(self, type_name: str, name: str, value: str) -> None:
        """Check one field on its own, as a form does while the user types.

        Raises what ``validate`` raises for that field; a field that others
        depend on is checked in full only when the connector is saved.
        """
        kind = connector_type(type_name)
        specs = {spec.name: spec for spec in kind.fields}
        if name not in specs:
            raise InvalidField(
                f"A {kind.display_name} connector has no field {name!r}.",
                hint=f"Its fields are: {', '.join(specs)}.",
            )
        if value == "":
            return
        if len(value) > MAX_FIELD_LENGTH:
            raise InvalidField(
                f"The field '{name}' is longer than {MAX_FIELD_LENGTH} characters.",
                hint="Store large values in the vault and reference them.",
            )
        if specs[name].secret and not is_reference(value):
            raise self._literal_secret(kind, name)
        kind.validate({name: value})
        self._check_references({name: value}, {name} if specs[name].secret else set())

    def _literal_secret(self, kind: ConnectorType, name: str) -> InvalidField:
        names = self.store.integrations.names()
        integration = names[0] if names else "aws"
        return InvalidField(
            f"The field '{name}' of a {kind.display_name} connector is secret, so it "
            "takes a reference to a vault, not a value (the value was not stored).",
            hint=f"Write it as vault://<integration>/<secret-name>#{name}, for example "
            f"vault://{integration}/prizm/{kind.type_name}#{name}.",
        )

    def _check_references(
        self, fields: Mapping[str, str], secret: set[str] | frozenset[str] = frozenset()
    ) -> None:
        references = {
            name: value
            for name, value in fields.items()
            if is_reference(value) and len(value) <= MAX_REFERENCE_LENGTH + 1
        }
        for name, value in fields.items():
            if is_reference(value) and name not in references:
                raise InvalidField(
                    f"The reference in field '{name}' is longer than "
                    f"{MAX_REFERENCE_LENGTH} characters.",
                    hint="Use the secret's name instead of a longer form.",
                )
        parsed = self.resolver.parse(references)
        for name, outcome in parsed.items():
            if not isinstance(outcome, PrizmError):
                continue
            if name in secret and outcome.code == "invalid_reference":
                # A malformed reference in a secret field may be a password that
                # happens to start with "vault:", so its text is not repeated.
                error = InvalidReference(
                    f"Field '{name}' is secret and holds no valid reference (its "
                    "value was not stored or shown).",
                    hint=outcome.hint,
                )
                raise error
            raise outcome.reworded(f"Field '{name}': {outcome.message}")

    def check_name(self, name: str) -> None:
        if not INTEGRATION_NAME.fullmatch(name):
            raise InvalidField(
                f"Invalid connector name {name!r}.",
                hint="Use 1 to 63 lowercase letters, digits, '-' and '_'.",
            )

    def add(
        self, type_name: str, name: str, fields: Mapping[str, str]
    ) -> ConnectorRecord:
        """Validate and store a new connector."""
        self.check_name(name)
        cleaned = self.validate(type_name, fields)
        record = self.store.connectors.add(name, type_name, cleaned)
        audit.record(
            self.store,
            "connector.add",
            "connector",
            name,
            type=type_name,
            references=_references(cleaned),
        )
        log.info("connector added name=%s type=%s", name, type_name)
        return record

    def update(
        self, name: str, changes: Mapping[str, str], unset: list[str] | None = None
    ) -> ConnectorRecord:
        """Change some fields of a connector; the others are kept."""
        record = self.store.connectors.get(name)
        specs = {spec.name for spec in connector_type(record.type).fields}
        unknown = sorted(set(unset or []) - specs)
        if unknown:
            raise InvalidField(
                f"A {record.type} connector has no field "
                f"{', '.join(repr(field) for field in unknown)} to unset.",
                hint=f"Its fields are: {', '.join(sorted(specs))}.",
            )
        fields = dict(record.fields)
        for field in unset or []:
            fields.pop(field, None)
        fields.update(changes)
        cleaned = self.validate(record.type, fields)
        updated = self.store.connectors.update(name, cleaned)
        audit.record(
            self.store,
            "connector.update",
            "connector",
            name,
            changed=sorted(changes),
            unset=sorted(unset or []),
            references=_references(cleaned),
        )
        log.info("connector updated name=%s", name)
        return updated

    def get(self, name: str) -> ConnectorRecord:
        return self.store.connectors.get(name)

    def all(self) -> list[ConnectorRecord]:
        return self.store.connectors.all()

    def view(self, record: ConnectorRecord) -> ConnectorView:
        return ConnectorView(
            record=record,
            kind=connector_type(record.type),
            last_used=self.store.runs.latest_fields(record.name),
        )

    def remove(self, name: str) -> None:
        self.store.connectors.remove(name)
        audit.record(self.store, "connector.remove", "connector", name)
        log.info("connector removed name=%s", name)

    def check(self, name: str) -> dict[str, ResolvedValue | PrizmError]:
        """Resolve every reference of a connector now, without running its job."""
        record = self.store.connectors.get(name)
        references = {
            field: value
            for field, value in record.fields.items()
            if is_reference(value)
        }
        return self._check(references, connector=name)

    def check_references(
        self, references: Mapping[str, str]
    ) -> dict[str, ResolvedValue | PrizmError]:
        """Resolve labelled references now, for a form's Check action.

        Callers report each outcome's source (secret ARN or path and version) or
        error; the values stay masked in the returned ``ResolvedValue``s.
        """
        return self._check(references, connector=None)

    def _check(
        self, references: Mapping[str, str], connector: str | None
    ) -> dict[str, ResolvedValue | PrizmError]:
        """Resolve ``references`` and audit each read as ``secret.check``."""
        outcomes = dict(self.resolver.resolve(references).outcomes)
        audit.record_many(
            self.store,
            [
                _check_event(field, references[field], outcome, connector)
                for field, outcome in outcomes.items()
            ],
        )
        failed = sum(isinstance(outcome, PrizmError) for outcome in outcomes.values())
        log.info(
            "references checked connector=%s count=%d failed=%d",
            connector or "(unsaved)",
            len(outcomes),
            failed,
        )
        return outcomes


def _check_event(
    field: str,
    text: str,
    outcome: ResolvedValue | PrizmError,
    connector: str | None,
) -> dict[str, Any]:
    """Return the ``secret.check`` audit event of one checked reference."""
    details: dict[str, Any] = {"field": field}
    if connector is not None:
        details["connector"] = connector
    if isinstance(outcome, ResolvedValue):
        source = outcome.source
        return audit.event(
            "secret.check",
            "reference",
            text,
            integration=source.integration,
            secret_id=source.secret_id,
            version_id=source.version_id,
            **details,
        )
    if isinstance(outcome, InvalidReference):
        target = audit.reference_target(text, outcome)
        return audit.event(
            "secret.check", "reference", target, outcome=outcome.code, **details
        )
    return audit.event(
        "secret.check",
        "reference",
        text,
        outcome=outcome.code,
        integration=outcome.integration or _integration_of(text),
        **details,
    )


def _integration_of(text: str) -> str | None:
    try:
        return parse_reference(text).integration
    except PrizmError:
        return None
