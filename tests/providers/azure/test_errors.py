"""Key Vault failures mapped to Prizm's error codes, through the SDK and the fake."""

from __future__ import annotations

import threading
import time

import pytest

from devtools.servers import free_port
from prizm.errors import PrizmError
from tests.providers.azure.support import AzureFixture, error_of, resolve_one
from tests.support.canaries import Canaries

HOUR = 3600


def assert_names_where(error: PrizmError, azure: AzureFixture, reference: str) -> None:
    """Every message names the reference, the integration and the vault URL."""
    assert reference in error.text
    assert "integration 'azure'" in error.text
    assert azure.fake.vault_url in error.text
    assert error.hint


def error_in_thread(reference: str) -> PrizmError:
    """Resolve ``reference`` in a thread, and fail if it is still waiting after 60 s.

    A regression would sleep for a whole hour-long Retry-After, so the test fails
    instead of stalling the suite. The test itself asserts request counts.
    """
    outcome: list[PrizmError] = []
    thread = threading.Thread(
        target=lambda: outcome.append(error_of(reference)), daemon=True
    )
    thread.start()
    thread.join(timeout=60)
    assert outcome, "the resolution was still waiting for a Retry-After"
    return outcome[0]


class TestSecretStates:
    def test_disabled_secret(self, azure: AzureFixture) -> None:
        version = azure.fake.vault.set_secret("off", "v")
        azure.fake.vault.update_version("off", version, enabled=False)
        azure.add_integration()

        error = error_of("vault://azure/off")

        assert error.code == "secret_disabled"
        assert "az keyvault secret set-attributes" in error.text
        assert_names_where(error, azure, "vault://azure/off")
        assert azure.fake.vault.requests[-1][2] == 403

    def test_disabled_pinned_version(self, azure: AzureFixture) -> None:
        old = azure.fake.vault.set_secret("mixed", "old")
        azure.fake.vault.set_secret("mixed", "new")
        azure.fake.vault.update_version("mixed", old, enabled=False)
        azure.add_integration()

        error = error_of(f"vault://azure/mixed?version={old}")

        assert error.code == "secret_disabled"
        assert resolve_one("vault://azure/mixed") == "new"

    def test_expired_secret_refused(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("old", "v", expires=int(time.time()) - HOUR)
        azure.add_integration()

        error = error_of("vault://azure/old")

        assert error.code == "secret_expired"
        assert_names_where(error, azure, "vault://azure/old")
        assert azure.fake.vault.requests[-1][2] == 200

    def test_not_yet_valid_secret_refused(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("early", "v", not_before=int(time.time()) + HOUR)
        azure.add_integration()

        error = error_of("vault://azure/early")

        assert error.code == "secret_not_yet_valid"
        assert_names_where(error, azure, "vault://azure/early")

    def test_valid_window_is_read(self, azure: AzureFixture) -> None:
        now = int(time.time())
        azure.fake.vault.set_secret(
            "ok", "v", not_before=now - HOUR, expires=now + HOUR
        )
        azure.add_integration()

        assert resolve_one("vault://azure/ok") == "v"

    def test_forbidden_expired_answer(self, azure: AzureFixture) -> None:
        azure.fake.vault.strict_validity = True
        azure.fake.vault.set_secret("old", "v", expires=int(time.time()) - HOUR)
        azure.add_integration()

        error = error_of("vault://azure/old")

        assert error.code == "secret_expired"
        assert azure.fake.vault.requests[-1][2] == 403

    def test_forbidden_not_yet_valid_answer(self, azure: AzureFixture) -> None:
        azure.fake.vault.strict_validity = True
        azure.fake.vault.set_secret("early", "v", not_before=int(time.time()) + HOUR)
        azure.add_integration()

        error = error_of("vault://azure/early")

        assert error.code == "secret_not_yet_valid"
        assert azure.fake.vault.requests[-1][2] == 403

    def test_soft_deleted_secret(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("gone", "v")
        azure.fake.vault.delete_secret("gone")
        azure.add_integration()

        error = error_of("vault://azure/gone")

        assert error.code == "secret_deleted"
        assert "az keyvault secret recover" in error.text
        assert_names_where(error, azure, "vault://azure/gone")
        assert azure.fake.vault.counts()["deleted"] == 1

    def test_soft_deleted_pinned_version(self, azure: AzureFixture) -> None:
        version = azure.fake.vault.set_secret("gone", "v")
        azure.fake.vault.delete_secret("gone")
        azure.add_integration()

        assert (
            error_of(f"vault://azure/gone?version={version}").code == "secret_deleted"
        )

    def test_deleted_check_not_allowed(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("gone", "v")
        azure.fake.vault.delete_secret("gone")
        azure.fake.vault.deleted_read_denied.add(azure.app.client_id)
        azure.add_integration()

        error = error_of("vault://azure/gone")

        assert error.code == "secret_not_found"
        assert "recoverable" in error.text

    def test_purged_secret_not_found(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("purged", "v")
        azure.fake.vault.delete_secret("purged")
        azure.fake.vault.purge_secret("purged")
        azure.add_integration()

        assert error_of("vault://azure/purged").code == "secret_not_found"

    def test_missing_secret(self, azure: AzureFixture) -> None:
        azure.add_integration()

        error = error_of("vault://azure/missing#k")

        assert error.code == "secret_not_found"
        assert_names_where(error, azure, "vault://azure/missing#k")

    def test_missing_version(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("one", "v")
        azure.add_integration()

        error = error_of(f"vault://azure/one?version={'0' * 32}")

        assert error.code == "version_not_found"


class TestAccess:
    @pytest.mark.parametrize(
        ("inner", "hint"),
        [
            ("ForbiddenByRbac", "Key Vault Secrets User"),
            ("AccessDenied", "access policy"),
            ("ForbiddenByFirewall", "Networking"),
        ],
        ids=["rbac", "access-policy", "firewall"],
    )
    def test_access_denied(self, azure: AzureFixture, inner: str, hint: str) -> None:
        azure.fake.vault.set_secret("locked", "v")
        azure.fake.vault.denied[azure.app.client_id] = inner
        azure.add_integration()

        error = error_of("vault://azure/locked")

        assert error.code == "access_denied"
        assert inner in error.text
        assert hint in error.text
        assert_names_where(error, azure, "vault://azure/locked")

    def test_throttled_after_retries(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("busy", "v")
        azure.fake.vault.throttle_times = 5
        azure.add_integration(max_retries="1")
        started = time.monotonic()

        error = error_of("vault://azure/busy")

        assert error.code == "throttled"
        assert "retry after 1 s" in error.text
        assert azure.fake.vault.counts()["throttled"] == 2
        assert time.monotonic() - started >= 1.0

    def test_long_retry_after_not_retried(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("busy", "v")
        azure.fake.vault.throttle_times = 5
        azure.fake.vault.retry_after = str(HOUR)
        azure.add_integration()

        error = error_in_thread("vault://azure/busy")

        assert error.code == "throttled"
        assert f"retry after {HOUR} s" in error.text
        assert "maximum wait of 30 s" in error.text
        assert "--max-retry-wait" in error.text
        assert azure.fake.vault.counts()["throttled"] == 1

    def test_max_retry_wait_setting(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("busy", "v")
        azure.fake.vault.throttle_times = 5
        azure.add_integration(max_retry_wait="0.5")

        error = error_in_thread("vault://azure/busy")

        assert error.code == "throttled"
        assert "maximum wait of 0.5 s" in error.text
        assert azure.fake.vault.counts()["throttled"] == 1

    def test_throttled_once_then_served(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("busy", "v")
        azure.fake.vault.throttle_times = 1
        azure.add_integration(max_retries="1")
        started = time.monotonic()

        assert resolve_one("vault://azure/busy") == "v"
        assert time.monotonic() - started >= 1.0


class TestCredentials:
    def test_wrong_client_secret(self, azure: AzureFixture, canaries: Canaries) -> None:
        azure.fake.vault.set_secret("s", "v")
        wrong = canaries.make("wrong-secret")
        azure.add_integration(client_secret=wrong)

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert "AADSTS7000215" in error.text
        assert "--client-secret-stdin" in error.text
        assert error.__cause__ is None
        canaries.scan(error.text, "the error message")

    def test_unknown_client(self, azure: AzureFixture) -> None:
        azure.add_integration(client_id="11111111-2222-3333-4444-555555555555")

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert "AADSTS700016" in error.text

    def test_token_rejected_by_vault(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("s", "v")
        azure.add_integration()
        assert resolve_one("vault://azure/s") == "v"
        azure.fake.login.expire_tokens()

        error = error_of("vault://azure/s")

        assert error.code == "invalid_credentials"
        assert "rejected the integration's access token" in error.text

    def test_error_keeps_no_azure_exception(
        self, azure: AzureFixture, canaries: Canaries
    ) -> None:
        azure.add_integration(client_secret=canaries.make("other"))

        error = error_of("vault://azure/s")

        assert error.__cause__ is None
        assert error.__suppress_context__


class TestTransport:
    def test_unknown_certificate_authority(self, azure: AzureFixture) -> None:
        azure.add_integration(ca_bundle=azure.tls.other_ca, max_retries="0")

        error = error_of("vault://azure/s")

        assert error.code == "endpoint_unreachable"
        assert "--ca-bundle" in error.text

    def test_nothing_listening(self, azure: AzureFixture) -> None:
        url = f"https://127.0.0.1:{free_port()}"
        azure.add_integration(vault_url=url, max_retries="0")

        error = error_of("vault://azure/s")

        assert error.code == "endpoint_unreachable"
        assert url in error.text

    def test_read_timeout(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("slow", "v")
        azure.add_integration(read_timeout="0.5", max_retries="0")
        resolve_one("vault://azure/slow")
        azure.fake.vault.delay = 2.0

        error = error_of("vault://azure/slow")

        assert error.code == "timeout"
        assert "0.5 s" in error.text
