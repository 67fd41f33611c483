"""The store: encryption at rest, the master key, and migrations."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from prizm.errors import CredentialsUnreadable, StoreError
from prizm.integrations import IntegrationService
from prizm.store import open_store
from prizm.store.crypto import MasterKey, load_master_key, open_sealed, seal
from prizm.store.store import reset_stores
from tests.support.canaries import Canaries

REGION = "us-east-1"


def add_with_keys(secret_key: str, name: str = "aws") -> None:
    IntegrationService(open_store()).add(
        "aws",
        name,
        {
            "region": REGION,
            "auth": "access-keys",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": secret_key,
            "session_token": secret_key + "-token",
        },
    )


class TestEncryption:
    def test_database_file_has_no_plaintext(
        self, prizm_home: Path, canaries: Canaries
    ) -> None:
        secret_key = canaries.make("secret-access-key")

        add_with_keys(secret_key)
        reset_stores()

        canaries.scan_tree(prizm_home, "the store")
        rows = sqlite3.connect(prizm_home / "prizm.db").execute(
            "select credentials from integrations"
        )
        sealed = rows.fetchone()[0]
        assert sealed.startswith("prizm:v1:")

    def test_credentials_round_trip(self, canaries: Canaries) -> None:
        secret_key = canaries.make("round-trip")
        add_with_keys(secret_key)
        service = IntegrationService(open_store())

        settings = service.settings(service.get("aws"))

        assert settings.secret_access_key.get_secret_value() == secret_key  # type: ignore[attr-defined]

    def test_key_file_created_with_mode_0600(self, prizm_home: Path) -> None:
        add_with_keys("some-secret-key-value")

        mode = stat.S_IMODE(os.stat(prizm_home / "master.key").st_mode)

        assert mode == 0o600

    def test_environment_key_wins_and_no_file(
        self, prizm_home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        monkeypatch.setenv("PRIZM_MASTER_KEY", key)

        add_with_keys("another-secret-key")

        assert not (prizm_home / "master.key").exists()

    def test_wrong_key_is_a_clear_error(
        self, prizm_home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        add_with_keys("key-sealed-with-file")
        reset_stores()
        other = base64.urlsafe_b64encode(os.urandom(32)).decode()
        monkeypatch.setenv("PRIZM_MASTER_KEY", other)
        service = IntegrationService(open_store())

        with pytest.raises(CredentialsUnreadable) as caught:
            service.settings(service.get("aws"))

        assert caught.value.code == "credentials_unreadable"
        assert "integration 'aws'" in caught.value.text
        assert "PRIZM_MASTER_KEY" in caught.value.text

    def test_malformed_master_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PRIZM_MASTER_KEY", "too-short")

        with pytest.raises(StoreError) as caught:
            load_master_key()

        assert "32 bytes" in caught.value.text

    def test_ciphertext_bound_to_its_record(self) -> None:
        key = MasterKey(os.urandom(32))
        sealed = seal(key, "value", "integration:a")

        with pytest.raises(CredentialsUnreadable):
            open_sealed([key], sealed, "integration:b", "integration 'b'")

    def test_tampered_ciphertext_rejected(self) -> None:
        key = MasterKey(os.urandom(32))
        sealed = seal(key, "value", "integration:a")
        tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")

        with pytest.raises(CredentialsUnreadable):
            open_sealed([key], tampered, "integration:a", "integration 'a'")


class TestStoreLocation:
    def test_database_url_selects_another_database(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        other = tmp_path / "elsewhere.db"
        monkeypatch.setenv("PRIZM_DATABASE_URL", f"sqlite:///{other}")

        add_with_keys("key-for-elsewhere")

        assert other.exists()

    @pytest.mark.parametrize(
        ("home", "problem"),
        [("file", "it is not a directory"), ("file/sub", "Not a directory")],
        ids=["file", "below-file"],
    )
    def test_unusable_home(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: str, problem: str
    ) -> None:
        (tmp_path / "file").write_text("")
        monkeypatch.setenv("PRIZM_HOME", str(tmp_path / home))
        monkeypatch.delenv("PRIZM_DATABASE_URL", raising=False)

        with pytest.raises(StoreError) as caught:
            open_store()

        assert problem in caught.value.message
        assert "PRIZM_HOME" in caught.value.text

    def test_unusable_database_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PRIZM_DATABASE_URL", "nosuchdialect://user:pw@host/db")

        with pytest.raises(StoreError) as caught:
            open_store()

        assert "pw" not in caught.value.text
        assert "PRIZM_DATABASE_URL" in caught.value.text


class TestProviderCache:
    @staticmethod
    def add(store_url: str, endpoint: str) -> IntegrationService:
        service = IntegrationService(open_store(store_url))
        service.add(
            "aws",
            "aws",
            {
                "region": REGION,
                "auth": "access-keys",
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "cache-test-key",
                "endpoint_url": endpoint,
                "allow_http": True,
            },
        )
        return service

    def test_same_name_in_two_stores(self, tmp_path: Path) -> None:
        first = self.add(f"sqlite:///{tmp_path / 'a.db'}", "http://127.0.0.1:1")
        second = self.add(f"sqlite:///{tmp_path / 'b.db'}", "http://127.0.0.1:2")

        first_provider = first.provider("aws")
        second_provider = second.provider("aws")

        assert first_provider is not second_provider
        assert first_provider.settings.endpoint_url == "http://127.0.0.1:1"  # type: ignore[attr-defined]
        assert second_provider.settings.endpoint_url == "http://127.0.0.1:2"  # type: ignore[attr-defined]

    def test_readded_integration_not_served_stale(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'a.db'}"
        service = self.add(url, "http://127.0.0.1:1")
        stale = service.provider("aws")
        service.remove("aws")

        fresh = self.add(url, "http://127.0.0.1:2").provider("aws")

        assert fresh is not stale
        assert fresh.settings.endpoint_url == "http://127.0.0.1:2"  # type: ignore[attr-defined]
