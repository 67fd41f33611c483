"""Opening the store: engine, schema migrations and sessions."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from prizm.errors import StoreError

__all__ = ["create_store_engine", "migrate", "session_scope"]

_migrated: set[str] = set()
_migrate_lock = threading.Lock()

MIGRATION_LOCK_KEY = 0x7072697A6D  # "prizm" in ASCII, a PostgreSQL advisory lock key


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _restrict_file(path: str | None) -> None:
    """Create the SQLite file with mode 0600, or tighten an existing one.

    It holds sealed credentials and run history, which only the owner should read.
    """
    if not path or path == ":memory:":
        return
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(descriptor)
        os.chmod(path, 0o600)
    except OSError:
        return


def create_store_engine(url: str) -> Engine:
    """Create an engine for ``url``. SQLite gets WAL, foreign keys, a busy timeout."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _configure_sqlite)
            _restrict_file(engine.url.database)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(
            f"The store URL {_safe_url(url)} cannot be used: {exc.__class__.__name__}.",
            hint="Set PRIZM_DATABASE_URL to a SQLAlchemy URL such as "
            "postgresql+psycopg://user@host/prizm, or unset it to use SQLite.",
        ) from None
    return engine


def _safe_url(url: str) -> str:
    """Return the URL with any password replaced, for error messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "(unparsable URL)"


VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


def head_revisions() -> set[str]:
    """Return the newest migration ids, read from the migration files' headers.

    This lets a process that finds the schema up to date skip importing Alembic,
    which is most of the cost of starting a short command.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = _REVISION.search(text)
        down = _DOWN.search(text)
        if revision is None:
            continue
        revisions.add(revision.group(1))
        if down is not None:
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return revisions - parents


def _schema_is_current(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("select version_num from alembic_version"))
            current = {str(row[0]) for row in rows}
    except SQLAlchemyError:
        return False
    return bool(current) and current == head_revisions()


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration, once per engine URL and process."""
    key = str(engine.url)
    with _migrate_lock:
        if key in _migrated:
            return
        if _schema_is_current(engine):
            _migrated.add(key)
            return
        # Imported here: Alembic costs a tenth of a second at startup and only this
        # step needs it.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", "prizm.store:migrations")
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # A scheduler and several workers may start together on a new
                    # database: the first one migrates, the others wait, then find
                    # the schema at the newest revision.
                    connection.execute(
                        text("select pg_advisory_xact_lock(:key)"),
                        {"key": MIGRATION_LOCK_KEY},
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StoreError(
                f"The store at {_safe_url(key)} could not be migrated: "
                f"{exc.__class__.__name__}.",
                hint="Check that the database is reachable and that Prizm may create "
                "tables in it.",
            ) from None
        _migrated.add(key)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
