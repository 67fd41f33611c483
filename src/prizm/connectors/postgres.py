"""PostgreSQL and Redshift connectors on psycopg 3: a catalog scan.

Redshift speaks the PostgreSQL wire protocol, so both use psycopg and the same
catalog queries (``pg_class``, ``pg_attribute``, ``format_type``), which both
systems provide. Values are passed to ``psycopg.connect`` as keyword arguments, so a
password full of ``@ : / # % ? & = +`` reaches the server unchanged, with no URL
encoding on the way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

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

__all__ = ["POSTGRES", "REDSHIFT", "PostgresConnector"]

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
AUTHENTICATION_STATES = frozenset({"28P01", "28000"})
AUTHENTICATION_WORDS = ("password authentication failed", "authentication failed")

RELATION_KINDS = {
    "r": "table",
    "p": "table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}

TABLES_SQL = """
select n.nspname, c.relname, c.relkind, c.reltuples::bigint
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_toast%%'
  and n.nspname not like 'pg\\_temp%%'
  and has_schema_privilege(n.oid, 'USAGE')
order by 1, 2
"""

COLUMNS_SQL = """
select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), not a.attnotnull
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %s
  and c.relkind in ('r', 'p', 'v', 'm', 'f')
  and a.attnum > 0
  and not a.attisdropped
order by c.relname, a.attnum
"""


def _fields(default_port: str, default_sslmode: str) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("host", "Host", help="Host name or IP address of the server."),
        FieldSpec("port", "Port", default=default_port, kind="integer", required=False),
        FieldSpec("database", "Database", help="Database to scan."),
        FieldSpec("username", "Username"),
        FieldSpec("password", "Password", secret=True),
        FieldSpec(
            "sslmode",
            "SSL mode",
            default=default_sslmode,
            kind="choice",
            choices=SSL_MODES,
            required=False,
        ),
        FieldSpec(
            "connect_timeout",
            "Connect timeout (s)",
            default="10",
            kind="integer",
            required=False,
        ),
    )


class PostgresConnector:
    """Scans schemas, tables, columns and approximate row counts."""

    def __init__(
        self, type_name: str, display_name: str, default_port: str, default_sslmode: str
    ) -> None:
        self.type_name = type_name
        self.display_name = display_name
        self.fields = _fields(default_port, default_sslmode)

    def validate(self, fields: Mapping[str, str]) -> None:
        port = fields.get("port")
        if port and not is_reference(port):
            check_port("port", port)
        sslmode = fields.get("sslmode")
        if sslmode and not is_reference(sslmode):
            check_choice("sslmode", sslmode, SSL_MODES)
        timeout = fields.get("connect_timeout")
        if timeout and not is_reference(timeout):
            if not timeout.isdigit() or not 1 <= int(timeout) <= 300:
                raise InvalidField(
                    "The field 'connect_timeout' must be 1 to 300 seconds, "
                    f"not {timeout!r}.",
                    hint="Set it with --field connect_timeout=10.",
                )

    def connect_arguments(self, values: FieldValues) -> dict[str, Any]:
        """Return the keyword arguments handed to ``psycopg.connect``."""
        defaults = {spec.name: spec.default for spec in self.fields}
        port = values.text("port", defaults["port"]) or defaults["port"]
        assert port is not None
        check_port("port", port)
        for field in ("host", "database", "username", "password", "sslmode"):
            if "\x00" in (values.text(field) or ""):
                # libpq reads C strings, so a NUL would silently cut the value.
                raise InvalidField(
                    f"The value of field '{field}' contains a NUL character, which "
                    f"{self.display_name} cannot take.",
                    hint="Remove the NUL character from the value in the vault.",
                )
        return {
            "host": values.require("host"),
            "port": int(port),
            "dbname": values.require("database"),
            "user": values.require("username"),
            "password": values.require("password"),
            "sslmode": values.text("sslmode", defaults["sslmode"]),
            "connect_timeout": int(values.text("connect_timeout", "10") or "10"),
            "application_name": "prizm",
        }

    def where(self, arguments: Mapping[str, Any]) -> str:
        return f"{self.display_name} at {arguments['host']}:{arguments['port']}"

    def connect(self, values: FieldValues) -> psycopg.Connection[Any]:
        """Open a connection, mapping login and network failures to Prizm errors."""
        arguments = self.connect_arguments(values)
        try:
            return psycopg.connect(**arguments)
        except psycopg.Error as exc:
            message = scrubbed(exc)
            state = getattr(exc, "sqlstate", None)
            lowered = message.lower()
            if state in AUTHENTICATION_STATES or any(
                w in lowered for w in AUTHENTICATION_WORDS
            ):
                raise AuthenticationFailed(
                    f"{self.where(arguments)} rejected the login: {message}",
                    hint="Check that the username and password in the vault match the "
                    "database, and that pg_hba.conf allows this client.",
                ) from None
            if state == "3D000":
                raise ConnectionFailed(
                    f"{self.where(arguments)} has no such database: {message}",
                    hint="Check the connector's database field.",
                ) from None
            raise ConnectionFailed(
                f"Could not connect to {self.where(arguments)}: {message}",
                hint="Check the host, port, SSL mode and the network between Prizm "
                "and the database.",
            ) from None

    def run(self, values: FieldValues, progress: ProgressCallback) -> JobResult:
        """Scan the catalog: schemas, tables, columns with types, row estimates."""
        progress("connecting", None)
        with self.connect(values) as connection:
            try:
                return self._scan(connection, progress)
            except psycopg.Error as exc:
                raise JobFailed(
                    f"The catalog scan failed: {scrubbed(exc)}",
                    hint="Check that the user may read the catalog of the database.",
                ) from None

    def _scan(
        self, connection: psycopg.Connection[Any], progress: ProgressCallback
    ) -> JobResult:
        progress("listing tables", None)
        schemas: dict[str, dict[str, dict[str, Any]]] = {}
        with connection.cursor() as cursor:
            cursor.execute(TABLES_SQL)
            for schema, table, kind, estimate in cursor.fetchall():
                schemas.setdefault(schema, {})[table] = {
                    "name": table,
                    "kind": RELATION_KINDS.get(kind, kind),
                    "row_estimate": None
                    if estimate is None or estimate < 0
                    else int(estimate),
                    "columns": [],
                }
            for index, (schema, tables) in enumerate(schemas.items()):
                progress(f"scanning schema {schema}", index / max(len(schemas), 1))
                cursor.execute(COLUMNS_SQL, (schema,))
                for table, column, data_type, nullable in cursor.fetchall():
                    if table in tables:
                        tables[table]["columns"].append(
                            {
                                "name": column,
                                "type": data_type,
                                "nullable": bool(nullable),
                            }
                        )
        progress("done", 1.0)
        catalog: list[dict[str, Any]] = [
            {"name": schema, "tables": list(tables.values())}
            for schema, tables in schemas.items()
        ]
        table_count = sum(len(schema["tables"]) for schema in catalog)
        column_count = sum(
            len(table["columns"]) for schema in catalog for table in schema["tables"]
        )
        return JobResult(
            summary=", ".join(
                [
                    format_count(len(catalog), "schema"),
                    format_count(table_count, "table"),
                    format_count(column_count, "column"),
                ]
            ),
            data={"schemas": catalog},
        )


POSTGRES = PostgresConnector("postgres", "PostgreSQL", "5432", "prefer")
REDSHIFT = PostgresConnector("redshift", "Amazon Redshift", "5439", "require")
