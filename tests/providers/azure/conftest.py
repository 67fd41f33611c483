"""Fixtures for Azure Key Vault tests: the fake over TLS, and integrations on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache
from devtools import netguard

from tests.providers.azure.support import App, AzureFixture
from tests.support.azure_fake import AzureFake, TlsFiles, make_tls_files
from tests.support.canaries import Canaries


@pytest.fixture(scope="session")
def azure_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("azure-tls"))


@pytest.fixture(autouse=True)
def no_outside_attempts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test in which anything tried to reach a host outside loopback."""
    start = len(netguard.BLOCKED)
    yield
    if request.node.get_closest_marker("reaches_out") is None:
        assert netguard.BLOCKED[start:] == []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reaches_out: the test shows that the guard blocks an attempt"
    )


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
