"""Resolving many references at once, with the fewest round trips.

``Resolver.resolve`` takes labelled references (a connector's fields, the lines of an
env file), parses them all first, groups them by integration and by secret and
version, asks each provider to plan its calls (batches where the vault has them),
runs every call of every integration concurrently on a bounded thread pool, and then
extracts each ``#key`` from the fetched documents. Each distinct secret version is
fetched once, so all fields naming one secret get values from one version. When one
secret written two ways (a name and an ARN) comes back in two versions, it is read
again at one version. One failing reference never blanks the others: every label gets
a value or a typed error.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prizm.errors import (
    InconsistentVersions,
    InvalidReference,
    PrizmError,
    ReferenceNotAllowed,
    ServiceError,
    drop_tracebacks,
)
from prizm.integrations import IntegrationService
from prizm.metrics import CallRecord, collect_calls, metrics
from prizm.policy import request_allowed
from prizm.providers.base import (
    FetchCall,
    FetchOutcome,
    Provider,
    SecretRequest,
    fetch_all,
)
from prizm.references import (
    LoadedDocument,
    LookupContext,
    Reference,
    extract_value,
    is_reference,
    load_document,
    parse_reference,
    select_value,
)
from prizm.secrets import FetchedSecret, ResolvedValue, SecretValue

__all__ = ["Resolution", "Resolver", "shared_executor"]

log = logging.getLogger(__name__)

MAX_CONCURRENT_CALLS = 16

Selector = tuple[tuple[str, str], ...]

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def shared_executor() -> ThreadPoolExecutor:
    """Return the process's pool for vault calls, bounded to 16 at once."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=MAX_CONCURRENT_CALLS, thread_name_prefix="prizm-fetch"
            )
        return _executor


@dataclass
class Resolution:
    """The outcome for every label: a resolved value or a typed error."""

    outcomes: dict[str, ResolvedValue | PrizmError] = field(default_factory=dict)
    seconds: float = 0.0
    calls: int = 0
    """How many fetch calls were planned: batches and single reads."""
    api_calls: list[CallRecord] = field(default_factory=list)
    """Every API call made, authentication calls included."""

    @property
    def ok(self) -> bool:
        return all(not isinstance(o, PrizmError) for o in self.outcomes.values())

    @property
    def errors(self) -> dict[str, PrizmError]:
        return {
            label: outcome
            for label, outcome in self.outcomes.items()
            if isinstance(outcome, PrizmError)
        }

    @property
    def values(self) -> dict[str, ResolvedValue]:
        return {
            label: outcome
            for label, outcome in self.outcomes.items()
            if isinstance(outcome, ResolvedValue)
        }


@dataclass
class _Pending:
    label: str
    reference: Reference
    text: str
    provider: Provider
    request: SecretRequest


class Resolver:
    """Resolves references through the integrations of one store."""

    def __init__(
        self,
        integrations: IntegrationService,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.integrations = integrations
        self._executor = executor

    def parse(self, references: Mapping[str, str]) -> dict[str, Reference | PrizmError]:
        """Check every reference: grammar, integration, name and allowed list.

        Nothing is fetched.
        """
        parsed: dict[str, Reference | PrizmError] = {}
        for label, text in references.items():
            try:
                reference = parse_reference(text)
                provider = self.integrations.provider(reference.integration)
                request = provider.request_for(reference)
                self.check_allowed(provider, reference, request, text)
            except PrizmError as error:
                parsed[label] = _with_reference(error, text)
                continue
            parsed[label] = reference
        return parsed

    def check_allowed(
        self,
        provider: Provider,
        reference: Reference,
        request: SecretRequest,
        text: str,
    ) -> None:
        """Raise ``ReferenceNotAllowed`` when the integration's list excludes it."""
        patterns = self.integrations.allowed_secrets(reference.integration)
        if request_allowed(provider, request.name, patterns):
            return
        shown = ", ".join(patterns[:5]) + (", ..." if len(patterns) > 5 else "")
        explain = getattr(provider, "policy_note", None)
        note = explain(request.name) if callable(explain) else None
        raise ReferenceNotAllowed(
            f"Cannot resolve {text}: secret '{request.name}' is outside the secrets "
            f"integration '{reference.integration}' may read (allowed: {shown}).",
            hint=(f"{note} " if note else "")
            + "Reference a secret that matches the allowed patterns, or ask an "
            "admin to change them with: prizm integration restrict "
            f"{reference.integration} --allowed-secrets PATTERN.",
            reference=text,
            integration=reference.integration,
            location=provider.location(),
        )

    def resolve(
        self, references: Mapping[str, str], *, fresh: bool = False
    ) -> Resolution:
        """Resolve every labelled reference; see the module docstring for the plan.

        ``fresh`` bypasses any opt-in cache, as a retry after an authentication
        failure must.
        """
        with collect_calls() as calls:
            resolution = self._resolve(references, fresh)
        resolution.api_calls = list(calls)
        return resolution

    def _resolve(self, references: Mapping[str, str], fresh: bool) -> Resolution:
        started = time.perf_counter()
        resolution = Resolution()
        pending: list[_Pending] = []
        providers: dict[str, Provider] = {}

        for label, text in references.items():
            try:
                reference = parse_reference(text)
                provider = providers.get(reference.integration)
                if provider is None:
                    provider = self.integrations.provider(reference.integration)
                    providers[reference.integration] = provider
                request = provider.request_for(reference)
                self.check_allowed(provider, reference, request, text)
            except PrizmError as error:
                resolution.outcomes[label] = _with_reference(error, text)
                continue
            pending.append(_Pending(label, reference, text, provider, request))

        fetched = self._fetch(pending, resolution, fresh)
        _align_versions(providers, fetched)

        documents: dict[int, LoadedDocument] = {}
        for item in pending:
            outcome = fetched.get((item.provider.name, item.request))
            if outcome is None:
                outcome = ServiceError(
                    f"Integration '{item.provider.name}' ({item.provider.location()}) "
                    f"returned no outcome for secret '{item.request.name}'.",
                    hint="Retry; if it persists, report it with the Prizm version.",
                    integration=item.provider.name,
                    location=item.provider.location(),
                )
            resolution.outcomes[item.label] = _extract(item, outcome, documents)

        resolution.seconds = time.perf_counter() - started
        metrics.record_resolution(resolution.seconds)
        log.debug(
            "resolved references=%d secrets=%d calls=%d errors=%d seconds=%.4f",
            len(references),
            len({(p.provider.name, p.request) for p in pending}),
            resolution.calls,
            len(resolution.errors),
            resolution.seconds,
        )
        # Keep the original order of labels.
        resolution.outcomes = {
            label: resolution.outcomes[label] for label in references
        }
        return resolution

    def _fetch(
        self, pending: list[_Pending], resolution: Resolution, fresh: bool
    ) -> dict[tuple[str, SecretRequest], FetchOutcome]:
        by_provider: dict[str, tuple[Provider, dict[SecretRequest, None]]] = {}
        for item in pending:
            entry = by_provider.setdefault(item.provider.name, (item.provider, {}))
            entry[1][item.request] = None

        planned: list[tuple[Provider, FetchCall]] = []
        for provider, requests in by_provider.values():
            calls = provider.plan_fetch(list(requests), fresh=fresh)
            planned += [(provider, call) for call in calls]
        resolution.calls = len(planned)

        results: dict[tuple[str, SecretRequest], FetchOutcome] = {}
        if len(planned) == 1:
            # One call: run it on this thread, saving a thread hand-off.
            provider, call = planned[0]
            _collect(results, provider, lambda: _run(provider, call))
            return results

        executor = self._executor or shared_executor()
        futures: list[
            tuple[Provider, Future[dict[tuple[str, SecretRequest], FetchOutcome]]]
        ] = []
        for provider, call in planned:
            # Each call runs in a copy of this context, so the API calls it makes
            # are counted for this resolution.
            context = contextvars.copy_context()
            futures.append(
                (provider, executor.submit(context.run, _run, provider, call))
            )
        for provider, future in futures:
            _collect(results, provider, future.result)
        return results


def _collect(
    results: dict[tuple[str, SecretRequest], FetchOutcome],
    provider: Provider,
    outcome: Callable[[], dict[tuple[str, SecretRequest], FetchOutcome]],
) -> None:
    """Merge a call's outcomes; a call that raises leaves its requests unanswered.

    Unanswered requests get a ``service_error`` outcome. Only the exception's class
    is logged, because an unexpected message could quote data.
    """
    try:
        results.update(outcome())
    except Exception as exc:  # noqa: BLE001 - a provider bug must not abort the run
        log.error(
            "fetch call failed integration=%s error=%s",
            provider.name,
            exc.__class__.__name__,
        )


def _run(
    provider: Provider, call: FetchCall
) -> dict[tuple[str, SecretRequest], FetchOutcome]:
    outcomes = call()
    return {(provider.name, request): outcome for request, outcome in outcomes.items()}


def _align_versions(
    providers: Mapping[str, Provider],
    fetched: dict[tuple[str, SecretRequest], FetchOutcome],
) -> None:
    """Give every request that names one secret version the same version.

    A secret written as its name in one reference and as its ARN in another makes
    two requests, which separate calls read. A rotation between those calls would
    give fields of one secret different versions, so such a group is read again.
    """
    groups: dict[tuple[str, str, Selector], list[SecretRequest]] = {}
    for (integration, request), outcome in fetched.items():
        if isinstance(outcome, FetchedSecret) and outcome.source.version_id:
            key = (integration, outcome.source.secret_id, request.selector)
            groups.setdefault(key, []).append(request)
    for (integration, secret_id, _), requests in groups.items():
        earlier = {request: fetched[(integration, request)] for request in requests}
        versions = {_version_of(outcome) for outcome in earlier.values()}
        if len(versions) < 2:
            continue
        provider = providers[integration]
        log.warning(
            "secret changed between reads, reading it again integration=%s "
            "secret=%s versions=%s",
            integration,
            secret_id,
            ",".join(sorted(str(version) for version in versions)),
        )
        outcomes = _read_one_version(provider, secret_id, earlier)
        for request, outcome in outcomes.items():
            fetched[(integration, request)] = outcome


def _read_one_version(
    provider: Provider, secret_id: str, earlier: Mapping[SecretRequest, FetchOutcome]
) -> dict[SecretRequest, FetchOutcome]:
    """Read the first request again as written, and the others at its version.

    The first read returns the version its stage names now, the newest one. The
    others are read by that version's ID, so a further rotation cannot split them.
    When the provider cannot read by version ID, every request of the group gets
    ``InconsistentVersions``.
    """
    requests = list(earlier)
    pin = getattr(provider, "request_for_version", None)
    if not callable(pin):
        # NOTE: only AWS can pin yet. A Vault KV v2 path written with and without
        # its data/ segment gets this error, and no test reaches this branch.
        error = _inconsistent(provider, secret_id, earlier.values())
        return dict.fromkeys(requests, error)
    first = requests[0]
    leader = fetch_all(provider, [first]).get(first)
    if leader is None:
        leader = _inconsistent(provider, secret_id, earlier.values())
    if isinstance(leader, PrizmError):
        return dict.fromkeys(requests, leader)
    version_id = _version_of(leader)
    if version_id is None:
        return dict.fromkeys(requests, _inconsistent(provider, secret_id, [leader]))
    outcomes: dict[SecretRequest, FetchOutcome] = {first: leader}
    pinned: dict[SecretRequest, SecretRequest] = {}
    for request in requests[1:]:
        if _version_of(earlier[request]) == version_id:
            outcomes[request] = earlier[request]
        else:
            pinned[pin(request, version_id)] = request
    for request, outcome in fetch_all(provider, list(pinned)).items():
        outcomes[pinned[request]] = outcome
    read = [o for o in outcomes.values() if isinstance(o, FetchedSecret)]
    if any(_version_of(outcome) != version_id for outcome in read):
        return dict.fromkeys(requests, _inconsistent(provider, secret_id, read))
    return outcomes


def _version_of(outcome: FetchOutcome) -> str | None:
    if isinstance(outcome, FetchedSecret):
        return outcome.source.version_id
    return None


def _inconsistent(
    provider: Provider, secret_id: str, outcomes: Iterable[FetchOutcome]
) -> InconsistentVersions:
    versions = sorted({str(_version_of(outcome)) for outcome in outcomes})
    read = f" (versions {', '.join(versions)})" if versions else ""
    return InconsistentVersions(
        f"Secret '{secret_id}' changed while integration '{provider.name}' "
        f"({provider.location()}) read it, so references to it got different "
        f"versions{read}.",
        hint="Run again, and write every reference to one secret the same way "
        "(its name or its ARN).",
        integration=provider.name,
        location=provider.location(),
    )


def _with_reference(error: PrizmError, text: str) -> PrizmError:
    # The error outlives the frames that raised it, and frames can hold values.
    # Text that does not start like a reference may be a pasted secret, so it is
    # not put in front of the message; its InvalidReference gives only its length.
    pasted = isinstance(error, InvalidReference) and not is_reference(text)
    if error.reference is None and not pasted:
        error = error.for_reference(text)
    return drop_tracebacks(error)


def _extract(
    item: _Pending, outcome: FetchOutcome, documents: dict[int, LoadedDocument]
) -> ResolvedValue | PrizmError:
    """Select the item's key; each fetched document is parsed once per resolution."""
    if isinstance(outcome, PrizmError):
        return _with_reference(outcome, item.text)
    assert isinstance(outcome, FetchedSecret)
    context = LookupContext(
        item.text, item.provider.name, item.provider.location(item.request.name)
    )
    key = item.reference.key
    try:
        if key is None:
            text = extract_value(outcome.document.reveal(), None, context)
        else:
            loaded = documents.get(id(outcome))
            if loaded is None:
                loaded = load_document(outcome.document.reveal())
                documents[id(outcome)] = loaded
            text = select_value(loaded, key, context)
    except PrizmError as error:
        # The traceback's frames contain the document as select_value's locals.
        return drop_tracebacks(error)
    metadata: dict[str, Any] = {}
    return ResolvedValue(
        reference=item.text,
        value=SecretValue(text),
        source=outcome.source,
        metadata=metadata,
    )
