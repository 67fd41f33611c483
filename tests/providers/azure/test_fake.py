"""The fake responds as Key Vault does, checked without the SDK in between."""

from __future__ import annotations

import requests

from tests.providers.azure.support import AzureFixture, resolve_one


def get(azure: AzureFixture, path: str, **headers: str) -> requests.Response:
    return requests.get(
        f"{azure.fake.vault_url}{path}",
        headers=headers,
        verify=str(azure.tls.ca),
        timeout=10,
    )


class TestProtocol:
    def test_api_version_required(self, azure: AzureFixture) -> None:
        response = get(azure, "/secrets/db")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BadParameter"

    def test_anonymous_call_gets_challenge(self, azure: AzureFixture) -> None:
        response = get(azure, "/secrets/db?api-version=7.5")

        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer authorization=")
        assert azure.fake.login.tenant_id in challenge
        assert 'resource="https://vault.azure.net"' in challenge

    def test_unknown_token_gets_challenge_again(self, azure: AzureFixture) -> None:
        response = get(
            azure, "/secrets/db?api-version=7.5", Authorization="Bearer made-up"
        )

        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]

    def test_sdk_sends_api_version(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("db", "v")
        azure.add_integration()

        assert resolve_one("vault://azure/db") == "v"
        assert azure.fake.vault.counts()["invalid"] == 0
