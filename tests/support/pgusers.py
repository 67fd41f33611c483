"""Database users made for one test on the session's PostgreSQL (rotation tests)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

from devtools.servers import HOST, PostgresServer
from tests.support.canaries import CANARIES

__all__ = ["DatabaseFixture", "pg_users"]


@dataclass
class DatabaseFixture:
    """Users and secret documents on the session's PostgreSQL.

    Every name gets a random suffix, so tests share the server without seeing each
    other's users. Passwords are canaries, which the leak scan looks for.
    """

    server: PostgresServer
    suffix: str = field(default_factory=lambda: secrets.token_hex(4))
    roles: list[str] = field(default_factory=list)

    def name(self, base: str) -> str:
        return f"{base}_{self.suffix}"

    def create_user(self, base: str, *, attributes: str = "") -> tuple[str, str]:
        """Create a login role; return its name and canary password."""
        username = self.name(base)
        password = CANARIES.make(base)
        self.execute(
            sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}").format(
                sql.Identifier(username), sql.SQL(attributes), sql.Literal(password)
            )
        )
        self.roles.append(username)
        return username, password

    def create_master(self, username: str) -> tuple[str, str]:
        """Create a master user that may create the clone of ``username``.

        PostgreSQL 16 and later let a CREATEROLE user grant or change only roles on
        which it has ADMIN OPTION, so that is granted too, as a DBA would.
        """
        manager, password = self.create_user("manager", attributes="CREATEROLE")
        self.execute(
            sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(
                sql.Identifier(username), sql.Identifier(manager)
            )
        )
        return manager, password

    def execute(self, statement: sql.Composable | str, params: Any = None) -> None:
        """Run one statement as the superuser."""
        with psycopg.connect(self.server.dsn(), autocommit=True) as connection:
            connection.execute(statement, params)  # type: ignore[arg-type]

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.server.dsn(), autocommit=True) as connection:
            return connection.execute(statement, params).fetchall()  # type: ignore[arg-type]

    def document(self, username: str, password: str, **extra: Any) -> str:
        """Return the JSON document AWS stores for an RDS PostgreSQL login."""
        values = {
            "engine": "postgres",
            "host": HOST,
            "port": self.server.port,
            "username": username,
            "password": password,
            "dbname": "postgres",
            **extra,
        }
        return json.dumps(values)

    def can_log_in(self, document: str) -> bool:
        """Log in with a secret document's credentials and run SELECT 1."""
        values = json.loads(document)
        try:
            with psycopg.connect(
                host=values["host"],
                port=values["port"],
                user=values["username"],
                password=values["password"],
                dbname=values.get("dbname", "postgres"),
                connect_timeout=5,
            ) as connection:
                connection.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def drop_all(self) -> None:
        for role in reversed(self.roles + [f"{role}_clone" for role in self.roles]):
            statement = sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role))
            drop = sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role))
            try:
                self.execute(statement)
            except psycopg.Error:
                pass
            self.execute(drop)


@pytest.fixture
def pg_users(postgres: PostgresServer) -> Iterator[DatabaseFixture]:
    """Users for one test on the session's PostgreSQL, dropped afterwards."""
    fixture = DatabaseFixture(postgres)
    yield fixture
    fixture.drop_all()
