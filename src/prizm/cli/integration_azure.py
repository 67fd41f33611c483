"""``prizm integration add azure`` and ``prizm integration update azure``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prizm.cli.context import integration_service
from prizm.cli.integration import (
    AllowedSecretsOption,
    JsonOption,
    add_app,
    update_app,
    warn_if_unrestricted,
)
from prizm.cli.output import emit, stdout
from prizm.cli.stdin import read_secret_lines
from prizm.errors import UsageError
from prizm.providers.azure.settings import AUTH_METHODS, CHAIN_MEMBERS

__all__ = ["add_azure", "update_azure"]

CLIENT_SECRET = "client secret"
CERTIFICATE_PASSWORD = "certificate password"

VaultUrlOption = Annotated[
    str | None,
    typer.Option(
        "--vault-url",
        help="The vault URL, https://<name>.vault.azure.net (or .vault.azure.cn, "
        ".vault.usgovcloudapi.net).",
    ),
]
AuthOption = Annotated[
    str | None,
    typer.Option(
        "--auth",
        help="client-secret, client-certificate, managed-identity, or default (the "
        "environment, workload identity, managed identity and Azure CLI, in order).",
    ),
]
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant-id",
        help="Directory (tenant) ID, for client-secret and client-certificate.",
    ),
]
ClientOption = Annotated[
    str | None,
    typer.Option(
        "--client-id",
        help="Application (client) ID; with managed-identity or default, the client "
        "ID of a user-assigned managed identity.",
    ),
]
ClientSecretStdinOption = Annotated[
    bool,
    typer.Option(
        "--client-secret-stdin",
        help="Read the client secret from standard input (first line), or from a "
        "prompt without echo on a terminal.",
    ),
]
CertificateOption = Annotated[
    Path | None,
    typer.Option(
        "--certificate-file",
        help="PEM file with the certificate and its private key, for "
        "client-certificate.",
    ),
]
CertificatePasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--certificate-password-stdin",
        help="Read the private key's password from standard input.",
    ),
]
AuthorityOption = Annotated[
    str | None,
    typer.Option(
        "--authority-host",
        help="Microsoft Entra authority host, such as login.microsoftonline.us. "
        "Default: the one of the vault's cloud.",
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-credential",
        help="Leave a member out of the default chain: environment, "
        "workload-identity, managed-identity or azure-cli. Repeatable.",
    ),
]
CaBundleOption = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle",
        help="PEM file of CA certificates to verify the vault and the token endpoint "
        "with (private CA, TLS-inspecting proxy).",
    ),
]
ConnectTimeoutOption = Annotated[
    float | None, typer.Option("--connect-timeout", help="Connect timeout in seconds.")
]
ReadTimeoutOption = Annotated[
    float | None, typer.Option("--read-timeout", help="Read timeout in seconds.")
]
MaxRetriesOption = Annotated[
    int | None,
    typer.Option(
        "--max-retries",
        help="Retries per call after the first attempt (throttling, server errors, "
        "dropped connections).",
    ),
]

MaxRetryWaitOption = Annotated[
    float | None,
    typer.Option(
        "--max-retry-wait",
        help="Maximum Retry-After, in seconds, that a throttled call waits before a "
        "retry. A call whose Retry-After is longer fails as throttled at once. "
        "Default 30.",
    ),
]


def _existing_file(path: Path | None, option: str) -> str | None:
    """Return ``path`` as an absolute path, "" to clear, or None when not given."""
    if path is None:
        return None
    if str(path) == "":
        return ""
    resolved = path.expanduser().resolve()
    if not resolved.is_file():
        raise UsageError(
            f"{option} {path} is not a readable file.",
            hint=f"Give the path of an existing PEM file to {option}.",
        )
    return str(resolved)


def _azure_values(
    *,
    vault_url: str | None,
    auth: str | None,
    tenant_id: str | None,
    client_id: str | None,
    client_secret_stdin: bool,
    certificate_file: Path | None,
    certificate_password_stdin: bool,
    authority_host: str | None,
    exclude_credential: list[str] | None,
    ca_bundle: Path | None,
    connect_timeout: float | None,
    read_timeout: float | None,
    max_retries: int | None,
    max_retry_wait: float | None,
) -> dict[str, Any]:
    if auth is not None and auth not in AUTH_METHODS:
        raise UsageError(
            f"--auth must be one of {', '.join(AUTH_METHODS)}, not {auth!r}.",
            hint="See: prizm integration add azure --help",
        )
    excluded: tuple[str, ...] | None = None
    if exclude_credential:
        members = [name for name in exclude_credential if name != ""]
        unknown = [name for name in members if name not in CHAIN_MEMBERS]
        if unknown:
            raise UsageError(
                f"Unknown --exclude-credential value: {', '.join(unknown)}.",
                hint=f"Use one of: {', '.join(CHAIN_MEMBERS)}.",
            )
        excluded = tuple(dict.fromkeys(members))
    labels = []
    if client_secret_stdin:
        labels.append(CLIENT_SECRET)
    if certificate_password_stdin:
        labels.append(CERTIFICATE_PASSWORD)
    secrets = read_secret_lines(labels)
    return {
        "vault_url": vault_url,
        "auth": auth,
        "tenant_id": tenant_id,
        "client_id": client_id,
        "client_secret": secrets.get(CLIENT_SECRET),
        "certificate_file": _existing_file(certificate_file, "--certificate-file"),
        "certificate_password": secrets.get(CERTIFICATE_PASSWORD),
        "authority_host": authority_host,
        "exclude_credentials": excluded,
        "ca_bundle": _existing_file(ca_bundle, "--ca-bundle"),
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "max_retries": max_retries,
        "max_retry_wait": max_retry_wait,
    }


@add_app.command("azure")
def add_azure(
    name: Annotated[
        str | None,
        typer.Argument(help="Integration name used in references; default 'azure'."),
    ] = None,
    vault_url: VaultUrlOption = None,
    auth: AuthOption = None,
    tenant_id: TenantOption = None,
    client_id: ClientOption = None,
    client_secret_stdin: ClientSecretStdinOption = False,
    certificate_file: CertificateOption = None,
    certificate_password_stdin: CertificatePasswordStdinOption = False,
    authority_host: AuthorityOption = None,
    exclude_credential: ExcludeOption = None,
    ca_bundle: CaBundleOption = None,
    connect_timeout: ConnectTimeoutOption = None,
    read_timeout: ReadTimeoutOption = None,
    max_retries: MaxRetriesOption = None,
    max_retry_wait: MaxRetryWaitOption = None,
    allowed_secrets: AllowedSecretsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add an Azure Key Vault integration."""
    if vault_url is None or auth is None:
        raise UsageError(
            "Missing option --vault-url or --auth.",
            hint="For example: prizm integration add azure --vault-url "
            "https://my-vault.vault.azure.net --auth managed-identity",
        )
    if auth == "client-secret" and not client_secret_stdin:
        raise UsageError(
            "--auth client-secret needs --client-secret-stdin.",
            hint="Send the client secret on standard input, for example: printf "
            "'%s\\n' \"$SECRET\" | prizm integration add azure --vault-url URL --auth "
            "client-secret --tenant-id ID --client-id ID --client-secret-stdin",
        )
    values = _azure_values(
        vault_url=vault_url,
        auth=auth,
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret_stdin=client_secret_stdin,
        certificate_file=certificate_file,
        certificate_password_stdin=certificate_password_stdin,
        authority_host=authority_host,
        exclude_credential=exclude_credential,
        ca_bundle=ca_bundle,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_retries=max_retries,
        max_retry_wait=max_retry_wait,
    )
    values = {key: value for key, value in values.items() if value not in (None, "")}
    service = integration_service()
    record = service.add("azure", name, values, allowed_secrets or [])
    warn_if_unrestricted(record)
    view = service.view(record)
    emit(
        view.to_dict(),
        lambda: stdout.print(
            f"Added {view.display_name} integration '{record.name}' "
            f"({view.summary['location']}). Check it with: prizm integration test "
            f"{record.name} --secret <secret-name>",
            markup=False,
        ),
        as_json=json_output,
    )


def _client_id_changes_meaning(old_auth: str, new_auth: str) -> bool:
    """Return whether the client ID names another kind of identity after the
    change: an app registration for client-secret and client-certificate, a
    user-assigned managed identity for managed-identity and default."""
    apps = ("client-secret", "client-certificate")
    return (old_auth in apps) != (new_auth in apps)


# Settings that an authentication method does not take, cleared when it is chosen.
NOT_TAKEN: dict[str, tuple[str, ...]] = {
    "client-secret": (
        "certificate_file",
        "certificate_password",
        "exclude_credentials",
    ),
    "client-certificate": ("client_secret", "exclude_credentials"),
    "managed-identity": (
        "tenant_id",
        "client_secret",
        "certificate_file",
        "certificate_password",
        "exclude_credentials",
    ),
    "default": (
        "tenant_id",
        "client_secret",
        "certificate_file",
        "certificate_password",
    ),
}


@update_app.command("azure")
def update_azure(
    name: Annotated[str, typer.Argument(help="Azure Key Vault integration to change.")],
    vault_url: VaultUrlOption = None,
    auth: AuthOption = None,
    tenant_id: TenantOption = None,
    client_id: ClientOption = None,
    client_secret_stdin: ClientSecretStdinOption = False,
    certificate_file: CertificateOption = None,
    certificate_password_stdin: CertificatePasswordStdinOption = False,
    authority_host: AuthorityOption = None,
    exclude_credential: ExcludeOption = None,
    ca_bundle: CaBundleOption = None,
    connect_timeout: ConnectTimeoutOption = None,
    read_timeout: ReadTimeoutOption = None,
    max_retries: MaxRetriesOption = None,
    max_retry_wait: MaxRetryWaitOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change an Azure Key Vault integration. Options not given are kept; "" clears
    one."""
    service = integration_service()
    record = service.get(name)

    if record.type != "azure":
        raise UsageError(
            f"Integration '{name}' is of type {record.type}, not azure.",
            hint=f"See: prizm integration update {record.type} --help",
        )
    values = _azure_values(
        vault_url=vault_url,
        auth=auth,
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret_stdin=client_secret_stdin,
        certificate_file=certificate_file,
        certificate_password_stdin=certificate_password_stdin,
        authority_host=authority_host,
        exclude_credential=exclude_credential,
        ca_bundle=ca_bundle,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_retries=max_retries,
        max_retry_wait=max_retry_wait,
    )

    clear: list[str] = list(NOT_TAKEN[auth]) if auth is not None else []
    if (
        auth is not None
        and client_id is None
        and _client_id_changes_meaning(str(record.settings.get("auth")), auth)
    ):
        clear.append("client_id")
    if exclude_credential is not None and values["exclude_credentials"] == ():
        clear.append("exclude_credentials")
        values["exclude_credentials"] = None
    for field, value in list(values.items()):
        if value == "":
            clear.append(field)
            values[field] = None

    updated = service.update(name, values, clear=clear)
    view = service.view(updated)
    emit(
        view.to_dict(),
        lambda: stdout.print(f"Updated integration '{name}'.", markup=False),
        as_json=json_output,
    )
