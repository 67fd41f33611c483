"""The HashiCorp Vault and OpenBao provider: references to requests, and reads.

A reference names ``<mount>/<path>``. The provider finds the mount and its KV version
(``prizm.providers.hashicorp.mounts``), then reads

* KV v2: ``GET <mount>/data/<path>[?version=N]``, the fields under ``data.data``;
* KV v1: ``GET <mount>/<path>``, the fields under ``data``.

The fields are handed to key lookup as compact JSON text. On a KV v2 mount a leading
``data/`` after the mount is the API's own segment, so ``secret/data/app`` reads the
same secret as ``secret/app``. Vault has no batch read, so each secret is one call,
and the resolver runs the calls concurrently.

Permissions: ``read`` on ``<mount>/data/<path>`` (KV v2) or ``<mount>/<path>`` (KV
v1), and the ``default`` policy for the token and mount lookups.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import hvac.exceptions

from prizm.errors import InvalidReference, PrizmError, SecretNotFound
from prizm.providers.base import (
    FetchCall,
    FetchOutcome,
    SecretRequest,
    TestReport,
    too_large,
)
from prizm.providers.hashicorp.auth import TokenManager
from prizm.providers.hashicorp.connection import MAX_ATTEMPTS, VaultConnection
from prizm.providers.hashicorp.errors import VaultErrorContext, map_vault_error
from prizm.providers.hashicorp.mounts import Mount, MountTable
from prizm.providers.hashicorp.settings import HashicorpSettings
from prizm.references import Reference
from prizm.secrets import FetchedSecret, SecretSource, SecretValue

__all__ = ["HashicorpProvider", "SecretPath"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PATH_LENGTH = 1024
VERSION = re.compile(r"[1-9][0-9]{0,9}")
FORM = "vault://<integration>/<mount>/<path>[?version=N][#<key>]"


class SecretPath:
    """A secret's location once its mount is known: mount, path and API path."""

    def __init__(self, mount: Mount, relative: str) -> None:
        self.mount = mount
        self.relative = relative

    @property
    def logical(self) -> str:
        """The path as ``bao kv get`` takes it: ``secret/app``."""
        return self.mount.path + self.relative

    @property
    def api_path(self) -> str:
        """The path that is read and that a policy must allow: ``secret/data/app``."""
        if self.mount.kv_version == 2:
            return f"{self.mount.path}data/{self.relative}"
        return self.logical


class HashicorpProvider:
    """Reads KV secrets from HashiCorp Vault or OpenBao for one integration."""

    type_name: ClassVar[str] = "hashicorp"

    def __init__(self, name: str, settings: HashicorpSettings) -> None:
        self.name = name
        self.settings = settings
        self.connection = VaultConnection(name, settings)
        self.tokens = TokenManager(settings, self.connection)
        self.mounts = MountTable(self._list_mounts, self._lookup_mount)

    def location(self, name: str | None = None) -> str:
        return self.settings.location()

    def request_for(self, reference: Reference) -> SecretRequest:
        """Validate the path and ``version`` option of ``reference``."""
        path = reference.name
        if len(path) > MAX_PATH_LENGTH:
            raise self._invalid(
                reference, f"the path is longer than {MAX_PATH_LENGTH} characters"
            )
        segments = path.split("/")
        if len(segments) < 2:
            raise self._invalid(
                reference, "the path must start with the mount, such as secret/app"
            )
        if any(segment in ("", ".", "..") for segment in segments):
            raise self._invalid(reference, "the path has an empty, '.' or '..' segment")
        for option in ("version-stage", "version-id"):
            if reference.option(option) is not None:
                raise self._invalid(
                    reference, f"Vault integrations take ?version=N, not {option}"
                )
        version = reference.option("version")
        if version is None:
            return SecretRequest(path)
        if not VERSION.fullmatch(version):
            raise self._invalid(
                reference, f"version {version!r} is not a positive whole number"
            )
        return SecretRequest(path, (("version", version),))

    def _invalid(self, reference: Reference, problem: str) -> InvalidReference:
        return InvalidReference(
            f"Invalid reference {reference}: {problem}.",
            hint=f"Write it as {FORM}, for example "
            f"vault://{self.name}/secret/app#password.",
            reference=str(reference),
            integration=self.name,
            location=self.location(),
        )

    def context(
        self,
        operation: str,
        request: SecretRequest | None = None,
        api_path: str | None = None,
    ) -> VaultErrorContext:
        """Return what an error of ``operation`` on ``request`` names."""
        settings = self.settings
        return VaultErrorContext(
            integration=self.name,
            address=settings.address,
            namespace=settings.namespace,
            operation=operation,
            path=request.name if request else None,
            api_path=api_path,
            version=request.selected("version") if request else None,
            auth=settings.auth,
            auth_mount=settings.mount,
            auth_namespace=settings.login_namespace or "root",
            timeout=settings.timeout,
            attempts=MAX_ATTEMPTS,
        )

    def policy_note(self, name: str) -> str | None:
        """Explain the data/ rule when a refused path has a data segment."""
        if "data" not in name.split("/")[1:]:
            return None
        return (
            "A path with a data/ segment must match the allowed patterns both with "
            "and without that segment."
        )

    def policy_names(self, name: str) -> list[str]:
        """Return every path ``name`` may read, for the allowed-secrets check.

        Which segment is a KV v2 mount's ``data/`` is known only once the mount
        table is read, so the name is also checked with each ``data`` segment
        removed, and every form must be allowed.
        """
        segments = name.split("/")
        forms = [name]
        for index, segment in enumerate(segments[1:], start=1):
            if segment == "data":
                forms.append("/".join(segments[:index] + segments[index + 1 :]))
        return forms

    def plan_fetch(
        self, requests: Sequence[SecretRequest], *, fresh: bool = False
    ) -> list[FetchCall]:
        """Return one call per secret, because Vault has no batch read.

        Nothing is cached across runs, so ``fresh`` changes nothing here.
        """
        return [self._call(request) for request in requests]

    def _call(self, request: SecretRequest) -> FetchCall:
        def call() -> Mapping[SecretRequest, FetchOutcome]:
            return {request: self.read(request)}

        return call

    def authorized(self, operation: str, function: Callable[[Any], T]) -> T:
        """Call ``function(client)`` with a usable token, once more after a re-login.

        A 403 is followed by a token lookup. When Vault still accepts the token, the
        403 is a missing policy and is raised. Otherwise the call is repeated once
        with a new token, unless the token is static, which raises ``TokenRejected``.
        """
        token = self.tokens.token()
        client = self.connection.client
        try:
            return self.connection.call(operation, lambda: function(client))
        except hvac.exceptions.Forbidden:
            if self.tokens.is_current(token) and self.tokens.is_valid():
                raise
        # NOTE: a token that lacks the default policy cannot look itself up, so a
        # missing read policy also costs one new login here before it is reported.
        self.tokens.discard(token)
        self.tokens.token()
        return self.connection.call(operation, lambda: function(client))

    def _list_mounts(self) -> dict[str, Any]:
        """List the visible secrets engines (``GET sys/internal/ui/mounts``)."""
        response = self.authorized(
            "list mounts",
            lambda client: client.adapter.get("/v1/sys/internal/ui/mounts"),
        )
        data = response.get("data") if isinstance(response, dict) else None
        engines = data.get("secret") if isinstance(data, dict) else None
        return engines if isinstance(engines, dict) else {}

    def _lookup_mount(self, path: str) -> dict[str, Any]:
        """Find the mount of one path (``GET sys/internal/ui/mounts/<path>``)."""
        response = self.authorized(
            "look up mount",
            lambda client: client.adapter.get(
                f"/v1/sys/internal/ui/mounts/{quote(path)}"
            ),
        )
        data = response.get("data") if isinstance(response, dict) else None
        return data if isinstance(data, dict) else {}

    def locate(self, request: SecretRequest) -> SecretPath | PrizmError:
        """Find the mount of ``request`` and the path below it, or the error."""
        context = self.context("mount lookup", request)
        try:
            mount = self.mounts.find(request.name)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed outcome
            return map_vault_error(exc, context)
        if mount is None:
            return SecretNotFound(
                f"Secret '{request.name}' was not found {context.where()}, because no "
                "secrets engine that the token can see is mounted at a prefix of its "
                "path. The mount does not exist, or the token's policies grant "
                "nothing below it.",
                hint="Start the reference with the mount path (bao secrets list "
                "shows them), check the integration's namespace, and check that the "
                "token's policy allows read on the secret.",
                **context.fields(),
            )
        if not mount.is_kv:
            return InvalidReference(
                f"'{request.name}' is under the {mount.type} secrets engine at "
                f"'{mount.path}', not a KV engine, {context.where()}.",
                hint="Prizm reads KV v1 and KV v2 secrets; point the reference at a "
                "KV mount.",
                **context.fields(),
            )
        relative = request.name[len(mount.path) :]
        if mount.kv_version == 2 and (relative + "/").startswith("data/"):
            # The reference repeats the API's own segment, so read <mount>/data/<path>
            # and never <mount>/data/data/<path>.
            relative = relative[len("data/") :] if relative != "data" else ""
            log.debug(
                "vault path normalised integration=%s path=%s mount=%s",
                self.name,
                request.name,
                mount.path,
            )
        if relative == "":
            return InvalidReference(
                f"'{request.name}' names the mount '{mount.path}' but no secret in it "
                f"{context.where()}.",
                hint=f"Add the secret's path after the mount: {mount.path}<path>.",
                **context.fields(),
            )
        return SecretPath(mount, relative)

    def read(self, request: SecretRequest) -> FetchOutcome:
        """Read one secret with the API calls that the module docstring lists."""
        located = self.locate(request)
        if isinstance(located, PrizmError):
            return located
        version = request.selected("version")
        context = self.context("read", request, located.api_path)
        if located.mount.kv_version == 1 and version is not None:
            return InvalidReference(
                f"Secret '{request.name}' is on the KV v1 mount "
                f"'{located.mount.path}', which keeps no versions, so "
                f"?version={version} cannot be read {context.where()}.",
                hint="Remove ?version from the reference.",
                **context.fields(),
            )
        try:
            response = self.authorized(
                "read", lambda client: _read(client, located, version)
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed outcome
            return map_vault_error(exc, context)
        return self._fetched(request, located, response)

    def _fetched(
        self, request: SecretRequest, located: SecretPath, response: Any
    ) -> FetchOutcome:
        body = response.get("data") if isinstance(response, dict) else None
        metadata: dict[str, Any] = {}
        fields: Any = body
        if located.mount.kv_version == 2 and isinstance(body, dict):
            fields = body.get("data")
            metadata = body.get("metadata") or {}
        if not isinstance(fields, dict):
            context = self.context("read", request, located.api_path)
            return SecretNotFound(
                f"Vault returned no fields for secret '{request.name}' "
                f"{context.where()}.",
                hint="Write the secret's fields again, for example with: bao kv put "
                f"{located.logical} key=value.",
                **context.fields(),
            )
        document = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        context = self.context("read", request, located.api_path)
        oversized = too_large(
            document, f"'{request.name}'", context.where(), **context.fields()
        )
        if oversized is not None:
            return oversized
        secret_id = located.logical
        if self.settings.namespace:
            secret_id = f"{self.settings.namespace}/{secret_id}"
        version = metadata.get("version")
        source = SecretSource(
            integration=self.name,
            provider=self.type_name,
            secret_id=secret_id,
            version_id=None if version is None else str(version),
            created=_parse_time(metadata.get("created_time")),
        )
        return FetchedSecret(document=SecretValue(document), source=source)

    def test_connection(self, secrets: Sequence[str]) -> TestReport:
        """Run Test Connection, as ``prizm.providers.hashicorp.check`` describes."""
        from prizm.providers.hashicorp.check import run_checks

        return run_checks(self, secrets)

    def close(self) -> None:
        self.connection.close()


def _read(client: Any, located: SecretPath, version: str | None) -> Any:
    mount_point = located.mount.path.rstrip("/")
    if located.mount.kv_version == 2:
        return client.secrets.kv.v2.read_secret_version(
            path=located.relative,
            version=None if version is None else int(version),
            mount_point=mount_point,
            raise_on_deleted_version=True,
        )
    return client.secrets.kv.v1.read_secret(
        path=located.relative, mount_point=mount_point
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
