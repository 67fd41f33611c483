"""``prizm integration add aws`` and ``prizm integration update aws``."""

from __future__ import annotations

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

__all__ = ["add_aws", "update_aws"]

RegionOption = Annotated[
    str | None,
    typer.Option("--region", help="AWS Region of the secrets, such as eu-west-1."),
]
AuthOption = Annotated[
    str | None,
    typer.Option(
        "--auth",
        help="iam-role (the default AWS credential chain) or access-keys.",
    ),
]
AccessKeyIdOption = Annotated[
    str | None, typer.Option("--access-key-id", help="Access Key ID, for access-keys.")
]
SecretKeyStdinOption = Annotated[
    bool,
    typer.Option(
        "--secret-access-key-stdin",
        help="Read the Secret Access Key from standard input (first line).",
    ),
]
SessionTokenStdinOption = Annotated[
    bool,
    typer.Option(
        "--session-token-stdin",
        help="Read a session token from standard input (the line after the key).",
    ),
]
KmsOption = Annotated[
    str | None,
    typer.Option("--kms-key-arn", help="KMS key ARN the secrets are encrypted with."),
]
RoleOption = Annotated[
    str | None, typer.Option("--role-arn", help="IAM role ARN to assume for reading.")
]
ExternalIdOption = Annotated[
    str | None, typer.Option("--external-id", help="External ID for assuming the role.")
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="Endpoint URL for every AWS service Prizm calls (VPC endpoint, emulator).",
    ),
]
StsEndpointOption = Annotated[
    str | None, typer.Option("--sts-endpoint-url", help="Endpoint URL for STS only.")
]
KmsEndpointOption = Annotated[
    str | None, typer.Option("--kms-endpoint-url", help="Endpoint URL for KMS only.")
]
ConnectTimeoutOption = Annotated[
    float | None, typer.Option("--connect-timeout", help="Connect timeout in seconds.")
]
ReadTimeoutOption = Annotated[
    float | None, typer.Option("--read-timeout", help="Read timeout in seconds.")
]
CacheTtlOption = Annotated[
    float | None,
    typer.Option(
        "--cache-ttl",
        help="Seconds to reuse a secret across runs after DescribeSecret confirms it "
        "is current; 0 (the default) reads the vault on every run.",
    ),
]
AllowHttpOption = Annotated[
    bool | None,
    typer.Option(
        "--allow-http/--no-allow-http",
        help="Accept http:// endpoint URLs (local emulators). Credentials and "
        "requests then travel unencrypted.",
    ),
]
MaxAttemptsOption = Annotated[
    int | None,
    typer.Option("--max-attempts", help="Attempts per AWS call, retries included."),
]


def _aws_values(
    *,
    region: str | None,
    auth: str | None,
    access_key_id: str | None,
    secret_access_key_stdin: bool,
    session_token_stdin: bool,
    kms_key_arn: str | None,
    role_arn: str | None,
    external_id: str | None,
    endpoint_url: str | None,
    sts_endpoint_url: str | None,
    kms_endpoint_url: str | None,
    connect_timeout: float | None,
    read_timeout: float | None,
    max_attempts: int | None,
    cache_ttl: float | None,
    allow_http: bool | None,
) -> dict[str, Any]:
    if auth is not None and auth not in ("iam-role", "access-keys"):
        raise UsageError(
            f"--auth must be iam-role or access-keys, not {auth!r}.",
            hint="Use iam-role for the default AWS credential chain, access-keys for "
            "an Access Key ID and Secret Access Key.",
        )
    if auth == "iam-role" and (
        secret_access_key_stdin or session_token_stdin or access_key_id
    ):
        raise UsageError(
            "--auth iam-role takes no access keys.",
            hint="Use --auth access-keys with --access-key-id and "
            "--secret-access-key-stdin, or drop the key options.",
        )
    if session_token_stdin and not secret_access_key_stdin:
        raise UsageError(
            "--session-token-stdin needs --secret-access-key-stdin.",
            hint="Send the Secret Access Key on the first line of standard input and "
            "the session token on the second.",
        )
    labels = []
    if secret_access_key_stdin:
        labels.append("Secret Access Key")
    if session_token_stdin:
        labels.append("Session token")
    secrets = read_secret_lines(labels)
    values: dict[str, Any] = {
        "region": region,
        "auth": auth,
        "access_key_id": access_key_id,
        "secret_access_key": secrets.get("Secret Access Key"),
        "session_token": secrets.get("Session token"),
        "kms_key_arn": kms_key_arn,
        "role_arn": role_arn,
        "external_id": external_id,
        "endpoint_url": endpoint_url,
        "sts_endpoint_url": sts_endpoint_url,
        "kms_endpoint_url": kms_endpoint_url,
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "max_attempts": max_attempts,
        "cache_ttl": cache_ttl,
        "allow_http": allow_http,
    }
    return values


@add_app.command("aws")
def add_aws(
    name: Annotated[
        str | None,
        typer.Argument(help="Integration name used in references; default 'aws'."),
    ] = None,
    region: RegionOption = None,
    auth: AuthOption = "iam-role",
    access_key_id: AccessKeyIdOption = None,
    secret_access_key_stdin: SecretKeyStdinOption = False,
    session_token_stdin: SessionTokenStdinOption = False,
    kms_key_arn: KmsOption = None,
    role_arn: RoleOption = None,
    external_id: ExternalIdOption = None,
    endpoint_url: EndpointOption = None,
    sts_endpoint_url: StsEndpointOption = None,
    kms_endpoint_url: KmsEndpointOption = None,
    connect_timeout: ConnectTimeoutOption = None,
    read_timeout: ReadTimeoutOption = None,
    max_attempts: MaxAttemptsOption = None,
    cache_ttl: CacheTtlOption = None,
    allow_http: AllowHttpOption = None,
    allowed_secrets: AllowedSecretsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add an AWS Secrets Manager integration."""
    if region is None:
        raise UsageError(
            "Missing option --region.",
            hint="Give the AWS Region of the secrets, for example --region eu-west-1.",
        )
    if auth == "access-keys" and not (access_key_id and secret_access_key_stdin):
        raise UsageError(
            "--auth access-keys needs --access-key-id and --secret-access-key-stdin.",
            hint="Send the Secret Access Key on standard input, for example: "
            "printf '%s\\n' \"$KEY\" | prizm integration add aws --region eu-west-1 "
            "--auth access-keys --access-key-id AKIA... --secret-access-key-stdin",
        )
    values = _aws_values(
        region=region,
        auth=auth,
        access_key_id=access_key_id,
        secret_access_key_stdin=secret_access_key_stdin,
        session_token_stdin=session_token_stdin,
        kms_key_arn=kms_key_arn,
        role_arn=role_arn,
        external_id=external_id,
        endpoint_url=endpoint_url,
        sts_endpoint_url=sts_endpoint_url,
        kms_endpoint_url=kms_endpoint_url,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_attempts=max_attempts,
        cache_ttl=cache_ttl,
        allow_http=allow_http,
    )
    values = {key: value for key, value in values.items() if value is not None}
    service = integration_service()
    record = service.add("aws", name, values, allowed_secrets or [])
    warn_if_unrestricted(record)
    view = service.view(record)
    emit(
        view.to_dict(),
        lambda: stdout.print(
            f"Added {view.display_name} integration '{record.name}' "
            f"({view.summary['location']}). Check it with: prizm integration test "
            f"{record.name} --secret <secret-name>"
        ),
        as_json=json_output,
    )


@update_app.command("aws")
def update_aws(
    name: Annotated[str, typer.Argument(help="AWS integration to change.")],
    region: RegionOption = None,
    auth: AuthOption = None,
    access_key_id: AccessKeyIdOption = None,
    secret_access_key_stdin: SecretKeyStdinOption = False,
    session_token_stdin: SessionTokenStdinOption = False,
    kms_key_arn: KmsOption = None,
    role_arn: RoleOption = None,
    external_id: ExternalIdOption = None,
    endpoint_url: EndpointOption = None,
    sts_endpoint_url: StsEndpointOption = None,
    kms_endpoint_url: KmsEndpointOption = None,
    connect_timeout: ConnectTimeoutOption = None,
    read_timeout: ReadTimeoutOption = None,
    max_attempts: MaxAttemptsOption = None,
    cache_ttl: CacheTtlOption = None,
    allow_http: AllowHttpOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change an AWS integration. Options not given are kept; "" clears one."""
    service = integration_service()
    record = service.get(name)
    if record.type != "aws":
        raise UsageError(
            f"Integration '{name}' is of type {record.type}, not aws.",
            hint=f"See: prizm integration update {name} --help",
        )
    values = _aws_values(
        region=region,
        auth=auth,
        access_key_id=access_key_id,
        secret_access_key_stdin=secret_access_key_stdin,
        session_token_stdin=session_token_stdin,
        kms_key_arn=kms_key_arn,
        role_arn=role_arn,
        external_id=external_id,
        endpoint_url=endpoint_url,
        sts_endpoint_url=sts_endpoint_url,
        kms_endpoint_url=kms_endpoint_url,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_attempts=max_attempts,
        cache_ttl=cache_ttl,
        allow_http=allow_http,
    )
    clear: list[str] = []
    if auth == "iam-role":
        clear += ["access_key_id", "secret_access_key", "session_token"]
    for field, value in list(values.items()):
        if value == "":
            clear.append(field)
            values[field] = None
    updated = service.update(name, values, clear=clear)
    view = service.view(updated)
    emit(
        view.to_dict(),
        lambda: stdout.print(f"Updated integration '{name}'."),
        as_json=json_output,
    )
