"""Helpers for Azure Key Vault tests: integrations on the fake, and resolving."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prizm.errors import PrizmError
from prizm.integrations import IntegrationService
from prizm.resolver import Resolver
from prizm.store import open_store
from tests.support.azure_fake import AzureFake, TlsFiles
from tests.support.canaries import CANARIES
from tests.support.fixtures import run_cli

__all__ = [
    "KEY_PASSWORD",
    "MANAGED_IDENTITY",
    "USER_ASSIGNED",
    "App",
    "AzureFixture",
    "error_of",
    "resolve",
    "resolve_one",
    "resolver",
]

KEY_PASSWORD = CANARIES.make("key-password")
"""Password of the encrypted client key; a canary, so the leak scan looks for it."""

MANAGED_IDENTITY = "9a3b1c2d-0000-4000-8000-00000000a001"
"""Client ID of the system-assigned managed identity of the fake's App Service."""

USER_ASSIGNED = "9a3b1c2d-0000-4000-8000-00000000a002"
"""Client ID of a user-assigned managed identity of the fake's App Service."""


@dataclass
class App:
    """An app registration in the fake tenant."""

    client_id: str
    client_secret: str


@dataclass
class AzureFixture:
    """The running fake and helpers to add integrations through the CLI."""

    fake: AzureFake
    tls: TlsFiles
    app: App

    def add_integration(
        self,
        name: str | None = None,
        *,
        auth: str = "client-secret",
        client_secret: str | None = None,
        vault_url: str | None = None,
        ca_bundle: Path | None = None,
        certificate_password: str | None = None,
        **options: str,
    ) -> str:
        """Add an integration on the fake with the CLI; return its name."""
        args = ["integration", "add", "azure"]
        if name:
            args.append(name)
        args += [
            "--vault-url",
            vault_url or self.fake.vault_url,
            "--auth",
            auth,
            "--ca-bundle",
            str(ca_bundle or self.tls.ca),
        ]

        stdin = ""
        if auth in ("client-secret", "client-certificate"):
            tenant = options.pop("tenant_id", self.fake.login.tenant_id)
            args += ["--tenant-id", tenant]
            args += ["--client-id", options.pop("client_id", self.app.client_id)]
        if auth in ("client-secret", "client-certificate", "default"):
            args += ["--authority-host", self.fake.authority]
        if auth == "client-secret":
            args.append("--client-secret-stdin")
            stdin = (client_secret or self.app.client_secret) + "\n"
        if auth == "client-certificate":
            certificate = options.pop("certificate_file", str(self.tls.client_pem))
            args += ["--certificate-file", certificate]
            if certificate_password is not None:
                args.append("--certificate-password-stdin")
                stdin = certificate_password + "\n"
        if auth == "default":
            # The Azure CLI member runs the az program, which would use a real
            # login if one is installed on the machine.
            args += ["--exclude-credential", "azure-cli"]

        for option, value in options.items():
            args += [f"--{option.replace('_', '-')}", value]
        result = run_cli(args, stdin=stdin)
        assert result.status == 0, result.err
        return name or "azure"


def resolver() -> Resolver:
    return Resolver(IntegrationService(open_store()))


def resolve(references: dict[str, str]) -> dict[str, object]:
    return dict(resolver().resolve(references).outcomes)


def resolve_one(reference: str) -> str:
    outcome = resolver().resolve({"field": reference}).outcomes["field"]
    if isinstance(outcome, PrizmError):
        raise outcome
    return outcome.value.reveal()


def error_of(reference: str) -> PrizmError:
    outcome = resolver().resolve({"field": reference}).outcomes["field"]
    assert isinstance(outcome, PrizmError), "expected an error"
    return outcome
