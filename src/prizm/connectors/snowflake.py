"""Snowflake connector on snowflake-connector-python: a catalog scan.

Authentication is a password, or key-pair authentication with a PEM private key
(optionally encrypted with a passphrase). The key is decrypted in memory and handed
to the driver as DER bytes.

NOTE: no Snowflake account is reachable where Prizm is tested, so the scan queries
run only against Snowflake itself. Tests cover the fields, validation, the exact
arguments handed to the driver, key loading and the mapping of driver errors (the
driver's login request is answered by a local fake).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization

from prizm.connectors.base import (
    FieldSpec,
    FieldValues,
    JobResult,
    ProgressCallback,
    check_choice,
    check_port,
    format_count,
    scrubbed,
)
from prizm.errors import AuthenticationFailed, ConnectionFailed, InvalidField, JobFailed
from prizm.references import is_reference

__all__ = ["SNOWFLAKE", "SnowflakeConnector", "map_snowflake_error"]

ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
IDENTIFIER = re.compile(r'[A-Za-z_][A-Za-z0-9_$]{0,254}|"[^"]{1,255}"')

# Error numbers of snowflake-connector-python 3.x to 5.x that mean the login itself
# was rejected (wrong password, bad key, locked or disabled user, bad JWT).
AUTHENTICATION_ERRNOS = frozenset({250001, 390100, 390101, 390102, 390144, 394304})

TABLES_SQL = """
select table_schema, table_name, table_type, row_count
from information_schema.tables
where table_schema <> 'INFORMATION_SCHEMA'
order by 1, 2
"""

COLUMNS_SQL = """
select table_schema, table_name, column_name, data_type, is_nullable
from information_schema.columns
where table_schema <> 'INFORMATION_SCHEMA'
order by table_schema, table_name, ordinal_position
"""


class SnowflakeConnector:
    """Scans the tables and columns of one Snowflake database."""

    type_name: str = "snowflake"
    display_name: str = "Snowflake"
    fields: tuple[FieldSpec, ...] = (
        FieldSpec("account", "Account identifier", help="Such as myorg-account1."),
        FieldSpec("username", "Username"),
        FieldSpec("password", "Password", secret=True, required=False),
        FieldSpec(
            "private_key",
            "Private key (PEM)",
            secret=True,
            required=False,
            kind="pem",
            help="For key-pair authentication, instead of a password.",
        ),
        FieldSpec(
            "private_key_passphrase",
            "Private key passphrase",
            secret=True,
            required=False,
        ),
        FieldSpec("warehouse", "Warehouse", required=False),
        FieldSpec("role", "Role", required=False),
        FieldSpec("database", "Database"),
        FieldSpec(
            "host",
            "Host",
            required=False,
            help="Only for PrivateLink or a proxy. "
            "Default: <account>.snowflakecomputing.com.",
        ),
        FieldSpec("port", "Port", required=False, kind="integer", default="443"),
        FieldSpec(
            "protocol",
            "Protocol",
            required=False,
            kind="choice",
            choices=("https", "http"),
            default="https",
        ),
        FieldSpec(
            "login_timeout",
            "Login timeout (s)",
            default="30",
            kind="integer",
            required=False,
        ),
    )

    def validate(self, fields: Mapping[str, str]) -> None:
        account = fields.get("account")
        if account and not is_reference(account) and not ACCOUNT.fullmatch(account):
            raise InvalidField(
                f"The field 'account' must be a Snowflake account identifier such as "
                f"myorg-account1, not {account!r}.",
                hint="Copy it from Snowsight: Admin, Accounts, account identifier.",
            )
        for name in ("warehouse", "role", "database"):
            value = fields.get(name)
            if value and not is_reference(value) and not IDENTIFIER.fullmatch(value):
                raise InvalidField(
                    f"The field '{name}' must be a Snowflake identifier, "
                    f"not {value!r}.",
                    hint='Quote an identifier with special characters: "My Warehouse".',
                )
        if not fields.get("password") and not fields.get("private_key"):
            raise InvalidField(
                "A Snowflake connector needs the field 'password' or 'private_key'.",
                hint="Set one as a reference, for example "
                "--field password=vault://aws/prizm/snowflake#password.",
            )
        port = fields.get("port")
        if port and not is_reference(port):
            check_port("port", port)
        protocol = fields.get("protocol")
        if protocol and not is_reference(protocol):
            check_choice("protocol", protocol, ("https", "http"))

    def connect_arguments(self, values: FieldValues) -> dict[str, Any]:
        """Return the keyword arguments handed to ``snowflake.connector.connect``."""
        arguments: dict[str, Any] = {
            "account": values.require("account"),
            "user": values.require("username"),
            "database": values.require("database"),
            "application": "Prizm",
            "login_timeout": int(values.text("login_timeout", "30") or "30"),
            "client_session_keep_alive": False,
            "validate_default_parameters": True,
        }
        for name in ("warehouse", "role", "host"):
            value = values.text(name)
            if value:
                arguments[name] = value
        if "port" in values:
            arguments["port"] = int(values.require("port"))
        if "protocol" in values:
            arguments["protocol"] = values.require("protocol")
        if "private_key" in values:
            arguments["private_key"] = load_private_key(
                values.require("private_key"), values.text("private_key_passphrase")
            )
        elif "password" in values:
            arguments["password"] = values.require("password")
        else:
            raise InvalidField(
                "The Snowflake connector has neither a password nor a private key.",
                hint="Set the field 'password' or 'private_key' to a reference.",
            )
        return arguments

    def run(self, values: FieldValues, progress: ProgressCallback) -> JobResult:
        """Log in and scan information_schema of the database."""
        import snowflake.connector

        arguments = self.connect_arguments(values)
        where = f"Snowflake account {arguments['account']}"
        progress("connecting", None)
        try:
            connection = snowflake.connector.connect(**arguments)
        except Exception as exc:  # noqa: BLE001 - every driver error is mapped
            raise map_snowflake_error(exc, where) from None
        try:
            return self._scan(connection, progress)
        except Exception as exc:  # noqa: BLE001 - every driver error is mapped
            raise JobFailed(
                f"The catalog scan of {where} failed: {scrubbed(exc)}",
                hint="Check that the role may use the warehouse and read the database.",
            ) from None
        finally:
            connection.close()

    def _scan(self, connection: Any, progress: ProgressCallback) -> JobResult:
        schemas: dict[str, dict[str, dict[str, Any]]] = {}
        cursor = connection.cursor()
        progress("listing tables", None)
        cursor.execute(TABLES_SQL)
        for schema, table, kind, rows in cursor.fetchall():
            schemas.setdefault(schema, {})[table] = {
                "name": table,
                "kind": str(kind).lower(),
                "row_estimate": rows,
                "columns": [],
            }
        progress("listing columns", 0.5)
        cursor.execute(COLUMNS_SQL)
        for schema, table, column, data_type, nullable in cursor.fetchall():
            entry = schemas.get(schema, {}).get(table)
            if entry is not None:
                entry["columns"].append(
                    {"name": column, "type": data_type, "nullable": nullable == "YES"}
                )
        progress("done", 1.0)
        catalog = [
            {"name": schema, "tables": list(tables.values())}
            for schema, tables in schemas.items()
        ]
        table_count = sum(len(schema["tables"]) for schema in catalog)
        return JobResult(
            summary=", ".join(
                [
                    format_count(len(catalog), "schema"),
                    format_count(table_count, "table"),
                ]
            ),
            data={"schemas": catalog},
        )


def load_private_key(pem: str, passphrase: str | None) -> bytes:
    """Decrypt a PEM private key and return it as unencrypted PKCS#8 DER bytes."""
    password = passphrase.encode("utf-8") if passphrase else None
    problem: str | None = None
    try:
        key = serialization.load_pem_private_key(pem.encode("utf-8"), password=password)
    except TypeError:
        problem = (
            "it is encrypted and no passphrase is set"
            if password is None
            else "it is not encrypted, but a passphrase is set"
        )
    except ValueError:
        problem = "it is not a valid PEM private key, or the passphrase is wrong"
    if problem is not None:
        # Raised outside the except block so no cryptography exception, which may
        # quote key material, is attached as the context.
        raise InvalidField(
            f"The Snowflake private key cannot be loaded: {problem}.",
            hint="Store the PKCS#8 PEM key (and its passphrase) in the vault as "
            "generated with openssl genrsa and openssl pkcs8.",
        )
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return der


def map_snowflake_error(exc: BaseException, where: str) -> Exception:
    """Map an exception of snowflake-connector-python to a Prizm error."""
    errno = getattr(exc, "errno", None)
    message = scrubbed(exc)
    if (
        errno in AUTHENTICATION_ERRNOS
        or "incorrect username or password" in message.lower()
    ):
        return AuthenticationFailed(
            f"{where} rejected the login: {message}",
            hint="Check that the username and the password or private key in the vault "
            "match the Snowflake user.",
        )
    return ConnectionFailed(
        f"Could not connect to {where}: {message}",
        hint="Check the account identifier, the network and any PrivateLink host.",
    )


SNOWFLAKE = SnowflakeConnector()
