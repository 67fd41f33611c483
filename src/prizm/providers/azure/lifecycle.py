"""A secret version's lifecycle states that block a read, and their errors.

Key Vault rejects Get Secret on a disabled version with 403 ``SecretDisabled``. It
documents that Get Secret still returns a version before its activation date
(``nbf``) or after its expiry date (``exp``), so Prizm checks those attributes on
every read and rejects such a version itself. A deleted secret in a vault with soft
delete (the default) stays recoverable until its scheduled purge date.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from azure.keyvault.secrets import SecretProperties

from prizm.errors import (
    PrizmError,
    SecretDeleted,
    SecretDisabled,
    SecretExpired,
    SecretNotYetValid,
)

if TYPE_CHECKING:
    from prizm.providers.azure.errors import AzureErrorContext

__all__ = [
    "as_utc",
    "check_attributes",
    "deleted_error",
    "disabled_error",
    "expired_error",
    "not_yet_valid_error",
]


def check_attributes(
    properties: SecretProperties, context: AzureErrorContext, now: datetime
) -> PrizmError | None:
    """Return the error for a version that is disabled, not yet valid or expired."""
    if properties.enabled is False:
        return disabled_error(context)
    not_before = as_utc(properties.not_before)
    if not_before is not None and not_before > now:
        return not_yet_valid_error(context, not_before)
    expires = as_utc(properties.expires_on)
    if expires is not None and expires <= now:
        return expired_error(context, expires)
    return None


def as_utc(moment: datetime | None) -> datetime | None:
    """Return ``moment`` with a time zone, reading a naive one as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def disabled_error(context: AzureErrorContext) -> SecretDisabled:
    """Return the error for a disabled secret version."""
    return SecretDisabled(
        f"{context.target(capital=True)} is disabled {context.where()}.",
        hint="Enable it with: az keyvault secret set-attributes --vault-name "
        f"{context.vault_name()} --name {context.secret} --enabled true, or point "
        "the reference at an enabled version.",
        **context.fields(),
    )


def expired_error(
    context: AzureErrorContext, expired: datetime | None
) -> SecretExpired:
    """Return the error for a secret whose ``exp`` date has passed."""
    when = f" on {expired.isoformat()}" if expired else ""
    return SecretExpired(
        f"{context.target(capital=True)} expired{when} {context.where()}.",
        hint="Store a new version of the secret, or move its expiration date if the "
        "value is still good.",
        **context.fields(),
    )


def not_yet_valid_error(
    context: AzureErrorContext, activation: datetime | None
) -> SecretNotYetValid:
    """Return the error for a secret whose ``nbf`` (activation) date is ahead."""
    when = f" until {activation.isoformat()}" if activation else ""
    return SecretNotYetValid(
        f"{context.target(capital=True)} is not valid yet{when} {context.where()}.",
        hint="Wait for the activation date, or change the secret's activation date "
        "if it is wrong.",
        **context.fields(),
    )


def deleted_error(
    context: AzureErrorContext, deleted: datetime | None, purge: datetime | None
) -> SecretDeleted:
    """Return the error for a soft-deleted secret that can still be recovered."""
    when = f" on {deleted.isoformat()}" if deleted else ""
    until = f" until {purge.isoformat()}" if purge else ""
    return SecretDeleted(
        f"Secret '{context.secret}' was deleted{when} {context.where()}; it can be "
        f"recovered{until}.",
        hint="Recover it with: az keyvault secret recover --vault-name "
        f"{context.vault_name()} --name {context.secret}, or point the reference at "
        "another secret.",
        **context.fields(),
    )
