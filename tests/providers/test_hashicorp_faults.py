"""Vault failures: a sealed server, rate limits, no server, a hanging server, TLS.

Each fault comes from a real component: a sealed OpenBao, a rate limit quota, a
closed port, a loopback socket that accepts and never answers, and an OpenBao
serving TLS with its own CA. The error-mapping guard feeds every hvac and requests
exception class to the mapper.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import hvac.exceptions
import pytest
import requests.exceptions

from devtools.proxy import FaultProxy
from devtools.servers import free_port
from prizm.errors import PrizmError
from prizm.integrations import IntegrationService
from prizm.providers.hashicorp.errors import (
    LoginFailure,
    TokenRejected,
    VaultErrorContext,
    map_vault_error,
)
from prizm.resolver import Resolver
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import run_cli
from tests.support.openbao import Bao, OpenBaoServer


def error_of(reference: str) -> PrizmError:
    resolver = Resolver(IntegrationService(open_store()))
    outcome = resolver.resolve({"field": reference}).outcomes["field"]
    assert isinstance(outcome, PrizmError), "expected an error"
    return outcome


def value_of(reference: str) -> str:
    resolver = Resolver(IntegrationService(open_store()))
    outcome = resolver.resolve({"field": reference}).outcomes["field"]
    if isinstance(outcome, PrizmError):
        raise outcome
    return outcome.value.reveal()


def assert_not_chained(error: PrizmError) -> None:
    assert error.__cause__ is None
    assert error.__context__ is None


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    listener.close()


class TestServerFaults:
    def test_sealed_server(self, bao: Bao, sealed_openbao: OpenBaoServer) -> None:
        bao.add_token(sealed_openbao.root_token, address=sealed_openbao.address)

        error = error_of("vault://hashicorp/secret/app#k")

        assert error.code == "vault_sealed"
        assert "sealed" in error.text
        assert "unseal" in error.text
        assert sealed_openbao.address in error.text

    def test_rate_limit_quota_is_throttled(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"})
        proxy = FaultProxy(bao.address).start()
        bao.add_token(address=proxy.url)
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"
        quota = f"/v1/sys/quotas/rate-limit/{bao.prefix}"
        bao.root().adapter.post(
            quota,
            json={
                "path": f"secret/data/{bao.path('db')}",
                "rate": 1,
                "interval": "60s",
            },
        )
        try:
            first = value_of(reference)
            error = error_of(reference)
        finally:
            bao.root().adapter.delete(quota)
            proxy.stop()

        assert first == "v"
        assert error.code == "throttled"
        assert "after 3 attempts" in error.text
        assert "429" in error.text
        # One read within the quota, then three attempts that Vault throttled.
        assert proxy.counts()[f"/v1/secret/data/{bao.path('db')}"] == 4

    def test_nothing_listening(self, bao: Bao) -> None:
        address = f"http://127.0.0.1:{free_port()}"
        bao.add_token(address=address)

        error = error_of("vault://hashicorp/secret/app#k")

        assert error.code == "endpoint_unreachable"
        assert address in error.text
        assert_not_chained(error)

    def test_hanging_server_times_out(self, bao: Bao, hanging_server: str) -> None:
        bao.add_token(address=hanging_server, extra=["--timeout", "0.5"])

        error = error_of("vault://hashicorp/secret/app#k")

        assert error.code == "timeout"
        assert "0.5 s" in error.text
        assert "--timeout" in error.text
        assert_not_chained(error)

    def test_login_to_hanging_server_times_out(
        self, bao: Bao, hanging_server: str, canaries: Canaries
    ) -> None:
        result = bao.add(
            auth="approle",
            address=hanging_server,
            stdin=canaries.make("secret-id") + "\n",
            extra=["--role-id", "r", "--secret-id-stdin", "--timeout", "0.5"],
        )
        assert result.status == 0, result.err

        error = error_of("vault://hashicorp/secret/app#k")

        assert error.code == "timeout"
        assert_not_chained(error)


class TestTls:
    @pytest.fixture
    def secret(self, openbao_tls: OpenBaoServer) -> str:
        openbao_tls.client().secrets.kv.v2.create_or_update_secret(
            path="tls/app", secret={"k": "over-tls"}, mount_point="secret"
        )
        return "vault://hashicorp/secret/tls/app#k"

    def add(self, server: OpenBaoServer, *extra: str) -> None:
        result = run_cli(
            [
                "integration",
                "add",
                "hashicorp",
                "--address",
                server.address,
                "--token-stdin",
                *extra,
            ],
            stdin=server.root_token + "\n",
        )
        assert result.status == 0, result.err

    def test_with_ca_certificate(self, openbao_tls: OpenBaoServer, secret: str) -> None:
        self.add(openbao_tls, "--ca-cert", openbao_tls.ca_cert)

        assert value_of(secret) == "over-tls"

    def test_unknown_ca_fails_handshake(
        self, openbao_tls: OpenBaoServer, secret: str
    ) -> None:
        self.add(openbao_tls)

        error = error_of(secret)

        assert error.code == "endpoint_unreachable"
        assert "TLS handshake" in error.text
        assert "--ca-cert" in error.text
        assert_not_chained(error)

    def test_skip_verify(self, openbao_tls: OpenBaoServer, secret: str) -> None:
        self.add(openbao_tls, "--tls-skip-verify")

        assert value_of(secret) == "over-tls"

    def test_ca_file_removed_later(
        self, openbao_tls: OpenBaoServer, secret: str, tmp_path: Path
    ) -> None:
        copy = tmp_path / "ca.pem"
        copy.write_text(Path(openbao_tls.ca_cert).read_text())
        self.add(openbao_tls, "--ca-cert", str(copy))
        copy.unlink()

        error = error_of(secret)

        assert error.code == "invalid_integration"
        assert "TLS file" in error.text


CONTEXT = VaultErrorContext(
    integration="hashicorp",
    address="https://vault.example.com:8200",
    namespace="team",
    operation="read",
    path="secret/app",
    api_path="secret/data/app",
    auth="approle",
    auth_mount="approle",
    auth_namespace="root",
    timeout=5.0,
    attempts=3,
)

HVAC_CODES = {
    hvac.exceptions.InvalidRequest: "service_error",
    hvac.exceptions.Unauthorized: "access_denied",
    hvac.exceptions.Forbidden: "access_denied",
    hvac.exceptions.InvalidPath: "secret_not_found",
    hvac.exceptions.UnsupportedOperation: "service_error",
    hvac.exceptions.PreconditionFailed: "service_error",
    hvac.exceptions.RateLimitExceeded: "throttled",
    hvac.exceptions.InternalServerError: "service_error",
    hvac.exceptions.VaultNotInitialized: "service_error",
    hvac.exceptions.VaultDown: "service_error",
    hvac.exceptions.UnexpectedError: "service_error",
    hvac.exceptions.BadGateway: "service_error",
    hvac.exceptions.ParamValidationError: "invalid_reference",
    hvac.exceptions.VaultError: "service_error",
}

REQUESTS_CODES = {
    requests.exceptions.SSLError: "endpoint_unreachable",
    requests.exceptions.ConnectTimeout: "timeout",
    requests.exceptions.ReadTimeout: "timeout",
    requests.exceptions.Timeout: "timeout",
    requests.exceptions.ConnectionError: "endpoint_unreachable",
    requests.exceptions.ProxyError: "endpoint_unreachable",
    requests.exceptions.ChunkedEncodingError: "endpoint_unreachable",
    requests.exceptions.ContentDecodingError: "endpoint_unreachable",
    requests.exceptions.TooManyRedirects: "endpoint_unreachable",
    requests.exceptions.InvalidURL: "invalid_integration",
    requests.exceptions.MissingSchema: "invalid_integration",
    requests.exceptions.RequestException: "endpoint_unreachable",
}


def _all_subclasses(base: type[BaseException]) -> set[type[BaseException]]:
    found = {base}
    for subclass in base.__subclasses__():
        found |= _all_subclasses(subclass)
    return found


class TestErrorMapping:
    def test_every_hvac_exception_is_listed(self) -> None:
        known = _all_subclasses(hvac.exceptions.VaultError)

        assert known <= set(HVAC_CODES), "map and list the new hvac exception"

    @pytest.mark.parametrize(
        ("exception", "code"),
        list(HVAC_CODES.items()),
        ids=[cls.__name__ for cls in HVAC_CODES],
    )
    def test_hvac_exception_mapped(
        self, exception: type[hvac.exceptions.VaultError], code: str
    ) -> None:
        error = map_vault_error(
            exception("boom", errors=["boom"], method="get", url="/v1/x"), CONTEXT
        )

        assert error.code == code
        assert not error.message.startswith("An unexpected")
        assert "vault.example.com" in error.text
        assert_not_chained(error)

    @pytest.mark.parametrize(
        ("exception", "code"),
        list(REQUESTS_CODES.items()),
        ids=[cls.__name__ for cls in REQUESTS_CODES],
    )
    def test_requests_exception_mapped(
        self, exception: type[requests.exceptions.RequestException], code: str
    ) -> None:
        error = map_vault_error(exception("failed"), CONTEXT)

        assert error.code == code
        assert_not_chained(error)

    def test_sealed_503(self) -> None:
        exc = hvac.exceptions.VaultDown(errors=["Vault is sealed"])

        assert map_vault_error(exc, CONTEXT).code == "vault_sealed"

    def test_token_rejected_is_token_expired(self) -> None:
        error = map_vault_error(TokenRejected(), CONTEXT)

        assert error.code == "token_expired"
        assert "--token-stdin" in error.text

    def test_login_failure_names_method(self) -> None:
        exc = LoginFailure(hvac.exceptions.InvalidRequest(errors=["invalid role"]))

        error = map_vault_error(exc, CONTEXT)

        assert error.code == "login_failed"
        assert "approle at auth/approle in namespace root" in error.text

    def test_namespace_not_found_without_path(self) -> None:
        context = dataclasses.replace(CONTEXT, operation="login", path=None)
        exc = hvac.exceptions.InvalidPath(errors=["namespace not found"])

        error = map_vault_error(exc, context)

        assert error.message.startswith("The namespace 'team' was not found in Vault")
        assert "the request" not in error.text

    def test_access_denied_without_path(self) -> None:
        context = dataclasses.replace(CONTEXT, operation="mount listing", path=None)

        error = map_vault_error(hvac.exceptions.Forbidden(errors=["denied"]), context)

        assert error.code == "access_denied"
        assert "may not perform mount listing in Vault" in error.text
        assert "the request" not in error.text

    def test_local_login_failure_not_from_vault(self) -> None:
        exc = LoginFailure("the service-account JWT file /none could not be read")

        error = map_vault_error(exc, CONTEXT)

        assert error.code == "login_failed"
        assert "/none could not be read" in error.text
        assert "Vault:" not in error.text

    def test_login_transport_failure_keeps_its_code(self) -> None:
        exc = LoginFailure(requests.exceptions.ConnectionError("refused"))

        assert map_vault_error(exc, CONTEXT).code == "endpoint_unreachable"

    def test_vault_message_scrubbed(self, canaries: Canaries) -> None:
        from prizm.secrets import SecretValue

        value = canaries.make("echoed")
        SecretValue(value)
        exc = hvac.exceptions.InternalServerError(errors=[f"bad input {value}"])

        error = map_vault_error(exc, CONTEXT)

        assert value not in error.text
        assert "********" in error.text


class TestClientCertificate:
    @pytest.fixture
    def secret(self, openbao_mtls: OpenBaoServer) -> str:
        openbao_mtls.client().secrets.kv.v2.create_or_update_secret(
            path="mtls/app", secret={"k": "with-client-cert"}, mount_point="secret"
        )
        return "vault://hashicorp/secret/mtls/app#k"

    def add(self, server: OpenBaoServer, *extra: str) -> None:
        assert server.files is not None
        result = run_cli(
            [
                "integration",
                "add",
                "hashicorp",
                "--address",
                server.mtls_address,
                "--token-stdin",
                "--ca-cert",
                server.files.ca,
                *extra,
            ],
            stdin=server.root_token + "\n",
        )
        assert result.status == 0, result.err

    def test_client_certificate_sent(
        self, openbao_mtls: OpenBaoServer, secret: str
    ) -> None:
        assert openbao_mtls.files is not None
        files = openbao_mtls.files
        self.add(
            openbao_mtls,
            "--client-cert",
            files.client_cert,
            "--client-key",
            files.client_key,
        )

        assert value_of(secret) == "with-client-cert"

    def test_without_client_certificate(
        self, openbao_mtls: OpenBaoServer, secret: str
    ) -> None:
        self.add(openbao_mtls)

        error = error_of(secret)

        assert error.code == "endpoint_unreachable"
        assert_not_chained(error)
