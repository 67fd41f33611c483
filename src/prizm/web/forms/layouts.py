"""Per-type layout hints for integration forms: labels, order, grouping, visibility.

The fields themselves come from each type's pydantic settings model, so a new
integration type gets a working form without a hint. A hint only makes it read
better.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LAYOUTS", "Layout"]


@dataclass(frozen=True)
class Layout:
    """How to present one integration type's settings.

    ``main`` fields come first in that order; ``advanced`` ones go in a collapsed
    section; fields named in neither follow ``main`` in model order. ``show_when``
    maps a field to the controlling field and the values that make it visible.
    """

    labels: dict[str, str] = field(default_factory=dict)
    help: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, str] = field(default_factory=dict)
    choice_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    main: tuple[str, ...] = ()
    advanced: tuple[str, ...] = ()
    show_when: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


AWS_KEYS = ("auth", ("access-keys",))

AWS_LAYOUT = Layout(
    labels={
        "region": "AWS Region",
        "auth": "Authentication Method",
        "access_key_id": "Access Key ID",
        "secret_access_key": "Secret Access Key",
        "session_token": "Session Token",
        "kms_key_arn": "KMS Key ARN",
        "role_arn": "Role ARN to assume",
        "external_id": "External ID",
        "endpoint_url": "Endpoint URL",
        "sts_endpoint_url": "STS endpoint URL",
        "kms_endpoint_url": "KMS endpoint URL",
        "connect_timeout": "Connect timeout (seconds)",
        "read_timeout": "Read timeout (seconds)",
        "max_attempts": "Attempts per call",
        "allow_http": "Allow http:// endpoint URLs",
        "cache_ttl": "Cache TTL (seconds)",
    },
    help={
        "auth": "IAM Role uses the server's AWS credential chain (environment, "
        "IRSA, ECS or EC2 instance role); Access Keys uses the keys entered here.",
        "kms_key_arn": "The customer managed key the secrets are encrypted with; "
        "Test Connection then checks that it can be used.",
        "role_arn": "A role in another account to assume before reading secrets.",
        "external_id": "The External ID that the role's trust policy requires.",
        "endpoint_url": "For VPC endpoints or emulators; applies to Secrets "
        "Manager, STS and KMS.",
        "allow_http": "Only for local emulators: credentials and requests then "
        "travel unencrypted.",
        "cache_ttl": "Seconds to reuse a secret across runs after DescribeSecret "
        "confirms it is current; 0 reads the vault on every run.",
        "session_token": "Only for temporary credentials.",
        "max_attempts": "Attempts per AWS call, retries included.",
    },
    placeholders={
        "region": "eu-west-1",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "kms_key_arn": "arn:aws:kms:eu-west-1:111122223333:key/...",
        "role_arn": "arn:aws:iam::111122223333:role/prizm-reader",
        "endpoint_url": "https://secretsmanager.eu-west-1.amazonaws.com",
    },
    choice_labels={"auth": {"iam-role": "IAM Role", "access-keys": "Access Keys"}},
    main=("region", "auth", "access_key_id", "secret_access_key", "kms_key_arn"),
    advanced=(
        "session_token",
        "role_arn",
        "external_id",
        "endpoint_url",
        "sts_endpoint_url",
        "kms_endpoint_url",
        "connect_timeout",
        "read_timeout",
        "max_attempts",
        "allow_http",
        "cache_ttl",
    ),
    show_when={
        "access_key_id": AWS_KEYS,
        "secret_access_key": AWS_KEYS,
        "session_token": AWS_KEYS,
    },
)

HASHICORP_LAYOUT = Layout(
    labels={
        "address": "Vault address",
        "namespace": "Namespace",
        "auth": "Authentication Method",
        "token": "Token",
        "role_id": "Role ID",
        "secret_id": "Secret ID",
        "kubernetes_role": "Kubernetes role",
        "jwt_file": "Service account token file",
        "username": "Username",
        "password": "Password",
        "auth_mount": "Auth mount path",
        "auth_namespace": "Auth namespace",
        "ca_cert": "CA certificate file",
        "client_cert": "Client certificate file",
        "client_key": "Client key file",
        "tls_skip_verify": "Skip TLS verification (development only)",
        "allow_http": "Allow http:// (development only)",
        "timeout": "Timeout (seconds)",
    },
    placeholders={"address": "https://vault.example.com:8200"},
    choice_labels={
        "auth": {
            "token": "Token",
            "approle": "AppRole",
            "kubernetes": "Kubernetes",
            "userpass": "Username and password",
        }
    },
    main=(
        "address",
        "namespace",
        "auth",
        "token",
        "role_id",
        "secret_id",
        "kubernetes_role",
        "jwt_file",
        "username",
        "password",
        "auth_mount",
    ),
    advanced=(
        "auth_namespace",
        "ca_cert",
        "client_cert",
        "client_key",
        "tls_skip_verify",
        "allow_http",
        "timeout",
    ),
    show_when={
        "token": ("auth", ("token",)),
        "role_id": ("auth", ("approle",)),
        "secret_id": ("auth", ("approle",)),
        "kubernetes_role": ("auth", ("kubernetes",)),
        "jwt_file": ("auth", ("kubernetes",)),
        "username": ("auth", ("userpass",)),
        "password": ("auth", ("userpass",)),
        "auth_mount": ("auth", ("approle", "kubernetes", "userpass")),
        "auth_namespace": ("auth", ("approle", "kubernetes", "userpass")),
    },
)

AZURE_APP = ("auth", ("client-secret", "client-certificate"))

AZURE_LAYOUT = Layout(
    labels={
        "vault_url": "Vault URL",
        "auth": "Authentication Method",
        "tenant_id": "Directory (tenant) ID",
        "client_id": "Application (client) ID",
        "client_secret": "Client secret",
        "certificate_file": "Certificate file",
        "certificate_password": "Certificate password",
        "authority_host": "Authority host",
        "exclude_credentials": "Skip in the default chain",
        "ca_bundle": "CA bundle file",
        "connect_timeout": "Connect timeout (seconds)",
        "read_timeout": "Read timeout (seconds)",
        "max_retries": "Retries",
        "max_retry_wait": "Maximum Retry-After wait (seconds)",
    },
    help={
        "client_id": "For managed identity: the client ID of a user-assigned "
        "identity; leave empty for the system-assigned one.",
        "certificate_file": "Absolute path of a PEM file with the private key.",
        "max_retry_wait": "A throttled call whose Retry-After is longer fails at "
        "once instead of waiting.",
    },
    placeholders={
        "vault_url": "https://my-vault.vault.azure.net",
        "tenant_id": "00000000-0000-0000-0000-000000000000",
        "client_id": "00000000-0000-0000-0000-000000000000",
    },
    choice_labels={
        "auth": {
            "client-secret": "Client secret",
            "client-certificate": "Client certificate",
            "managed-identity": "Managed identity",
            "default": "Default credential chain",
        }
    },
    main=(
        "vault_url",
        "auth",
        "tenant_id",
        "client_id",
        "client_secret",
        "certificate_file",
        "certificate_password",
    ),
    advanced=(
        "authority_host",
        "exclude_credentials",
        "ca_bundle",
        "connect_timeout",
        "read_timeout",
        "max_retries",
        "max_retry_wait",
    ),
    show_when={
        "tenant_id": AZURE_APP,
        "client_secret": ("auth", ("client-secret",)),
        "certificate_file": ("auth", ("client-certificate",)),
        "certificate_password": ("auth", ("client-certificate",)),
        "exclude_credentials": ("auth", ("default",)),
    },
)

LAYOUTS: dict[str, Layout] = {
    "aws": AWS_LAYOUT,
    "hashicorp": HASHICORP_LAYOUT,
    "azure": AZURE_LAYOUT,
}
