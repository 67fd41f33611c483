"""Resolving references through a real OpenBao dev server: KV v1 and v2, versions."""

from __future__ import annotations

import json

import pytest

from devtools.proxy import Fault, FaultProxy
from prizm.errors import PrizmError
from prizm.integrations import IntegrationService
from prizm.resolver import Resolver
from prizm.secrets import ResolvedValue
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.openbao import Bao


def resolve(references: dict[str, str]) -> dict[str, ResolvedValue | PrizmError]:
    resolver = Resolver(IntegrationService(open_store()))
    return dict(resolver.resolve(references).outcomes)


def resolved(reference: str) -> ResolvedValue:
    outcome = resolve({"field": reference})["field"]
    if isinstance(outcome, PrizmError):
        raise outcome
    return outcome


def value_of(reference: str) -> str:
    return resolved(reference).value.reveal()


def error_of(reference: str) -> PrizmError:
    outcome = resolve({"field": reference})["field"]
    assert isinstance(outcome, PrizmError), "expected an error"
    return outcome


MOUNTS = "/v1/sys/internal/ui/mounts"
FORBIDDEN_LISTING = Fault(
    status=403,
    body='{"errors": ["permission denied"]}',
    headers={"Content-Type": "application/json"},
    operation=MOUNTS,
)


@pytest.fixture
def integration(bao: Bao) -> str:
    return bao.add_token()


class TestKvVersion2:
    def test_key_of_secret(
        self, bao: Bao, integration: str, canaries: Canaries
    ) -> None:
        password = canaries.make("password")
        bao.put("db", {"password": password, "user": "app"})

        assert (
            value_of(f"vault://hashicorp/secret/{bao.path('db')}#password") == password
        )

    def test_whole_secret_is_compact_json(
        self, bao: Bao, integration: str, canaries: Canaries
    ) -> None:
        password = canaries.make("whole")
        bao.put("db", {"user": "app", "password": password, "port": 5432})

        text = value_of(f"vault://hashicorp/secret/{bao.path('db')}")

        assert json.loads(text) == {"user": "app", "password": password, "port": 5432}
        assert ", " not in text.replace(password, "")
        assert ": " not in text.replace(password, "")

    def test_oversized_secret_bounded(self, bao: Bao, integration: str) -> None:
        bao.put("huge", {"blob": "x" * 65536})

        error = error_of(f"vault://hashicorp/secret/{bao.path('huge')}#blob")

        assert error.code == "value_too_large"
        assert "65536 bytes" in error.message

    def test_nested_key_and_types(self, bao: Bao, integration: str) -> None:
        bao.put("typed", {"port": 5432, "ssl": True, "extra": {"a": [1, "b"]}})
        base = f"vault://hashicorp/secret/{bao.path('typed')}"

        assert value_of(f"{base}#port") == "5432"
        assert value_of(f"{base}#ssl") == "true"
        assert value_of(f"{base}#extra") == '{"a":[1,"b"]}'
        assert value_of(f"{base}#extra.a") == '[1,"b"]'

    def test_source_records_path_and_version(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"k": "1"})
        bao.put("db", {"k": "2"})

        source = resolved(f"vault://hashicorp/secret/{bao.path('db')}#k").source

        assert source.secret_id == f"secret/{bao.path('db')}"
        assert source.version_id == "2"
        assert source.provider == "hashicorp"
        assert source.created is not None

    def test_pinned_version(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"k": "first"})
        bao.put("db", {"k": "second"})
        base = f"vault://hashicorp/secret/{bao.path('db')}"

        outcomes = resolve({"now": f"{base}#k", "before": f"{base}?version=1#k"})

        now, before = outcomes["now"], outcomes["before"]
        assert isinstance(now, ResolvedValue)
        assert isinstance(before, ResolvedValue)
        assert now.value.reveal() == "second"
        assert before.value.reveal() == "first"
        assert before.source.version_id == "1"

    def test_missing_version(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"k": "v"})

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}?version=7#k")

        assert error.code == "version_not_found"
        assert "Version 7" in error.text or "version 7" in error.text

    def test_data_segment_is_normalised(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"k": "v"})

        value = resolved(f"vault://hashicorp/secret/data/{bao.path('db')}#k")

        assert value.value.reveal() == "v"
        assert value.source.secret_id == f"secret/{bao.path('db')}"

    def test_secret_named_data_needs_two_segments(
        self, bao: Bao, integration: str
    ) -> None:
        bao.root().secrets.kv.v2.create_or_update_secret(
            path=f"data/{bao.prefix}", secret={"k": "inner"}, mount_point="secret"
        )

        assert value_of(f"vault://hashicorp/secret/data/data/{bao.prefix}#k") == "inner"

    def test_two_segment_mount_longest_prefix(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"k": "prod"}, mount="org/prod")

        assert value_of(f"vault://hashicorp/org/prod/{bao.path('db')}#k") == "prod"

    def test_soft_deleted_version(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"k": "1"})
        bao.put("db", {"k": "2"})
        bao.root().secrets.kv.v2.delete_latest_version_of_secret(
            path=bao.path("db"), mount_point="secret"
        )

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "secret_deleted"
        assert "version 2 of secret" in error.text
        assert "undelete" in error.text

    def test_destroyed_version(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"k": "1"})
        bao.put("db", {"k": "2"})
        bao.root().secrets.kv.v2.destroy_secret_versions(
            path=bao.path("db"), versions=[1], mount_point="secret"
        )

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}?version=1#k")

        assert error.code == "secret_deleted"
        assert "destroyed" in error.text
        assert value_of(f"vault://hashicorp/secret/{bao.path('db')}#k") == "2"


class TestKvVersion1:
    def test_key_of_secret(
        self, bao: Bao, integration: str, canaries: Canaries
    ) -> None:
        password = canaries.make("v1")
        bao.put("db", {"password": password}, mount="kv1")

        value = resolved(f"vault://hashicorp/kv1/{bao.path('db')}#password")

        assert value.value.reveal() == password
        assert value.source.secret_id == f"kv1/{bao.path('db')}"
        assert value.source.version_id is None

    def test_data_segment_is_a_path_on_v1(self, bao: Bao, integration: str) -> None:
        bao.root().secrets.kv.v1.create_or_update_secret(
            path=f"data/{bao.prefix}", secret={"k": "v1-data"}, mount_point="kv1"
        )

        assert value_of(f"vault://hashicorp/kv1/data/{bao.prefix}#k") == "v1-data"

    def test_version_rejected(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"k": "v"}, mount="kv1")

        error = error_of(f"vault://hashicorp/kv1/{bao.path('db')}?version=1#k")

        assert error.code == "invalid_reference"
        assert "KV v1" in error.text
        assert "Remove ?version" in error.text

    def test_missing_secret(self, bao: Bao, integration: str) -> None:
        error = error_of(f"vault://hashicorp/kv1/{bao.path('missing')}#k")

        assert error.code == "secret_not_found"


class TestLookupErrors:
    def test_missing_secret_explains_404(self, bao: Bao, integration: str) -> None:
        reference = f"vault://hashicorp/secret/{bao.path('missing')}#k"

        error = error_of(reference)

        assert error.code == "secret_not_found"
        assert reference in error.text
        assert bao.address in error.text
        assert "integration 'hashicorp'" in error.text
        assert "permission problems" in error.text
        assert f"secret/data/{bao.path('missing')}" in error.text

    def test_missing_key_lists_keys(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"user": "u", "password": "p"})

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#pasword")

        assert error.code == "key_not_found"
        assert "'password', 'user'" in error.text

    def test_unknown_mount(self, bao: Bao, integration: str) -> None:
        error = error_of(f"vault://hashicorp/nomount/{bao.path('db')}#k")

        assert error.code == "secret_not_found"
        assert "no secrets engine" in error.text

    def test_mount_only_is_invalid(self, bao: Bao, integration: str) -> None:
        error = error_of("vault://hashicorp/secret/data#k")

        assert error.code == "invalid_reference"

    def test_non_kv_engine_rejected(self, bao: Bao, integration: str) -> None:
        error = error_of("vault://hashicorp/cubbyhole/anything#k")

        assert error.code == "invalid_reference"
        assert "cubbyhole" in error.text

    @pytest.mark.parametrize(
        ("name", "problem"),
        [
            ("app", "must start with the mount"),
            ("secret//app", "empty"),
            ("secret/../app", "'..'"),
            ("secret/app?version=0", "not a positive whole number"),
            ("secret/app?version=abc", "not a positive whole number"),
            ("secret/app?version-stage=AWSCURRENT", "not version-stage"),
        ],
        ids=["no-mount", "empty-segment", "dot-dot", "zero", "text", "aws-option"],
    )
    def test_invalid_reference(
        self, bao: Bao, integration: str, name: str, problem: str
    ) -> None:
        error = error_of(f"vault://hashicorp/{name}")

        assert error.code == "invalid_reference"
        assert problem in error.text


class TestMountCache:
    def test_listing_fetched_once(self, bao: Bao, integration: str) -> None:
        from prizm.integrations import IntegrationService
        from prizm.providers.hashicorp import HashicorpProvider

        bao.put("a", {"k": "1"})
        bao.put("b", {"k": "2"}, mount="kv1")
        for name in ("a", "b"):
            mount = "secret" if name == "a" else "kv1"
            resolve({"f": f"vault://hashicorp/{mount}/{bao.path(name)}#k"})

        provider = IntegrationService(open_store()).provider("hashicorp")

        assert isinstance(provider, HashicorpProvider)
        assert provider.mounts.listings == 1

    def test_same_secret_fetched_once(self, bao: Bao, integration: str) -> None:
        bao.put("db", {"user": "u", "password": "p"})
        base = f"vault://hashicorp/secret/{bao.path('db')}"
        resolver = Resolver(IntegrationService(open_store()))

        resolution = resolver.resolve({"u": f"{base}#user", "p": f"{base}#password"})

        assert resolution.ok
        assert resolution.calls == 1

    def test_new_mount_found_by_path_lookup(self, bao: Bao) -> None:
        with FaultProxy(bao.address) as proxy:
            bao.add_token(bao.server.root_token, address=proxy.url)
            bao.put("db", {"k": "old"})
            assert value_of(f"vault://hashicorp/secret/{bao.path('db')}#k") == "old"
            mount = f"{bao.prefix}-kv"
            bao.root().sys.enable_secrets_engine(
                "kv", path=mount, options={"version": "2"}
            )
            try:
                bao.put("db", {"k": "new"}, mount=mount)

                # The cached listing predates the mount, so its path is looked up.
                value = value_of(f"vault://hashicorp/{mount}/{bao.path('db')}#k")
            finally:
                bao.root().sys.disable_secrets_engine(mount)

        counts = proxy.counts()
        assert value == "new"
        assert counts[MOUNTS] == 1
        assert counts[f"{MOUNTS}/{mount}/{bao.path('db')}"] == 1

    def test_forbidden_listing_falls_back(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"})
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"
        with FaultProxy(bao.address) as proxy:
            proxy.add(FORBIDDEN_LISTING)
            bao.add_token(address=proxy.url)

            first = value_of(reference)
            second = value_of(reference)

        counts = proxy.counts()
        assert first == "v"
        assert second == "v"
        # The empty listing is cached, and so is the mount that the lookup found.
        assert counts[MOUNTS] == 1
        assert counts[f"{MOUNTS}/secret/{bao.path('db')}"] == 1


class TestNamespaces:
    def test_token_in_namespace(self, bao: Bao, canaries: Canaries) -> None:
        password = canaries.make("team")
        bao.put("db", {"password": password}, namespace="team")
        token = bao.token(policies=["team-reader"], namespace="team")
        bao.add_token(token, extra=["--namespace", "team"])

        value = resolved(f"vault://hashicorp/secret/{bao.path('db')}#password")

        assert value.value.reveal() == password
        assert value.source.secret_id == f"team/secret/{bao.path('db')}"

    def test_wrong_namespace(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"}, namespace="team")
        bao.add_token(extra=["--namespace", "elsewhere"])

        error = error_of(f"vault://hashicorp/secret/{bao.path('db')}#k")

        assert error.code == "secret_not_found"
        assert "namespace 'elsewhere' was not found" in error.text
        assert "namespace elsewhere" in error.text
