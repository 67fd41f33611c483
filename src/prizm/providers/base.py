"""The interface every vault provider implements.

A provider is one module: it turns references into ``SecretRequest``s, fetches them
(batched and deduplicated as its vault allows), maps its SDK's exceptions to Prizm
errors in one place, and runs Test Connection. Nothing outside ``prizm.providers``
imports a vault SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

from prizm.errors import InvalidReference, PrizmError, ValueTooLarge
from prizm.references import Reference, parse_reference
from prizm.secrets import FetchedSecret

__all__ = [
    "MAX_SECRET_BYTES",
    "CredentialSettings",
    "FetchCall",
    "FetchOutcome",
    "Provider",
    "ProviderType",
    "SecretRequest",
    "StepStatus",
    "TestReport",
    "TestStep",
    "fetch_all",
    "parse_secret_argument",
    "too_large",
]

MAX_SECRET_BYTES = 65536
"""The largest secret document Prizm accepts from any vault (AWS's own limit)."""


@dataclass(frozen=True, slots=True)
class SecretRequest:
    """One distinct secret version to fetch: a name and a normalised version selector.

    Two references that name the same secret and version map to equal requests, which
    is what lets the resolver fetch each distinct secret once per run.
    """

    name: str
    selector: tuple[tuple[str, str], ...] = ()

    def selected(self, option: str) -> str | None:
        for name, value in self.selector:
            if name == option:
                return value
        return None

    def describe(self) -> str:
        """Return the secret and selector as words, for messages."""
        if not self.selector:
            return f"'{self.name}'"
        chosen = ", ".join(f"{name} {value}" for name, value in self.selector)
        return f"'{self.name}' ({chosen})"


FetchOutcome = FetchedSecret | PrizmError
"""What a provider returns for one request: the secret, or the typed error."""

FetchCall = Callable[[], Mapping[SecretRequest, FetchOutcome]]
"""One unit of fetching: a single read or a batch, run on a worker thread."""


class CredentialSettings(BaseModel):
    """Base of integration settings models, which hold credentials in memory.

    Pickling is rejected so settings never travel through a queue or a cache file;
    credential fields are ``SecretStr``, so ``repr`` masks them.
    """

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(
            f"{type(self).__name__} holds credentials and cannot be pickled"
        )


StepStatus = Literal["ok", "warning", "failed", "skipped"]


@dataclass(slots=True)
class TestStep:
    """One step of a Test Connection report. ``fix`` says what to change on failure."""

    name: str
    status: StepStatus
    detail: str
    fix: str | None = None
    code: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
        }
        if self.fix:
            result["fix"] = self.fix
        if self.code:
            result["code"] = self.code
        if self.data:
            result["data"] = self.data
        return result

    @classmethod
    def failed(cls, name: str, error: PrizmError) -> TestStep:
        """Build a failed step that carries the error's message, fix and code."""
        return cls(name, "failed", error.message, fix=error.hint, code=error.code)


@dataclass(slots=True)
class TestReport:
    """The steps of one Test Connection, in the order they ran."""

    integration: str
    provider: str
    location: str
    steps: list[TestStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status != "failed" for step in self.steps)

    def add(self, step: TestStep) -> TestStep:
        self.steps.append(step)
        return step

    def summary(self) -> str:
        """Return one line: how many steps passed, or the first failure."""
        failed = [step for step in self.steps if step.status == "failed"]
        warned = [step for step in self.steps if step.status == "warning"]
        if not failed and warned:
            return (
                f"{len(self.steps) - len(warned)} of {len(self.steps)} steps passed, "
                f"{len(warned)} with a warning, first: {warned[0].name}"
            )
        if not failed:
            return f"all {len(self.steps)} steps passed"
        first = failed[0]
        return f"{len(failed)} of {len(self.steps)} steps failed, first: {first.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "provider": self.provider,
            "location": self.location,
            "ok": self.ok,
            "steps": [step.to_dict() for step in self.steps],
        }


class Provider(Protocol):
    """A configured vault integration that can fetch secrets. Implement per vault.

    Providers are created once per integration and process and shared by threads:
    ``fetch`` and ``test_connection`` must be safe to call concurrently.
    """

    name: str
    """The integration's name, as written in references."""

    type_name: ClassVar[str]

    def location(self, name: str | None = None) -> str:
        """Return where the provider looks for secret ``name``, for messages.

        Without a name, or for a vault with one location, the integration's own
        location, such as "region eu-west-1".
        """
        ...

    def request_for(self, reference: Reference) -> SecretRequest:
        """Validate the reference's name and options; return the request to fetch.

        Raises ``InvalidReference`` with the accepted form when they do not fit.
        """
        ...

    def plan_fetch(
        self, requests: Sequence[SecretRequest], *, fresh: bool = False
    ) -> list[FetchCall]:
        """Return the calls that fetch ``requests``, with the fewest round trips.

        Each call returns an outcome for every request it covers, the secret or a
        typed error, so one failing request never affects the others. The resolver
        runs the calls of every integration of a run concurrently. ``fresh`` asks
        a provider with an opt-in cache to read from the vault regardless.
        """
        ...

    def test_connection(self, secrets: Sequence[str]) -> TestReport:
        """Check credentials, reachability and each named secret, step by step."""
        ...

    def close(self) -> None:
        """Release clients and connections."""
        ...


class ProviderType(Protocol):
    """A kind of vault: how its settings are validated and its providers created."""

    type_name: str
    """Short name used on the command line and in the store: ``aws``."""

    display_name: str
    """Name shown to people: "AWS Secrets Manager"."""

    default_name: str
    """Name given to the first integration of this type when none is given."""

    settings_model: type[BaseModel]
    """Pydantic model of the settings, credentials included."""

    credential_fields: tuple[str, ...]
    """Settings that are credentials: sealed in the store, never shown."""

    destination_fields: tuple[str, ...]
    """Settings that decide where credentials are sent (addresses, TLS checks).

    Changing one of them requires entering the credentials again, so that a person
    who may edit settings cannot redirect stored credentials to a server of theirs.
    """

    def create(self, name: str, settings: BaseModel) -> Provider:
        """Return a provider for the integration ``name``."""
        ...

    def summary(self, settings: Mapping[str, Any]) -> dict[str, str]:
        """Return the settings shown in ``integration list``: location and auth."""
        ...


def fetch_all(
    provider: Provider, requests: Sequence[SecretRequest]
) -> dict[SecretRequest, FetchOutcome]:
    """Run every call of ``provider.plan_fetch`` in turn and merge the outcomes."""
    outcomes: dict[SecretRequest, FetchOutcome] = {}
    for call in provider.plan_fetch(list(dict.fromkeys(requests)), fresh=True):
        outcomes.update(call())
    return outcomes


def parse_secret_argument(
    integration: str, text: str, noun: str = "NAME"
) -> tuple[Reference, str | None]:
    """Parse a Test Connection secret argument into a reference and its key.

    ``text`` is ``NAME``, ``NAME#KEY`` or a whole ``vault://`` reference to this
    integration. ``noun`` names the secret part in the hint (``NAME`` or ``PATH``).
    """
    if text.startswith("vault:"):
        reference = parse_reference(text)
        if reference.integration != integration:
            raise InvalidReference(
                f"The reference {text} names integration "
                f"'{reference.integration}', not '{integration}'.",
                hint=f"Test it with: prizm integration test {reference.integration}.",
            )
        return reference, reference.key
    name, separator, key = text.partition("#")
    if separator and key == "":
        raise InvalidReference(
            f"The secret argument {text!r} has an empty key after '#'.",
            hint=f"Write it as {noun} or {noun}#KEY.",
        )
    reference = parse_reference(f"vault://{integration}/{name}")
    return reference, key if separator else None


def too_large(
    text: str, secret: str, where: str, **fields: Any
) -> ValueTooLarge | None:
    """Return an error when ``text`` exceeds ``MAX_SECRET_BYTES`` in UTF-8, else None.

    ``secret`` and ``where`` name the secret and the vault for the message;
    ``fields`` are the error's reference, integration and location.
    """
    if len(text.encode("utf-8")) <= MAX_SECRET_BYTES:
        return None
    return ValueTooLarge(
        f"Secret {secret} is larger than {MAX_SECRET_BYTES} bytes {where}.",
        hint="Prizm reads secrets of at most 64 KiB, the limit of AWS Secrets "
        "Manager; store large files elsewhere and keep only credentials here.",
        **fields,
    )
