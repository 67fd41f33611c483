"""Running a connector's job: resolve, connect, record.

A run resolves every reference of the connector fresh (nothing is cached across runs
unless an integration opts in), hands the values to the connector in memory only,
and stores the outcome with the secret version each field used, never a value.
Resolution failures stop the run before any connection attempt.

When the connector reports an authentication failure, the run re-reads the
referenced secrets once, bypassing any cache. If a version changed (a rotation
finished between the first read and the login), it reconnects once with the new
values. Otherwise it fails. The error names a rotation in progress when a
referenced secret has one (AWS, checked with DescribeSecret), and otherwise says that
the vault and the system disagree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prizm import audit
from prizm.connectors.base import FieldValues, JobResult, ProgressCallback
from prizm.connectors.registry import connector_type
from prizm.errors import AuthenticationFailed, JobFailed, PrizmError, sentence
from prizm.integrations import IntegrationService
from prizm.metrics import collect_calls
from prizm.providers.base import Provider
from prizm.redaction import scrub
from prizm.references import is_reference, parse_reference
from prizm.resolver import Resolution, Resolver
from prizm.secrets import ResolvedValue, SecretValue
from prizm.store.connectors import ConnectorRecord
from prizm.store.runs import FieldUse, RunOwner, RunRecord
from prizm.store.store import Store

__all__ = ["JobService"]

log = logging.getLogger(__name__)


def _ignore_progress(description: str, fraction: float | None) -> None:
    return None


@dataclass
class _Attempt:
    resolution: Resolution
    uses: list[FieldUse]


class JobService:
    """Runs connector jobs in this process."""

    def __init__(self, store: Store, resolver: Resolver | None = None) -> None:
        self.store = store
        self.resolver = resolver or Resolver(IntegrationService(store))

    def run(self, name: str, progress: ProgressCallback | None = None) -> RunRecord:
        """Create a run of connector ``name``, execute it and return its record."""
        connector = self.store.connectors.get(name)
        run_id = self.store.runs.create(connector, status="running")
        return self.execute(run_id, connector, progress or _ignore_progress)

    def execute(
        self,
        run_id: int,
        connector: ConnectorRecord,
        progress: ProgressCallback,
        owner: RunOwner | None = None,
    ) -> RunRecord:
        """Execute a created run; every failure ends up on the run record.

        A worker passes the ``owner`` of its claim, so nothing is recorded once
        another worker has taken the run over.
        """
        log.info("run started run_id=%s connector=%s", run_id, connector.name)
        started = time.perf_counter()
        stats: dict[str, Any] = {}
        try:
            result = self._execute(run_id, connector, progress, stats, owner)
        except PrizmError as error:
            self._fail(run_id, error, stats, started, owner)
        except Exception as exc:  # noqa: BLE001 - a connector bug must still end the run
            unexpected = JobFailed(
                f"The {connector.type} job failed with an unexpected "
                f"{exc.__class__.__name__}: {scrub(str(exc))}",
                hint="Retry; if it persists, report it with the Prizm version.",
            )
            self._fail(run_id, unexpected, stats, started, owner)
        else:
            stats["seconds"] = round(time.perf_counter() - started, 6)
            self.store.runs.finish(
                run_id,
                status="succeeded",
                result={"summary": result.summary, **result.data},
                stats=stats,
                owner=owner,
            )
            log.info("run succeeded run_id=%s connector=%s", run_id, connector.name)
        return self.store.runs.get(run_id)

    def _fail(
        self,
        run_id: int,
        error: PrizmError,
        stats: dict[str, Any],
        started: float,
        owner: RunOwner | None,
    ) -> None:
        stats["seconds"] = round(time.perf_counter() - started, 6)
        self.store.runs.finish(
            run_id,
            status="failed",
            error_code=error.code,
            error_message=scrub(error.text),
            stats=stats,
            owner=owner,
        )
        log.info("run failed run_id=%s code=%s", run_id, error.code)

    def _record_uses(
        self,
        run_id: int,
        connector: ConnectorRecord,
        uses: list[FieldUse],
        owner: RunOwner | None,
    ) -> None:
        """Store the versions the fields used, on the run and in the audit log.

        Nothing is recorded when a worker's claim on the run has been lost.
        """
        if not self.store.runs.record_fields(run_id, uses, owner):
            return
        audit.record_many(
            self.store,
            [
                audit.event(
                    "run.resolve",
                    "run",
                    str(run_id),
                    outcome=use.outcome,
                    connector=connector.name,
                    field=use.field,
                    attempt=use.attempt,
                    integration=use.integration,
                    reference=use.reference,
                    secret_id=use.secret_id,
                    version_id=use.version_id,
                )
                for use in uses
            ],
        )

    def _resolve(
        self, references: Mapping[str, str], attempt: int, stats: dict[str, Any]
    ) -> _Attempt:
        # The retry after an authentication failure bypasses any opt-in cache.
        resolution = self.resolver.resolve(references, fresh=attempt > 1)
        stats.setdefault("attempts", []).append(
            {
                "attempt": attempt,
                "references": len(references),
                "secrets": len(
                    {
                        (use.source.integration, use.source.secret_id)
                        for use in resolution.values.values()
                    }
                ),
                "api_calls": len(resolution.api_calls),
                "calls": [call.to_dict() for call in resolution.api_calls],
                "resolution_seconds": round(resolution.seconds, 6),
            }
        )
        return _Attempt(resolution, _field_uses(references, resolution, attempt))

    def _execute(
        self,
        run_id: int,
        connector: ConnectorRecord,
        progress: ProgressCallback,
        stats: dict[str, Any],
        owner: RunOwner | None,
    ) -> JobResult:
        kind = connector_type(connector.type)
        references = {
            field: value
            for field, value in connector.fields.items()
            if is_reference(value)
        }
        literals = {
            field: value
            for field, value in connector.fields.items()
            if field not in references
        }

        progress(f"resolving {len(references)} references", None)
        first = self._resolve(references, 1, stats)
        self._record_uses(run_id, connector, first.uses, owner)
        if not first.resolution.ok:
            raise _resolution_error(first.resolution)

        try:
            return kind.run(_values(literals, first.resolution), progress)
        except AuthenticationFailed as failure:
            if not references:
                raise
            log.warning(
                "authentication failed, re-reading secrets run_id=%s connector=%s",
                run_id,
                connector.name,
            )
            progress("authentication failed, re-reading secrets", None)
            second = self._resolve(references, 2, stats)
            self._record_uses(run_id, connector, second.uses, owner)
            if not second.resolution.ok:
                error = _resolution_error(second.resolution)
                raise error.reworded(
                    f"{sentence(failure.message)} Re-reading the secrets after that "
                    f"failed: {error.message}"
                ) from None
            if not _changed(first.resolution, second.resolution):
                raise self._unchanged_error(failure, second.resolution, stats) from None
            log.info("secrets changed, retrying once run_id=%s", run_id)
            progress("secrets rotated, reconnecting once", None)
            return kind.run(_values(literals, second.resolution), progress)

    def _unchanged_error(
        self,
        failure: AuthenticationFailed,
        resolution: Resolution,
        stats: dict[str, Any],
    ) -> PrizmError:
        """Explain a login that failed with secrets that did not change.

        The usual cause is a secret that no longer matches the system. A rotation
        that has not finished is another: single-user rotation changes the password
        before the new version becomes current.
        """
        with collect_calls() as calls:
            rotating = self._rotation_in_progress(resolution)
        if calls:
            stats["rotation_check_calls"] = [call.to_dict() for call in calls]
        if rotating is None:
            return failure.reworded(
                f"{sentence(failure.message)} The secrets did not change since "
                "they were read, so the stored secret no longer matches the system."
            )
        resolved, provider, version_id = rotating
        source = resolved.source
        error = failure.reworded(
            f"{sentence(failure.message)} The secrets did not change since they were "
            f"read, but secret '{source.secret_id}' of {resolved.reference} has a "
            f"rotation in progress: its pending version {version_id} is not current "
            "yet. A single-user rotation changes the password before it makes the "
            "new version current, so the run will work once the rotation finishes."
        )
        error.hint = (
            "Run the connector again when the rotation has finished. If the rotation "
            f"stopped, finish it with: prizm rotate {_whole_secret(resolved.reference)}"
            " --strategy single-user."
        )
        error.reference = resolved.reference
        error.integration = source.integration
        error.location = provider.location()
        return error

    def _rotation_in_progress(
        self, resolution: Resolution
    ) -> tuple[ResolvedValue, Provider, str] | None:
        """Find a secret of ``resolution`` with an unfinished rotation.

        Calls each secret's provider once, when the provider can check (AWS, with
        DescribeSecret). Returns the first field's value, the provider and the
        pending version ID.
        """
        checked: set[tuple[str, str]] = set()
        for resolved in resolution.values.values():
            source = resolved.source
            key = (source.integration, source.secret_id)
            if key in checked:
                continue
            checked.add(key)
            try:
                provider = self.resolver.integrations.provider(source.integration)
            except PrizmError:
                continue
            pending_version = getattr(provider, "pending_version", None)
            if not callable(pending_version):
                continue
            version_id = pending_version(source.secret_id)
            if version_id is not None:
                return resolved, provider, str(version_id)
        return None


def _whole_secret(reference: str) -> str:
    """Return ``reference`` without its options and key: the secret to rotate."""
    parsed = parse_reference(reference)
    return f"vault://{parsed.integration}/{parsed.name}"


def _values(literals: Mapping[str, str], resolution: Resolution) -> FieldValues:
    values: dict[str, str | SecretValue] = dict(literals)
    for field, resolved in resolution.values.items():
        values[field] = resolved.value
    return FieldValues(values)


def _field_uses(
    references: Mapping[str, str], resolution: Resolution, attempt: int
) -> list[FieldUse]:
    uses: list[FieldUse] = []
    for field, reference in references.items():
        outcome = resolution.outcomes[field]
        integration = reference.removeprefix("vault://").split("/", 1)[0]
        if isinstance(outcome, ResolvedValue):
            uses.append(
                FieldUse(
                    field=field,
                    reference=reference,
                    integration=outcome.source.integration,
                    secret_id=outcome.source.secret_id,
                    version_id=outcome.source.version_id,
                    outcome="ok",
                    attempt=attempt,
                )
            )
        else:
            uses.append(
                FieldUse(
                    field=field,
                    reference=reference,
                    integration=integration,
                    secret_id=None,
                    version_id=None,
                    outcome=outcome.code,
                    attempt=attempt,
                )
            )
    return uses


def _changed(first: Resolution, second: Resolution) -> bool:
    """Return whether any field's secret changed between two reads.

    Versions are compared where the vault has them. A secret without versions (KV
    v1) is compared by value, in memory, in constant time.
    """
    before = first.values
    for field, after in second.values.items():
        earlier = before.get(field)
        if earlier is None:
            return True
        versioned = earlier.source.version_id and after.source.version_id
        if versioned:
            if (earlier.source.secret_id, earlier.source.version_id) != (
                after.source.secret_id,
                after.source.version_id,
            ):
                return True
        elif earlier.value != after.value:
            return True
    return False


def _resolution_error(resolution: Resolution) -> PrizmError:
    """Return the first field's error, naming every failed field when several failed."""
    errors = resolution.errors
    field, first = next(iter(errors.items()))
    if len(errors) == 1:
        return first.reworded(f"Field '{field}': {first.message}")
    rest = list(errors.items())[1:]
    others = ", ".join(f"'{name}' ({error.code})" for name, error in rest[:20])
    if len(rest) > 20:
        others += f" and {len(rest) - 20} more"
    return first.reworded(
        f"{len(errors)} references failed to resolve, so no connection was made. "
        f"Field '{field}': {first.message} Also failed: {others}."
    )
