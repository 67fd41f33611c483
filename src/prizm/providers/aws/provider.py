"""The AWS Secrets Manager provider: references to requests, and fetching them.

Secrets on the default stage (``AWSCURRENT``) are fetched with ``BatchGetSecretValue``,
up to 20 per call. When the identity may not call it, the provider falls back to
``GetSecretValue`` and remembers that for the rest of the process. Version-pinned
references always use ``GetSecretValue``.

Permissions: ``secretsmanager:GetSecretValue`` on each secret, ``kms:Decrypt`` on its
key when that is a customer managed key, and optionally
``secretsmanager:BatchGetSecretValue`` (on ``*``) to fetch many secrets per call.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from prizm.errors import BinaryNotText, InvalidReference, PrizmError, ValueTooLarge
from prizm.metrics import metrics
from prizm.policy import matches
from prizm.providers.aws.cache import SecretCache, plan_cached, remember
from prizm.providers.aws.clients import AwsClients
from prizm.providers.aws.errors import (
    SERVICE_OF_OPERATION,
    AwsErrorContext,
    map_aws_error,
    map_error_code,
)
from prizm.providers.aws.settings import AwsSettings, parse_secret_arn
from prizm.providers.base import (
    MAX_SECRET_BYTES,
    FetchCall,
    FetchOutcome,
    SecretRequest,
    TestReport,
)
from prizm.references import Reference
from prizm.secrets import FetchedSecret, SecretSource, SecretValue

__all__ = ["AwsProvider"]

log = logging.getLogger(__name__)

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
BATCH_SIZE = 20
MAX_SECRET_ID_LENGTH = 2048
STAGE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,256}")
VERSION_ID = re.compile(r"[A-Za-z0-9-]{32,64}")
OPTIONS_FORM = "?version-stage=<label> or ?version-id=<id>"


class AwsProvider:
    """Fetches secrets from AWS Secrets Manager for one integration."""

    type_name: ClassVar[str] = "aws"

    def __init__(self, name: str, settings: AwsSettings) -> None:
        self.name = name
        self.settings = settings
        self.clients = AwsClients(name, settings)
        self._batch_denied = False
        self._batch_lock = threading.Lock()
        self._account: str | None = None
        self.cache = SecretCache(settings.cache_ttl) if settings.cache_ttl > 0 else None

    def location(self, name: str | None = None) -> str:
        """Return the region (a full ARN's own) and endpoint used for ``name``."""
        return self.settings.location(self.region_of(name) if name else None)

    @property
    def batch_denied(self) -> bool:
        """Whether this process learned that BatchGetSecretValue is not allowed."""
        return self._batch_denied

    def request_for(self, reference: Reference) -> SecretRequest:
        """Validate the name and version options of ``reference``."""
        if len(reference.name) > MAX_SECRET_ID_LENGTH:
            raise self._invalid(
                reference,
                f"the secret name is longer than {MAX_SECRET_ID_LENGTH} characters",
            )
        stage = reference.option("version-stage")
        version_id = reference.option("version-id")
        if reference.option("version") is not None:
            raise self._invalid(
                reference,
                "AWS Secrets Manager integrations take version-stage or version-id, "
                "not version",
            )
        if stage is not None and version_id is not None:
            raise self._invalid(
                reference, "give either version-stage or version-id, not both"
            )
        if version_id is not None:
            if not VERSION_ID.fullmatch(version_id):
                raise self._invalid(
                    reference,
                    f"version-id {version_id!r} is not a Secrets Manager version ID "
                    "(32 to 64 letters, digits and dashes)",
                )
            return SecretRequest(reference.name, (("version-id", version_id),))
        if stage is not None and not STAGE.fullmatch(stage):
            raise self._invalid(
                reference, f"version-stage {stage!r} is not a valid staging label"
            )
        return SecretRequest(reference.name, (("version-stage", stage or CURRENT),))

    def _invalid(self, reference: Reference, problem: str) -> InvalidReference:
        return InvalidReference(
            f"Invalid reference {reference}: {problem}.",
            hint=f"Write it as vault://{self.name}/<secret-name>[{OPTIONS_FORM}]"
            "[#<key>].",
            reference=str(reference),
            integration=self.name,
            location=self.location(reference.name),
        )

    def context(
        self, operation: str, request: SecretRequest | str | None
    ) -> AwsErrorContext:
        """Return what an error for ``operation`` on ``request`` names."""
        version = None
        if isinstance(request, SecretRequest):
            stage = request.selected("version-stage")
            version_id = request.selected("version-id")
            if version_id is not None:
                version = f"version ID {version_id}"
            elif stage is not None and stage != CURRENT:
                version = f"stage {stage}"
            request = request.name
        service = SERVICE_OF_OPERATION.get(operation, "secretsmanager")
        if service == "kms" and request and request.startswith("arn:"):
            region = request.split(":")[3]
        else:
            region = self.region_of(request) if request else self.settings.region
        return AwsErrorContext(
            integration=self.name,
            location=self.settings.location(region, service),
            operation=operation,
            secret=request,
            version=version,
            auth=self.settings.auth,
            kms_key_arn=self.settings.kms_key_arn,
            read_timeout=self.settings.read_timeout,
            region=region,
            endpoint_url=self.settings.endpoint(service),
            role_arn=self.settings.role_arn,
            external_id=bool(self.settings.external_id),
            sts_location=self.settings.location(service="sts"),
        )

    def policy_allows(self, name: str, patterns: Sequence[str]) -> bool:
        """Return whether the allowed-secret ``patterns`` admit ``name``.

        A plain name is matched as written. An ARN is admitted when a pattern
        matches the whole ARN, or when its name part (``prizm/db-AbCdEf``) matches
        and the ARN is in the integration's region and the reading identity's own
        account, so ``prizm/*`` never opens another account's ``prizm/`` secrets.
        """
        match = parse_secret_arn(name)
        if match is None:
            return matches(name, patterns)
        arn_patterns = [pattern for pattern in patterns if pattern.startswith("arn:")]
        if arn_patterns and matches(name, arn_patterns):
            return True
        if match.group("region") != self.settings.region:
            return False
        account = self.caller_account()
        if account is None or match.group("account") != account:
            return False
        return matches(match.group("name"), patterns)

    def policy_note(self, name: str) -> str | None:
        """Explain the ARN rule when a refused reference is an ARN."""
        if parse_secret_arn(name) is None:
            return None
        return (
            "A full ARN passes only in the integration's own region and account, "
            "unless a pattern names the ARN itself (arn:aws:secretsmanager:...)."
        )

    def caller_account(self) -> str | None:
        """Return the account of the identity that reads secrets (STS, cached).

        Needs ``sts:GetCallerIdentity``, which every AWS identity may call. Returns
        None when it fails, and the caller then rejects the ARN.
        """
        if self._account is not None:
            return self._account
        client = self.clients.client("sts")
        try:
            identity = self._timed("GetCallerIdentity", client.get_caller_identity)
        except Exception as exc:  # noqa: BLE001 - a failure means "not allowed"
            log.warning(
                "account lookup failed integration=%s error=%s",
                self.name,
                exc.__class__.__name__,
            )
            return None
        self._account = str(identity.get("Account"))
        return self._account

    def region_of(self, name: str) -> str:
        """Return the region to ask for ``name``: a full ARN's region wins."""
        match = parse_secret_arn(name)
        if match is not None:
            return match.group("region")
        return self.settings.region

    def plan_fetch(
        self, requests: Sequence[SecretRequest], *, fresh: bool = False
    ) -> list[FetchCall]:
        """Plan one BatchGetSecretValue per 20 current secrets of one region, and
        one GetSecretValue per other request; with ``cache_ttl``, revalidate cached
        versions with DescribeSecret first, unless ``fresh``."""
        unique = list(dict.fromkeys(requests))
        calls: list[FetchCall] = []
        if self.cache is not None and not fresh:
            calls, unique = plan_cached(self, self.cache, unique)
        planned = self._plan_reads(unique)
        if self.cache is not None:
            planned = [remember(self.cache, call) for call in planned]
        return calls + planned

    def _plan_reads(self, unique: list[SecretRequest]) -> list[FetchCall]:
        calls: list[FetchCall] = []
        batchable: dict[str, list[SecretRequest]] = {}
        for request in unique:
            if not self._batch_denied and request.selector == (
                ("version-stage", CURRENT),
            ):
                batchable.setdefault(self.region_of(request.name), []).append(request)
            else:
                calls.append(self._single_call(request))
        for region, group in batchable.items():
            if len(group) == 1:
                calls.append(self._single_call(group[0]))
                continue
            for start in range(0, len(group), BATCH_SIZE):
                chunk = group[start : start + BATCH_SIZE]
                calls.append(self._batch_call(region, chunk))
        return calls

    def _single_call(self, request: SecretRequest) -> FetchCall:
        def call() -> Mapping[SecretRequest, FetchOutcome]:
            return {request: self.get_secret_value(request)}

        return call

    def _batch_call(self, region: str, chunk: list[SecretRequest]) -> FetchCall:
        def call() -> Mapping[SecretRequest, FetchOutcome]:
            return self.batch_get_secret_value(region, chunk)

        return call

    def _timed(self, operation: str, function: Callable[[], Any]) -> Any:
        """Call ``function``, count it in the metrics, and return its response."""
        started = time.perf_counter()
        outcome = "ok"
        retries = 0
        try:
            response = function()
            retries = int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            return response
        except Exception as exc:
            outcome = _outcome_name(exc)
            response_data = getattr(exc, "response", None) or {}
            retries = int(
                response_data.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            )
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.record_call(
                integration=self.name,
                provider=self.type_name,
                operation=operation,
                outcome=outcome,
                seconds=elapsed,
                retries=retries,
            )
            log.debug(
                "aws call integration=%s operation=%s outcome=%s seconds=%.4f "
                "retries=%d",
                self.name,
                operation,
                outcome,
                elapsed,
                retries,
            )

    def get_secret_value(self, request: SecretRequest) -> FetchOutcome:
        """Read one secret version with GetSecretValue.

        Needs ``secretsmanager:GetSecretValue`` on the secret (and ``kms:Decrypt``).
        """
        parameters: dict[str, str] = {"SecretId": request.name}
        version_id = request.selected("version-id")
        stage = request.selected("version-stage")
        if version_id is not None:
            parameters["VersionId"] = version_id
        elif stage is not None:
            parameters["VersionStage"] = stage
        client = self.clients.client("secretsmanager", self.region_of(request.name))
        try:
            response = self._timed(
                "GetSecretValue", lambda: client.get_secret_value(**parameters)
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed outcome
            error = map_aws_error(exc, self.context("GetSecretValue", request))
            if error.code == "secret_not_found" and request.selector != (
                ("version-stage", CURRENT),
            ):
                return self._missing_version(request, error)
            return error
        return self._fetched(request, response)

    def _missing_version(self, request: SecretRequest, error: PrizmError) -> PrizmError:
        """Tell a missing stage or version from a missing secret (DescribeSecret).

        Some Secrets Manager implementations answer both with the same "can't find
        the specified secret"; a secret that DescribeSecret finds has no such
        version. Needs ``secretsmanager:DescribeSecret``; without it the error
        stays as it is.
        """
        client = self.clients.client("secretsmanager", self.region_of(request.name))
        try:
            self._timed(
                "DescribeSecret", lambda: client.describe_secret(SecretId=request.name)
            )
        except Exception:  # noqa: BLE001 - the original error stands
            return error
        return map_error_code(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret value for the version",
            self.context("GetSecretValue", request),
        )

    def request_for_version(
        self, request: SecretRequest, version_id: str
    ) -> SecretRequest:
        """Return a request for version ``version_id`` of ``request``'s secret."""
        return SecretRequest(request.name, (("version-id", version_id),))

    def pending_version(self, secret_id: str) -> str | None:
        """Return the ID of the AWSPENDING version when it is not AWSCURRENT.

        Such a version means that a rotation has started and not finished. Makes one
        DescribeSecret call, which needs ``secretsmanager:DescribeSecret``. Returns
        None when the call fails.
        """
        client = self.clients.client("secretsmanager", self.region_of(secret_id))
        try:
            described: dict[str, Any] = self._timed(
                "DescribeSecret", lambda: client.describe_secret(SecretId=secret_id)
            )
        except Exception as exc:  # noqa: BLE001 - the caller's own error stands
            error = map_aws_error(exc, self.context("DescribeSecret", secret_id))
            log.warning(
                "rotation check failed integration=%s secret=%s code=%s",
                self.name,
                secret_id,
                error.code,
            )
            return None
        versions: dict[str, list[str]] = described.get("VersionIdsToStages") or {}
        current = _version_with(versions, CURRENT)
        pending = _version_with(versions, PENDING)
        if pending is None or pending == current:
            return None
        return pending

    def batch_get_secret_value(
        self, region: str, chunk: list[SecretRequest]
    ) -> dict[SecretRequest, FetchOutcome]:
        """Read up to 20 current secrets with one BatchGetSecretValue call.

        Needs ``secretsmanager:BatchGetSecretValue`` and, per secret,
        ``secretsmanager:GetSecretValue``. Falls back to GetSecretValue per secret
        when the batch call itself is denied, and reads a secret again with
        GetSecretValue when the batch returns a version not labelled AWSCURRENT.
        """
        client = self.clients.client("secretsmanager", region)
        ids = [request.name for request in chunk]
        values: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        token: str | None = None
        try:
            while True:
                parameters: dict[str, Any] = {"SecretIdList": ids}
                if token:
                    parameters["NextToken"] = token
                response = self._timed(
                    "BatchGetSecretValue",
                    lambda: client.batch_get_secret_value(**parameters),  # noqa: B023
                )
                values += response.get("SecretValues", [])
                errors += response.get("Errors", [])
                token = response.get("NextToken")
                if not token:
                    break
        except Exception as exc:  # noqa: BLE001 - mapped below, never raised raw
            mapped = {
                request: map_aws_error(
                    exc, self.context("BatchGetSecretValue", request)
                )
                for request in chunk
            }
            # Only a denied batch call means "read one by one": a denied AssumeRole
            # inside it fails every read alike.
            failed = getattr(exc, "operation_name", None)
            if (
                mapped[chunk[0]].code == "access_denied"
                and failed == "BatchGetSecretValue"
            ):
                return self._fall_back(chunk)
            return dict(mapped)

        outcomes: dict[SecretRequest, FetchOutcome] = {}
        matched = _match_values(chunk, values)
        for request in chunk:
            value = matched.get(request)
            if value is not None and CURRENT not in (value.get("VersionStages") or ()):
                # AWS returns the AWSCURRENT versions from a batch, but moto 5.2 returns
                # the version it last created as current, which UpdateSecretVersionStage
                # does not move. Read such a secret again by naming the stage.
                outcomes[request] = self.get_secret_value(request)
                continue
            if value is not None:
                outcomes[request] = self._fetched(request, value)
                continue
            error = next((e for e in errors if e.get("SecretId") == request.name), None)
            if error is not None:
                outcomes[request] = map_error_code(
                    str(error.get("ErrorCode", "Unknown")),
                    str(error.get("Message", "")),
                    self.context("GetSecretValue", request),
                )
        missing = [request for request in chunk if request not in outcomes]
        for request in missing:
            # The batch named neither a value nor an error for this ID (a partial
            # ARN the response spells differently): read it on its own.
            outcomes[request] = self.get_secret_value(request)
        return outcomes

    def _fall_back(
        self, chunk: list[SecretRequest]
    ) -> dict[SecretRequest, FetchOutcome]:
        with self._batch_lock:
            if not self._batch_denied:
                self._batch_denied = True
                log.warning(
                    "BatchGetSecretValue is not allowed for integration=%s; using "
                    "GetSecretValue per secret from now on",
                    self.name,
                )
        with ThreadPoolExecutor(max_workers=min(8, len(chunk))) as pool:
            # Each read runs in a copy of this context, so it is counted for the
            # resolution that asked for it.
            futures = [
                pool.submit(
                    contextvars.copy_context().run, self.get_secret_value, request
                )
                for request in chunk
            ]
            results = [future.result() for future in futures]
        return dict(zip(chunk, results, strict=True))

    def _fetched(
        self, request: SecretRequest, response: Mapping[str, Any]
    ) -> FetchOutcome:
        arn = str(response.get("ARN") or request.name)
        location = self.location(request.name)
        text: str | None = response.get("SecretString")
        if text is None and response.get("SecretBinary") is not None:
            decoded = _decode_binary(response["SecretBinary"])
            if decoded is None:
                return BinaryNotText(
                    f"Secret '{request.name}' is binary and not valid UTF-8 text "
                    f"in AWS Secrets Manager ({location}, integration "
                    f"'{self.name}').",
                    hint="Store the value as a SecretString, or as UTF-8 text.",
                    integration=self.name,
                    location=location,
                )
            text = decoded
        if text is None:
            text = ""
        if len(text.encode("utf-8")) > MAX_SECRET_BYTES:
            return ValueTooLarge(
                f"Secret '{request.name}' is larger than {MAX_SECRET_BYTES} bytes in "
                f"AWS Secrets Manager ({location}, integration '{self.name}').",
                hint="Secrets Manager stores at most 64 KiB; check the secret.",
                integration=self.name,
                location=location,
            )
        stages = tuple(response.get("VersionStages") or ())
        source = SecretSource(
            integration=self.name,
            provider=self.type_name,
            secret_id=arn,
            version_id=response.get("VersionId"),
            version_stages=stages,
            created=response.get("CreatedDate"),
        )
        return FetchedSecret(document=SecretValue(text), source=source)

    def test_connection(self, secrets: Sequence[str]) -> TestReport:
        """Run Test Connection; see ``prizm.providers.aws.check``."""
        from prizm.providers.aws.check import run_checks

        return run_checks(self, secrets)

    def close(self) -> None:
        self.clients.close()


def _decode_binary(data: bytes | bytearray | memoryview) -> str | None:
    """Decode SecretBinary as UTF-8, or return None. Never raises, so no
    ``UnicodeDecodeError`` (which carries the bytes) is chained to an error."""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _version_with(versions: Mapping[str, Sequence[str]], stage: str) -> str | None:
    """Return the version labelled ``stage`` in DescribeSecret's VersionIdsToStages."""
    for version_id, stages in versions.items():
        if stage in stages:
            return str(version_id)
    return None


def _match_values(
    chunk: list[SecretRequest], values: list[dict[str, Any]]
) -> dict[SecretRequest, dict[str, Any]]:
    """Match batch entries to requests: ARNs first, then plain names.

    A request written as an ARN takes the entry with that ARN (or, for a partial
    ARN, that ARN plus the six-character suffix). A plain name then takes the one
    remaining entry with that name; when two remain (the same name in two
    accounts), it takes none and is read on its own, so a field never gets another
    account's secret.
    """
    remaining = list(values)
    matched: dict[SecretRequest, dict[str, Any]] = {}
    for request in chunk:
        if parse_secret_arn(request.name) is None:
            continue
        for value in remaining:
            arn = str(value.get("ARN", ""))
            partial = (
                arn.startswith(request.name + "-") and len(arn) == len(request.name) + 7
            )
            if arn == request.name or partial:
                matched[request] = value
                remaining.remove(value)
                break
    for request in chunk:
        if request in matched or parse_secret_arn(request.name) is not None:
            continue
        named = [value for value in remaining if value.get("Name") == request.name]
        if len(named) == 1:
            matched[request] = named[0]
    return matched


def _outcome_name(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return exc.__class__.__name__
