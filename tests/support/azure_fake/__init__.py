"""A local fake of Azure Key Vault and Microsoft Entra ID, served over HTTPS on
loopback, for tests through the official SDKs. See ``vault`` and ``login``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.support.azure_fake.login import FakeLogin
from tests.support.azure_fake.server import HttpsServer
from tests.support.azure_fake.tls import TlsFiles, make_tls_files
from tests.support.azure_fake.vault import FakeVault

__all__ = ["AzureFake", "FakeLogin", "FakeVault", "TlsFiles", "make_tls_files"]


@dataclass
class AzureFake:
    """A running vault server and login server that share one tenant."""

    tls: TlsFiles
    vault: FakeVault
    login: FakeLogin
    vault_server: HttpsServer
    login_server: HttpsServer

    @classmethod
    def start(cls, tls: TlsFiles) -> AzureFake:
        login = FakeLogin(tenant_id=str(uuid.uuid4()))
        vault = FakeVault(login=login)
        login_server = HttpsServer(tls, login.handle).start()
        vault_server = HttpsServer(tls, vault.handle).start()
        login.base_url = login_server.url
        vault.base_url = vault_server.url
        return cls(tls, vault, login, vault_server, login_server)

    @property
    def vault_url(self) -> str:
        return self.vault_server.url

    @property
    def authority(self) -> str:
        return self.login_server.url

    @property
    def identity_endpoint(self) -> str:
        return f"{self.login_server.url}/msi/token"

    def stop(self) -> None:
        self.vault_server.stop()
        self.login_server.stop()
