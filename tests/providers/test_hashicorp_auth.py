"""Logins, token renewal and re-login against a real OpenBao dev server.

Renewal is driven by real short TTLs (a 2 s token with a 4 s max TTL). The tests count
logins and renewals at the HTTP boundary, through a loopback proxy, and do not assert
durations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.proxy import FaultProxy
from prizm.errors import PrizmError
from prizm.integrations import IntegrationService
from prizm.providers.hashicorp import HashicorpProvider
from prizm.references import parse_reference
from prizm.resolver import Resolver
from prizm.secrets import ResolvedValue
from prizm.store import open_store
from tests.support.canaries import Canaries, LeakFound
from tests.support.openbao import Bao
from tests.support.tlsfiles import write_tls_files
from tests.support.tokenreview import TokenReviewServer, service_account_jwt

LOGIN = "/v1/auth/approle/login"
RENEW = "/v1/auth/token/renew-self"


def resolve_one(reference: str) -> ResolvedValue | PrizmError:
    resolver = Resolver(IntegrationService(open_store()))
    return resolver.resolve({"field": reference}).outcomes["field"]


def value_of(reference: str) -> str:
    outcome = resolve_one(reference)
    if isinstance(outcome, PrizmError):
        raise outcome
    return outcome.value.reveal()


def error_of(reference: str) -> PrizmError:
    outcome = resolve_one(reference)
    assert isinstance(outcome, PrizmError), "expected an error"
    return outcome


def provider(name: str = "hashicorp") -> HashicorpProvider:
    found = IntegrationService(open_store()).provider(name)
    assert isinstance(found, HashicorpProvider)
    return found


@pytest.fixture
def proxy(bao: Bao) -> Iterator[FaultProxy]:
    with FaultProxy(bao.address) as running:
        yield running


def add_approle(
    bao: Bao,
    role_id: str,
    secret_id: str,
    *,
    address: str | None = None,
    extra: list[str] | None = None,
) -> None:
    result = bao.add(
        auth="approle",
        address=address,
        stdin=secret_id + "\n",
        extra=["--role-id", role_id, "--secret-id-stdin", *(extra or [])],
    )
    assert result.status == 0, result.err


class TestAppRole:
    def test_login_and_read(self, bao: Bao, canaries: Canaries) -> None:
        password = canaries.make("approle")
        bao.put("db", {"password": password})
        add_approle(bao, *bao.approle())

        assert (
            value_of(f"vault://hashicorp/secret/{bao.path('db')}#password") == password
        )
        assert provider().tokens.logins == 1

    def test_login_token_is_a_canary(self, bao: Bao, canaries: Canaries) -> None:
        add_approle(bao, *bao.approle())

        token = provider().tokens.token()

        # The leak scan after every test looks for tokens from logins too.
        with pytest.raises(LeakFound):
            canaries.scan(f"text with {token} in it", "a test string")

    def test_one_login_for_many_reads(self, bao: Bao, proxy: FaultProxy) -> None:
        bao.put("db", {"k": "v"})
        add_approle(bao, *bao.approle(), address=proxy.url)

        for _ in range(5):
            assert value_of(f"vault://hashicorp/secret/{bao.path('db')}#k") == "v"

        assert proxy.counts()[LOGIN] == 1

    def test_threads_share_one_login(self, bao: Bao, proxy: FaultProxy) -> None:
        bao.put("db", {"k": "v"})
        add_approle(bao, *bao.approle(), address=proxy.url)
        shared = provider()
        request = shared.request_for(
            parse_reference(f"vault://hashicorp/secret/{bao.path('db')}")
        )
        outcomes: list[object] = []
        start = threading.Barrier(12)

        def read() -> None:
            start.wait()
            outcomes.append(shared.read(request))

        threads = [threading.Thread(target=read) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(outcomes) == 12
        assert all(not isinstance(outcome, PrizmError) for outcome in outcomes)
        assert proxy.counts()[LOGIN] == 1

    def test_renews_then_logs_in_after_max_ttl(
        self, bao: Bao, proxy: FaultProxy
    ) -> None:
        bao.put("db", {"k": "v"})
        role = bao.approle(token_ttl="2s", token_max_ttl="4s")
        add_approle(bao, *role, address=proxy.url)
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"

        deadline = time.monotonic() + 7
        reads = 0
        while time.monotonic() < deadline:
            assert value_of(reference) == "v"
            reads += 1
            time.sleep(0.4)

        counts = proxy.counts()
        assert reads >= 10
        assert counts[RENEW] >= 1
        assert counts[LOGIN] >= 2

    def test_idle_past_ttl_logs_in_again(self, bao: Bao, proxy: FaultProxy) -> None:
        bao.put("db", {"k": "v"})
        add_approle(bao, *bao.approle(token_ttl="1s"), address=proxy.url)
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"
        assert value_of(reference) == "v"

        # Nothing refreshes the token in the background while the process idles.
        time.sleep(1.5)

        assert value_of(reference) == "v"
        counts = proxy.counts()
        assert counts[LOGIN] == 2
        # The expired token is replaced before use, so it is neither renewed nor sent.
        assert counts[RENEW] == 0
        assert counts[f"/v1/secret/data/{bao.path('db')}"] == 2

    def test_revoked_token_logs_in_again(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"})
        add_approle(bao, *bao.approle())
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"
        assert value_of(reference) == "v"
        bao.root().auth.token.revoke(provider().tokens.token())

        assert value_of(reference) == "v"
        assert provider().tokens.logins == 2

    def test_wrong_secret_id(self, bao: Bao, canaries: Canaries) -> None:
        role_id, _ = bao.approle()
        add_approle(bao, role_id, canaries.make("wrong-secret-id"))

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "login_failed"
        assert "approle" in error.text
        assert "auth/approle" in error.text
        assert "namespace root" in error.text
        assert "invalid role or secret ID" in error.text
        assert error.__cause__ is None
        assert error.__context__ is None

    def test_wrong_auth_mount(self, bao: Bao) -> None:
        add_approle(bao, *bao.approle(), extra=["--auth-mount", "nowhere"])

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "login_failed"
        assert "auth/nowhere" in error.text

    def test_login_at_root_reads_child_namespace(
        self, bao: Bao, canaries: Canaries
    ) -> None:
        password = canaries.make("team-root-login")
        bao.put("db", {"password": password}, namespace="team")
        add_approle(
            bao,
            *bao.approle(),
            extra=["--namespace", "team", "--auth-namespace", "root"],
        )

        value = value_of(f"vault://hashicorp/secret/{bao.path('db')}#password")

        assert value == password

    def test_login_in_child_namespace(self, bao: Bao, canaries: Canaries) -> None:
        password = canaries.make("team-login")
        bao.put("db", {"password": password}, namespace="team")
        role = bao.approle(policies="team-reader", namespace="team")
        add_approle(bao, *role, extra=["--namespace", "team"])

        assert (
            value_of(f"vault://hashicorp/secret/{bao.path('db')}#password") == password
        )

    def test_login_in_wrong_namespace_names_it(self, bao: Bao) -> None:
        add_approle(bao, *bao.approle(), extra=["--namespace", "team"])

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "login_failed"
        assert "namespace team" in error.text


class TestUserpass:
    def test_login_and_read(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"})
        username, password = bao.userpass()
        result = bao.add(
            auth="userpass",
            stdin=password + "\n",
            extra=["--username", username, "--password-stdin"],
        )
        assert result.status == 0, result.err

        assert value_of(f"vault://hashicorp/secret/{bao.path('db')}#k") == "v"

    def test_wrong_password(self, bao: Bao, canaries: Canaries) -> None:
        username, _ = bao.userpass()
        result = bao.add(
            auth="userpass",
            stdin=canaries.make("wrong-password") + "\n",
            extra=["--username", username, "--password-stdin"],
        )
        assert result.status == 0, result.err

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "login_failed"
        assert "userpass" in error.text
        assert "--password-stdin" in error.text


class TestStaticToken:
    def test_expired_token(self, bao: Bao) -> None:
        token = bao.token(ttl="1s", renewable=False)
        bao.add_token(token)
        time.sleep(1.5)

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "token_expired"
        assert "--token-stdin" in error.text
        assert "approle" in error.text
        assert "permission denied" not in error.text

    def test_revoked_token(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"})
        token = bao.token()
        bao.add_token(token)
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"
        assert value_of(reference) == "v"
        bao.root().auth.token.revoke(token)

        assert error_of(reference).code == "token_expired"

    def test_renewable_token_is_renewed(self, bao: Bao, proxy: FaultProxy) -> None:
        bao.put("db", {"k": "v"})
        token = bao.token(ttl="2s", explicit_max_ttl="30s", renewable=True)
        bao.add_token(token, address=proxy.url)
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"

        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            assert value_of(reference) == "v"
            time.sleep(0.4)

        assert proxy.counts()[RENEW] >= 1

    def test_missing_policy_is_access_denied(self, bao: Bao) -> None:
        bao.root().sys.create_or_update_policy(
            "other-only", 'path "secret/data/other" { capabilities = ["read"] }'
        )
        bao.put("db", {"k": "v"})
        bao.add_token(bao.token(policies=["other-only"]))

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "access_denied"
        assert f'path "secret/data/{bao.path("db")}"' in error.text
        assert "403" in error.text

    def test_no_policy_on_mount_is_explained(self, bao: Bao) -> None:
        bao.root().sys.create_or_update_policy(
            "kv1-only", 'path "kv1/*" { capabilities = ["read"] }'
        )
        bao.add_token(bao.token(policies=["kv1-only"]))

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "secret_not_found"
        assert "policies grant nothing below it" in error.text


class TestKubernetes:
    def test_missing_jwt_file(self, bao: Bao, tmp_path: Path) -> None:
        missing = tmp_path / "no-token"
        result = bao.add(
            auth="kubernetes",
            extra=["--kubernetes-role", "prizm", "--jwt-file", str(missing)],
        )
        assert result.status == 0, result.err

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "login_failed"
        assert str(missing) in error.text
        assert "kubernetes" in error.text
        assert "could not be read (No such file or directory)" in error.text
        # The file is read before any request, so no message comes from Vault.
        assert "Vault:" not in error.text

    @pytest.fixture
    def review(self, bao: Bao, tmp_path: Path) -> Iterator[TokenReviewServer]:
        """A TokenReview stand-in, and a Kubernetes auth mount and role that use it.

        The mount is ``k8s-<prefix>`` and the role ``prizm``, bound to the service
        account default/prizm.
        """
        mount = f"k8s-{bao.prefix}"
        root = bao.root()
        with TokenReviewServer("default", "prizm") as running:
            root.sys.enable_auth_method("kubernetes", path=mount)
            root.auth.kubernetes.configure(
                kubernetes_host=running.url,
                # Required by the auth method, unused over http.
                kubernetes_ca_cert=Path(write_tls_files(tmp_path).ca).read_text(),
                disable_local_ca_jwt=True,
                mount_point=mount,
            )
            root.auth.kubernetes.create_role(
                name="prizm",
                bound_service_account_names=["prizm"],
                bound_service_account_namespaces=["default"],
                policies=["reader"],
                mount_point=mount,
            )
            yield running

    def add_kubernetes(
        self, bao: Bao, jwt_file: Path, address: str | None = None
    ) -> None:
        result = bao.add(
            auth="kubernetes",
            address=address,
            extra=[
                "--kubernetes-role",
                "prizm",
                "--jwt-file",
                str(jwt_file),
                "--auth-mount",
                f"k8s-{bao.prefix}",
            ],
        )
        assert result.status == 0, result.err

    def test_login_through_token_review(
        self,
        bao: Bao,
        tmp_path: Path,
        canaries: Canaries,
        review: TokenReviewServer,
    ) -> None:
        password = canaries.make("k8s")
        bao.put("db", {"password": password})
        jwt_file = tmp_path / "token"
        jwt_file.write_text(service_account_jwt("default", "prizm", review.uid))
        self.add_kubernetes(bao, jwt_file)

        value = value_of(f"vault://hashicorp/secret/{bao.path('db')}#password")

        assert value == password
        assert review.reviews >= 1

    def test_rotated_jwt_read_at_next_login(
        self,
        bao: Bao,
        tmp_path: Path,
        canaries: Canaries,
        review: TokenReviewServer,
        proxy: FaultProxy,
    ) -> None:
        bao.put("db", {"k": "v"})
        first = service_account_jwt("default", "prizm", review.uid)
        second = service_account_jwt("default", "prizm", review.uid)
        canaries.watch(first)
        canaries.watch(second)
        jwt_file = tmp_path / "token"
        jwt_file.write_text(first)
        self.add_kubernetes(bao, jwt_file, address=proxy.url)
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"
        assert value_of(reference) == "v"

        # The kubelet replaces a projected token before it expires.
        jwt_file.write_text(second)
        bao.root().auth.token.revoke(provider().tokens.token())

        assert value_of(reference) == "v"
        logins = proxy.bodies(f"/v1/auth/k8s-{bao.prefix}/login")
        assert len(logins) == 2
        assert first in logins[0]
        assert second in logins[1]
