"""Users, API tokens and sessions in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import inspect, text, update

from devtools.servers import PostgresServer
from prizm.errors import InvalidLogin
from prizm.store import open_store
from prizm.store.auth_models import SessionRow
from prizm.store.database import head_revisions
from prizm.store.store import Store, reset_stores
from prizm.users import UserService

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated store on SQLite, or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield open_store()
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"store_{request.node.name.split('[')[0][-20:]}".lower()
    server.execute(f'drop database if exists "{name}"')
    server.execute(f'create database "{name}"')
    url = (
        f"postgresql+psycopg://{server.superuser}:{quote(server.password, safe='')}"
        f"@127.0.0.1:{server.port}/{name}"
    )
    yield open_store(url)
    reset_stores()
    server.execute(f'drop database if exists "{name}" with (force)')


class TestUserStore:
    def test_migration_creates_tables(self, store: Store) -> None:
        tables = set(inspect(store.engine).get_table_names())

        assert {"users", "api_tokens", "web_sessions"} <= tables
        with store.engine.connect() as connection:
            version = connection.execute(
                text("select version_num from alembic_version")
            ).scalar()
        assert {version} == head_revisions()

    def test_remove_user_drops_tokens_and_sessions(self, store: Store) -> None:
        service = UserService(store)
        user = service.add("ana", "editor", PASSWORD)
        _, token = service.create_token("t1", "ana")
        _, cookie = service.start_session(user)

        service.remove("ana")

        assert service.user_for_token(token) is None
        assert service.session(cookie) is None
        assert store.tokens.all() == []

    def test_session_expires(self, store: Store) -> None:
        service = UserService(store)
        user = service.add("ana", "viewer", PASSWORD)
        record, cookie = service.start_session(user)
        assert service.session(cookie) is not None

        with store.sessions() as session, session.begin():
            session.execute(
                update(SessionRow)
                .where(SessionRow.id == record.id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )

        assert service.session(cookie) is None

    def test_idle_session_ends(self, store: Store) -> None:
        service = UserService(store)
        user = service.add("ana", "viewer", PASSWORD)
        record, cookie = service.start_session(user)

        with store.sessions() as session, session.begin():
            session.execute(
                update(SessionRow)
                .where(SessionRow.id == record.id)
                .values(last_seen_at=datetime.now(UTC) - timedelta(hours=3))
            )

        assert service.session(cookie) is None

    def test_wrong_password(self, store: Store) -> None:
        service = UserService(store)
        service.add("ana", "viewer", PASSWORD)

        with pytest.raises(InvalidLogin):
            service.authenticate("ana", PASSWORD + "x")
