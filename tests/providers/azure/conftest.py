"""Fixtures for Azure Key Vault tests: the fake over TLS, and integrations on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache

from devtools import netguard
from tests.providers.azure.support import (
    KEY_PASSWORD,
    MANAGED_IDENTITY,
    USER_ASSIGNED,
    App,
    AzureFixture,
)
from tests.support.azure_fake import AzureFake, TlsFiles, make_tls_files
from tests.support.canaries import Canaries


@pytest.fixture(scope="session")
def azure_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("azure-tls"), KEY_PASSWORD)


@pytest.fixture(autouse=True)
def no_outside_attempts() -> Iterator[None]:
    """Fail a test in which anything tried to reach a host outside loopback, such
    as a Microsoft login host or the instance metadata address 169.254.169.254.

    The guard blocks every such attempt, but the Azure identity libraries treat a
    failed managed identity probe as "not available" and go on, so only this
    record shows that an attempt was made.
    """
    start = len(netguard.BLOCKED)
    yield
    assert netguard.BLOCKED[start:] == []


@pytest.fixture
def azure(azure_tls: TlsFiles, canaries: Canaries) -> Iterator[AzureFixture]:
    """A fresh fake vault and tenant with one app whose secret is a canary.

    Every access token the fake issues is a canary too, so the leak scan catches a
    token in output, logs or the store.
    """
    # The SDK caches challenges per host and port for the process; a later test
    # may get a port an earlier fake used, with another tenant.
    http_challenge_cache.clear()
    fake = AzureFake.start(azure_tls)
    fake.login.make_token = lambda: canaries.make_plain("token")
    app = App(str(uuid.uuid4()), canaries.make("client-secret"))
    fake.login.add_app_secret(app.client_id, app.client_secret)
    try:
        yield AzureFixture(fake, azure_tls, app)
    finally:
        fake.stop()
        http_challenge_cache.clear()


@pytest.fixture
def app_service(azure: AzureFixture, monkeypatch: pytest.MonkeyPatch) -> AzureFixture:
    """App Service's managed identity endpoint, served by the fake on loopback."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", azure.fake.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", azure.fake.login.identity_header)
    azure.fake.login.system_identity = MANAGED_IDENTITY
    azure.fake.login.user_identities.add(USER_ASSIGNED)
    return azure
