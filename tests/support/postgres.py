"""A real PostgreSQL server for the tests, and throwaway databases and logins on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from devtools.servers import PostgresServer
from prizm.store.store import reset_stores
from tests.support.canaries import CANARIES

__all__ = ["Database", "StoreDatabase", "database", "pg_store", "postgres"]

SCHEMA = """
create schema sales;
create table public.customers (
    id bigint primary key,
    name text not null,
    email varchar(320)
);
create table sales.orders (
    id bigint primary key,
    customer_id bigint references public.customers (id),
    amount numeric(12, 2) not null,
    placed_at timestamptz
);
create view sales.big_orders as select * from sales.orders where amount > 100;
insert into public.customers
    select i, 'customer ' || i, 'c' || i || '@example.com'
    from generate_series(1, 120) i;
insert into sales.orders
    select i, 1 + i % 120, i * 1.5, now() from generate_series(1, 300) i;
analyze;
"""


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server with SCRAM password authentication, for the session."""
    with PostgresServer() as server:
        yield server


@dataclass
class Database:
    """A database with a few tables and a login role that owns it."""

    server: PostgresServer
    name: str
    user: str
    password: str

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.server.port

    def set_password(self, password: str) -> None:
        """Change the login's password, as a rotation's setSecret step does."""
        with psycopg.connect(self.server.dsn(), autocommit=True) as connection:
            connection.execute(
                psycopg.sql.SQL("alter role {} with password {}").format(
                    psycopg.sql.Identifier(self.user), psycopg.sql.Literal(password)
                )
            )
        self.password = password

    def secret_json(self) -> dict[str, object]:
        """Return the credentials in the JSON shape AWS uses for database secrets."""
        return {
            "engine": "postgres",
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "password": self.password,
            "dbname": self.name,
        }


@pytest.fixture
def database(postgres: PostgresServer) -> Iterator[Database]:
    """A fresh database and login role, whose password the leak scan watches."""
    suffix = secrets.token_hex(4)
    name = f"db_{suffix}"
    user = f"reader_{suffix}"
    password = "initial-" + secrets.token_urlsafe(12)
    CANARIES.watch(password)
    sql = psycopg.sql
    with psycopg.connect(postgres.dsn(), autocommit=True) as connection:
        connection.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
        connection.execute(
            sql.SQL("create database {} owner {}").format(
                sql.Identifier(name), sql.Identifier(user)
            )
        )
    with psycopg.connect(
        postgres.dsn(name, user, password), autocommit=True
    ) as connection:
        connection.execute(SCHEMA)
    yield Database(postgres, name, user, password)
    with psycopg.connect(postgres.dsn(), autocommit=True) as connection:
        connection.execute(
            sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(name)
            )
        )
        connection.execute(
            sql.SQL("drop role if exists {}").format(sql.Identifier(user))
        )


@dataclass
class StoreDatabase:
    """A database of its own on the test server, holding the Prizm store."""

    server: PostgresServer
    name: str

    @property
    def url(self) -> str:
        """The SQLAlchemy URL, as set in ``PRIZM_DATABASE_URL``."""
        server = self.server
        return (
            f"postgresql+psycopg://{server.superuser}:{server.password}"
            f"@127.0.0.1:{server.port}/{self.name}"
        )

    def execute(self, sql: str, params: object = None) -> None:
        """Run one statement in the store's database, as the superuser."""
        self.server.execute(sql, params, database=self.name)

    def rows_as_text(self) -> str:
        """Return every row of every table as JSON text, for the leak scan."""
        lines: list[str] = []
        with psycopg.connect(self.server.dsn(self.name), autocommit=True) as conn:
            tables = conn.execute(
                "select tablename from pg_tables where schemaname = 'public'"
            ).fetchall()
            for (table,) in tables:
                query = psycopg.sql.SQL("select row_to_json(t)::text from {} t")
                rows = conn.execute(query.format(psycopg.sql.Identifier(table)))
                lines.extend(str(row[0]) for row in rows)
        return "\n".join(lines)


@pytest.fixture
def pg_store(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StoreDatabase]:
    """A fresh PostgreSQL database as the Prizm store, through PRIZM_DATABASE_URL.

    The variable is set in this process's environment, so the Prizm processes a
    test starts use the same store.
    """
    store = StoreDatabase(postgres, f"store_{secrets.token_hex(4)}")
    postgres.execute(f'create database "{store.name}"')
    monkeypatch.setenv("PRIZM_DATABASE_URL", store.url)
    reset_stores()
    yield store
    reset_stores()
    postgres.execute(f'drop database if exists "{store.name}" with (force)')
