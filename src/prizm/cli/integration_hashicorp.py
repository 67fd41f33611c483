"""``prizm integration add hashicorp`` and ``prizm integration update hashicorp``.

Credentials (token, secret ID, password) are read from standard input, one per line
in the order of their ``--*-stdin`` options, or from a prompt without echo on a TTY.
"""

from __future__ import annotations

import sys
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
from prizm.providers.hashicorp.settings import AUTH_METHODS, METHOD_FIELDS

__all__ = ["add_hashicorp", "update_hashicorp"]

AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address", help="Vault URL, such as https://vault.example.com:8200."
    ),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", help="Namespace of the secrets; omit for the root."),
]
AuthOption = Annotated[
    str | None,
    typer.Option("--auth", help="token, approle, kubernetes or userpass."),
]
TokenStdinOption = Annotated[
    bool,
    typer.Option("--token-stdin", help="Read the Vault token from standard input."),
]
RoleIdOption = Annotated[
    str | None, typer.Option("--role-id", help="AppRole role ID, for approle.")
]
SecretIdStdinOption = Annotated[
    bool,
    typer.Option(
        "--secret-id-stdin", help="Read the AppRole secret ID from standard input."
    ),
]
AuthMountOption = Annotated[
    str | None,
    typer.Option(
        "--auth-mount",
        help="Path the auth method is mounted at; defaults to the method's name.",
    ),
]
AuthNamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--auth-namespace",
        help="Namespace to log in to, when it differs from --namespace; root for "
        "the root namespace.",
    ),
]
KubernetesRoleOption = Annotated[
    str | None,
    typer.Option("--kubernetes-role", help="Vault role of the Kubernetes login."),
]
JwtFileOption = Annotated[
    str | None,
    typer.Option(
        "--jwt-file",
        help="Service-account JWT file, by default "
        "/var/run/secrets/kubernetes.io/serviceaccount/token.",
    ),
]
UsernameOption = Annotated[
    str | None, typer.Option("--username", help="User name, for userpass.")
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input."),
]
CaCertOption = Annotated[
    str | None,
    typer.Option("--ca-cert", help="PEM file of the CA certificates to trust."),
]
ClientCertOption = Annotated[
    str | None, typer.Option("--client-cert", help="PEM client certificate file.")
]
ClientKeyOption = Annotated[
    str | None, typer.Option("--client-key", help="PEM client private key file.")
]
SkipVerifyOption = Annotated[
    bool | None,
    typer.Option(
        "--tls-skip-verify/--tls-verify",
        help="Skip TLS certificate checks. Only for development servers.",
    ),
]
AllowHttpOption = Annotated[
    bool | None,
    typer.Option(
        "--allow-http/--no-allow-http",
        help="Accept an http:// address, which sends the token unencrypted. Only "
        "for development servers.",
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", help="Timeout of each Vault request, in seconds."),
]

CREDENTIALS = (
    ("token", "token_stdin", "Vault token"),
    ("secret_id", "secret_id_stdin", "Secret ID"),
    ("password", "password_stdin", "Password"),
)
"""Credential field, its option and its prompt label, in standard input order."""


def _file(value: str | None, option: str) -> str | None:
    """Return ``value`` as the absolute path of an existing file, or "" unchanged."""
    if not value:
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise UsageError(
            f"The file given to {option} was not found: {value}.",
            hint=f"Give the path of a readable PEM file to {option}.",
        )
    return str(path.resolve())


def _read_credentials(
    auth: str | None, flags: dict[str, bool], *, adding: bool
) -> dict[str, str]:
    """Read the credentials whose ``--*-stdin`` option is set, in option order.

    When adding, the credential the auth method needs is prompted for on a TTY
    even without its option.
    """
    needed = {"token": "token", "approle": "secret_id", "userpass": "password"}
    labels: list[str] = []
    for field, flag, label in CREDENTIALS:
        requested = flags[flag]
        if adding and not requested and auth is not None and needed.get(auth) == field:
            if not sys.stdin.isatty():
                option = "--" + flag.replace("_", "-")
                raise UsageError(
                    f"--auth {auth} needs {option}.",
                    hint=f"Send the {label.lower()} on standard input with {option}, "
                    "or run the command in a terminal to be prompted.",
                )
            requested = True
        if requested:
            labels.append(label)
    values = read_secret_lines(labels)
    return {field: values[label] for field, _, label in CREDENTIALS if label in values}


def _values(auth: str | None, options: dict[str, Any]) -> dict[str, Any]:
    if auth is not None and auth not in AUTH_METHODS:
        raise UsageError(
            f"--auth must be one of {', '.join(AUTH_METHODS)}, not {auth!r}.",
            hint="Use token for a static token, or approle, kubernetes or userpass "
            "to log in.",
        )
    return {
        "address": options["address"],
        "namespace": options["namespace"],
        "auth": auth,
        "role_id": options["role_id"],
        "auth_mount": options["auth_mount"],
        "auth_namespace": options["auth_namespace"],
        "kubernetes_role": options["kubernetes_role"],
        "jwt_file": options["jwt_file"],
        "username": options["username"],
        "ca_cert": _file(options["ca_cert"], "--ca-cert"),
        "client_cert": _file(options["client_cert"], "--client-cert"),
        "client_key": _file(options["client_key"], "--client-key"),
        "tls_skip_verify": options["tls_skip_verify"],
        "allow_http": options["allow_http"],
        "timeout": options["timeout"],
    }


@add_app.command("hashicorp")
def add_hashicorp(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Integration name used in references; default 'hashicorp'."
        ),
    ] = None,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
    auth: AuthOption = "token",
    token_stdin: TokenStdinOption = False,
    role_id: RoleIdOption = None,
    secret_id_stdin: SecretIdStdinOption = False,
    auth_mount: AuthMountOption = None,
    auth_namespace: AuthNamespaceOption = None,
    kubernetes_role: KubernetesRoleOption = None,
    jwt_file: JwtFileOption = None,
    username: UsernameOption = None,
    password_stdin: PasswordStdinOption = False,
    ca_cert: CaCertOption = None,
    client_cert: ClientCertOption = None,
    client_key: ClientKeyOption = None,
    tls_skip_verify: SkipVerifyOption = None,
    allow_http: AllowHttpOption = None,
    timeout: TimeoutOption = None,
    allowed_secrets: AllowedSecretsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add a HashiCorp Vault or OpenBao integration."""
    if address is None:
        raise UsageError(
            "Missing option --address.",
            hint="Give the Vault URL, for example --address "
            "https://vault.example.com:8200.",
        )
    # Every parameter by name; _values and the flags below pick theirs out.
    options = dict(locals())
    values = _values(auth, options)
    flags = {flag: bool(options[flag]) for _, flag, _ in CREDENTIALS}
    values.update(_read_credentials(auth, flags, adding=True))
    values = {key: value for key, value in values.items() if value is not None}
    service = integration_service()
    record = service.add("hashicorp", name, values, allowed_secrets or [])
    warn_if_unrestricted(record)
    view = service.view(record)
    emit(
        view.to_dict(),
        lambda: stdout.print(
            f"Added {view.display_name} integration '{record.name}' "
            f"({view.summary['location']}). Check it with: prizm integration test "
            f"{record.name} --secret <mount>/<path>",
            markup=False,
        ),
        as_json=json_output,
    )


@update_app.command("hashicorp")
def update_hashicorp(
    name: Annotated[str, typer.Argument(help="Vault integration to change.")],
    address: AddressOption = None,
    namespace: NamespaceOption = None,
    auth: AuthOption = None,
    token_stdin: TokenStdinOption = False,
    role_id: RoleIdOption = None,
    secret_id_stdin: SecretIdStdinOption = False,
    auth_mount: AuthMountOption = None,
    auth_namespace: AuthNamespaceOption = None,
    kubernetes_role: KubernetesRoleOption = None,
    jwt_file: JwtFileOption = None,
    username: UsernameOption = None,
    password_stdin: PasswordStdinOption = False,
    ca_cert: CaCertOption = None,
    client_cert: ClientCertOption = None,
    client_key: ClientKeyOption = None,
    tls_skip_verify: SkipVerifyOption = None,
    allow_http: AllowHttpOption = None,
    timeout: TimeoutOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change a Vault integration. Options not given are kept, and "" clears one."""
    service = integration_service()
    record = service.get(name)
    if record.type != "hashicorp":
        raise UsageError(
            f"Integration '{name}' is of type {record.type}, not hashicorp.",
            hint=f"See: prizm integration update {record.type} --help",
        )
    # Every parameter by name; _values and the flags below pick theirs out.
    options = dict(locals())
    values = _values(auth, options)
    flags = {flag: bool(options[flag]) for _, flag, _ in CREDENTIALS}
    values.update(_read_credentials(auth, flags, adding=False))
    clear: list[str] = []
    if auth is not None and auth != record.settings.get("auth"):
        # Switching methods drops the fields of every other method.
        new_fields = METHOD_FIELDS[auth]
        clear += [
            field
            for fields in METHOD_FIELDS.values()
            for field in fields
            if field not in new_fields and values.get(field) is None
        ]
        if auth == "token":
            clear.append("auth_namespace")
    for field, value in list(values.items()):
        if value == "":
            clear.append(field)
            values[field] = None
    updated = service.update(name, values, clear=list(dict.fromkeys(clear)))
    view = service.view(updated)
    emit(
        view.to_dict(),
        lambda: stdout.print(f"Updated integration '{name}'.", markup=False),
        as_json=json_output,
    )
