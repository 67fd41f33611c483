"""Database operations of a rotation, over psycopg, for PostgreSQL and Redshift.

Redshift speaks the PostgreSQL wire protocol and accepts the same ``ALTER USER ...
WITH PASSWORD`` and ``CREATE USER`` statements, so one module serves both. Where they
differ (how a password is sent, how a clone gets the original user's rights) the
functions check ``DatabaseSecret.is_redshift``.

Statements are composed with ``psycopg.sql`` and never logged. psycopg errors are
turned into Prizm errors without chaining: a connection error repeats the
connection's parameters, and nothing here lets a value reach a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from prizm import redaction
from prizm.errors import DatabaseLoginFailed, RotationError
from prizm.rotation.document import DatabaseSecret
from prizm.secrets import SecretValue

__all__ = [
    "CONNECT_TIMEOUT",
    "can_log_in",
    "check_login",
    "connect",
    "create_clone",
    "ensure_membership",
    "set_password",
    "user_exists",
]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
"""Seconds to wait for a database connection, as in AWS's rotation templates."""

APPLICATION_NAME = "prizm-rotation"

_LOGIN_FAILURES = (
    "password authentication failed",
    "authentication failed",
    'role "',
    "no pg_hba.conf entry",
    "is not permitted to log in",
    "too many connections for role",
)
"""Phrases of server messages that mean this login was rejected, not the server
unreachable. PostgreSQL 15 reports 'role "x" does not exist' for an unknown user and
'role "x" is not permitted to log in' for NOLOGIN."""


def _connection_options(login: DatabaseSecret, timeout: float) -> dict[str, Any]:
    options: dict[str, Any] = {
        "host": login.host,
        "port": login.port,
        "user": login.username,
        "password": login.password.reveal(),
        "dbname": login.dbname,
        "connect_timeout": max(1, round(timeout)),
        "application_name": APPLICATION_NAME,
    }
    # Without an "ssl" key libpq's default applies (sslmode=prefer, or PGSSLMODE).
    if login.ssl is True:
        options["sslmode"] = "verify-full"
    elif login.ssl is False:
        options["sslmode"] = "disable"
    return options


def _server_reason(exc: psycopg.Error) -> str:
    """Return the server's reason from a psycopg error, masked, on one line."""
    primary = getattr(exc.diag, "message_primary", None)
    if primary:
        return redaction.scrub(str(primary))
    text = str(exc).strip().splitlines()
    last = text[-1] if text else exc.__class__.__name__
    if "FATAL:" in last:
        last = last.split("FATAL:", 1)[1]
    return redaction.scrub(last.strip())


@contextmanager
def connect(
    login: DatabaseSecret, *, timeout: float = CONNECT_TIMEOUT
) -> Iterator[psycopg.Connection[Any]]:
    """Log in as ``login`` in autocommit mode, and close the connection afterwards.

    Raises ``DatabaseLoginFailed`` when the server rejects the login and
    ``RotationError`` when it cannot be reached.
    """
    try:
        connection = psycopg.connect(
            **_connection_options(login, timeout), autocommit=True
        )
    except psycopg.Error as exc:
        reason = _server_reason(exc)
        # Not chained: psycopg's message and attributes repeat connection details.
        if any(phrase in reason for phrase in _LOGIN_FAILURES):
            raise DatabaseLoginFailed(
                f"The database rejected the login of {login.address()}: {reason}.",
                hint="Check that the user exists, may log in, and that the secret's "
                "password is the user's password.",
            ) from None
        raise RotationError(
            f"Could not connect to {login.address()}: {reason}.",
            hint="Check the host and port in the secret, and that the rotation "
            "function's network reaches the database.",
        ) from None
    try:
        yield connection
    finally:
        connection.close()


def can_log_in(login: DatabaseSecret, *, timeout: float = CONNECT_TIMEOUT) -> bool:
    """Return whether the database accepts ``login``.

    A rejected login returns False; an unreachable server raises ``RotationError``.
    """
    try:
        check_login(login, timeout=timeout)
    except DatabaseLoginFailed:
        return False
    return True


def check_login(login: DatabaseSecret, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Log in as ``login`` and run ``SELECT 1``, or raise."""
    with connect(login, timeout=timeout) as connection:
        _execute(connection, sql.SQL("SELECT 1"), action="run SELECT 1")


def user_exists(
    connection: psycopg.Connection[Any], login: DatabaseSecret, username: str
) -> bool:
    """Return whether a user (a role, in PostgreSQL) named ``username`` exists."""
    # Redshift has no pg_roles. PostgreSQL's pg_user lists only roles that may log
    # in, and a clone made NOLOGIN by hand still exists.
    if login.is_redshift:
        query = sql.SQL("SELECT 1 FROM pg_user WHERE usename = %s")
    else:
        query = sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = %s")
    row = connection.execute(query, (username,)).fetchone()
    return row is not None


def _password_literal(
    connection: psycopg.Connection[Any],
    login: DatabaseSecret,
    username: str,
    password: SecretValue,
) -> sql.Composable:
    """Return the password to put in a statement.

    PostgreSQL gets the verifier that libpq computes with the server's
    password_encryption (SCRAM-SHA-256 by default), so the plain password is never
    part of a statement that the server could log. Redshift does not accept SCRAM
    verifiers and gets the password itself, which it hashes.
    """
    if login.is_redshift:
        return sql.Literal(password.reveal())
    verifier = connection.pgconn.encrypt_password(
        password.reveal().encode("utf-8"), username.encode("utf-8")
    )
    return sql.Literal(verifier.decode("ascii"))


def set_password(
    connection: psycopg.Connection[Any],
    login: DatabaseSecret,
    username: str,
    password: SecretValue,
) -> None:
    """Change the password of ``username`` (``ALTER USER ... WITH PASSWORD``)."""
    statement = sql.SQL("ALTER USER {} WITH PASSWORD {}").format(
        sql.Identifier(username),
        _password_literal(connection, login, username, password),
    )
    _execute(connection, statement, action=f"change the password of '{username}'")


def create_clone(
    connection: psycopg.Connection[Any],
    login: DatabaseSecret,
    original: str,
    clone: str,
    password: SecretValue,
) -> None:
    """Create the login ``clone`` with the rights of ``original``, in one transaction.

    PostgreSQL: the clone becomes a member of the original user's role
    (``GRANT original TO clone``), so it has every privilege the original has, now and
    later, and inherits them. Role attributes such as CREATEDB are not inherited, and
    objects the clone creates belong to the clone.

    Redshift has no membership of one user in another, so the clone gets the
    original's privileges on databases, schemas and tables that exist now.
    """
    create = sql.SQL("CREATE USER {} WITH PASSWORD {}").format(
        sql.Identifier(clone), _password_literal(connection, login, clone, password)
    )
    with connection.transaction():
        _execute(connection, create, action=f"create the user '{clone}'")
        if login.is_redshift:
            _copy_redshift_privileges(connection, original, clone)
        else:
            grant = sql.SQL("GRANT {} TO {}").format(
                sql.Identifier(original), sql.Identifier(clone)
            )
            _execute(
                connection,
                grant,
                action=f"grant '{original}' to '{clone}'",
                hint=_grant_hint(original, login.username),
            )


def ensure_membership(
    connection: psycopg.Connection[Any],
    login: DatabaseSecret,
    original: str,
    clone: str,
) -> None:
    """Grant ``original`` to ``clone`` unless it is granted (PostgreSQL only).

    This repairs a clone that exists without the membership, such as one left by a
    failed run or created by hand.
    """
    query = sql.SQL(
        "SELECT 1 FROM pg_auth_members m "
        "JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
        "WHERE r.rolname = %s AND u.rolname = %s"
    )
    if connection.execute(query, (original, clone)).fetchone() is not None:
        return
    grant = sql.SQL("GRANT {} TO {}").format(
        sql.Identifier(original), sql.Identifier(clone)
    )
    _execute(
        connection,
        grant,
        action=f"grant '{original}' to '{clone}'",
        hint=_grant_hint(original, login.username),
    )


REDSHIFT_GRANTS = (
    (
        "DATABASE",
        ("CREATE", "TEMPORARY"),
        "SELECT quote_ident(datname) FROM pg_database "
        "WHERE has_database_privilege(%s, datname, %s)",
    ),
    (
        "SCHEMA",
        ("CREATE", "USAGE"),
        "SELECT DISTINCT quote_ident(schemaname) FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_internal', 'pg_automv', 'pg_catalog', "
        "'information_schema') AND has_schema_privilege(%s, schemaname, %s)",
    ),
    (
        "TABLE",
        ("SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES"),
        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) "
        "FROM pg_tables WHERE schemaname NOT IN ('pg_internal', 'pg_automv', "
        "'pg_catalog', 'information_schema') "
        "AND has_table_privilege(%s, quote_ident(schemaname) || '.' || "
        "quote_ident(tablename), %s)",
    ),
)
"""Per object type: the privileges copied to a Redshift clone, and the query that
lists the objects on which the original user has one. The names come back quoted by
the server's quote_ident."""


def _copy_redshift_privileges(
    connection: psycopg.Connection[Any], original: str, clone: str
) -> None:
    # NOTE: written for Redshift's catalog and run in tests against PostgreSQL only;
    # privileges on views, functions and objects created later are not copied.
    for object_type, privileges, query in REDSHIFT_GRANTS:
        for privilege in privileges:
            rows = connection.execute(sql.SQL(query), (original, privilege)).fetchall()
            names = [sql.SQL(str(row[0])) for row in rows]
            if not names:
                continue
            grant = sql.SQL("GRANT {} ON {} {} TO {}").format(
                sql.SQL(privilege),
                sql.SQL(object_type),
                sql.SQL(", ").join(names),
                sql.Identifier(clone),
            )
            _execute(
                connection,
                grant,
                action=f"grant {privilege} on {len(names)} {object_type.lower()}s",
            )


def _grant_hint(original: str, login: str) -> str:
    return (
        f"The master user '{login}' needs the right to grant '{original}': it must be "
        "a superuser, or, in PostgreSQL 16 and later, have ADMIN OPTION on it (GRANT "
        f'"{original}" TO "{login}" WITH ADMIN OPTION). The current credentials '
        "still work."
    )


def _execute(
    connection: psycopg.Connection[Any],
    statement: sql.SQL | sql.Composed,
    *,
    action: str,
    hint: str | None = None,
) -> None:
    try:
        connection.execute(statement)
    except psycopg.Error as exc:
        sqlstate = getattr(exc, "sqlstate", None) or "unknown"
        # Not chained: the exception contains the statement, which may contain a
        # password.
        raise RotationError(
            f"The database could not {action}: {_server_reason(exc)} "
            f"(SQLSTATE {sqlstate}).",
            hint=hint
            or "Check that the user running the statement has the right to do it; "
            "the current credentials still work.",
        ) from None
