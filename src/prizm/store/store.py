"""The store: one object that owns the engine, the master key and the repositories."""

from __future__ import annotations

import os
import threading
from functools import cached_property

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from prizm.config import database_url
from prizm.errors import CredentialsUnreadable
from prizm.store.audit import AuditRepository
from prizm.store.connectors import ConnectorRepository
from prizm.store.crypto import (
    MasterKey,
    key_file_path,
    key_source_stamp,
    load_master_keys,
)
from prizm.store.database import create_store_engine, migrate
from prizm.store.integrations import IntegrationRepository
from prizm.store.models import IntegrationRow
from prizm.store.runs import RunRepository
from prizm.store.schedules import ScheduleRepository
from prizm.store.users import SessionRepository, TokenRepository, UserRepository

__all__ = ["Store", "open_store"]


class Store:
    """Access to integrations, connectors, runs and users in one SQLAlchemy database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = sessionmaker(
            engine, expire_on_commit=False
        )
        self._key_lock = threading.Lock()
        self._keys: list[MasterKey] | None = None
        self._key_stamp: tuple[str, float] | None = None

    def master_keys(self) -> list[MasterKey]:
        """Return the master keys, the one used for new seals first.

        The key file is read again when it changes, so a running process picks up a
        rotation (the new primary key) without a restart.
        """
        with self._key_lock:
            stamp = key_source_stamp()
            if self._keys is None or stamp != self._key_stamp:
                self._keys = self._load_keys()
                self._key_stamp = key_source_stamp()
            return self._keys

    def _load_keys(self) -> list[MasterKey]:
        """Load the keys; create a key file only while no credential is stored.

        A missing key file with sealed credentials in the store means the key was
        lost or not mounted: a new key would seal later credentials with a key the
        older ones do not open, so that is an error instead.
        """
        if os.environ.get("PRIZM_MASTER_KEY") or key_file_path().exists():
            # A malformed or empty key raises a StoreError that names the problem.
            return load_master_keys(create=False)
        sealed = self.sealed_integrations()
        if not sealed:
            return load_master_keys(create=True)
        raise CredentialsUnreadable(
            f"The master key is missing ({key_file_path()} does not exist and "
            "PRIZM_MASTER_KEY is not set), but the stored credentials of "
            f"{len(sealed)} integrations are sealed with it: {', '.join(sealed)}.",
            hint="Restore the key file or set PRIZM_MASTER_KEY. If the key is lost, "
            "start a new one with prizm keys reset, then enter those integrations' "
            "credentials again with prizm integration update.",
        )

    def sealed_integrations(self) -> list[str]:
        """Return the names of integrations with stored credentials, sorted."""
        with self.engine.connect() as connection:
            names = connection.execute(
                select(IntegrationRow.name)
                .where(IntegrationRow.credentials.is_not(None))
                .order_by(IntegrationRow.name)
            ).scalars()
            return list(names)

    @cached_property
    def integrations(self) -> IntegrationRepository:
        return IntegrationRepository(self)

    @cached_property
    def connectors(self) -> ConnectorRepository:
        return ConnectorRepository(self)

    @cached_property
    def runs(self) -> RunRepository:
        return RunRepository(self)

    @cached_property
    def audit(self) -> AuditRepository:
        return AuditRepository(self)

    @cached_property
    def schedules(self) -> ScheduleRepository:
        return ScheduleRepository(self)

    @cached_property
    def users(self) -> UserRepository:
        return UserRepository(self)

    @cached_property
    def tokens(self) -> TokenRepository:
        return TokenRepository(self)

    @cached_property
    def web_sessions(self) -> SessionRepository:
        return SessionRepository(self)

    def close(self) -> None:
        self.engine.dispose()


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store(url: str | None = None) -> Store:
    """Open (and migrate) the store at ``url``, or at the configured location.

    Stores are shared per URL within a process, so the CLI, the web server and job
    runs in one process use one engine and one connection pool.
    """
    url = url or database_url()
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            engine = create_store_engine(url)
            migrate(engine)
            store = Store(engine)
            _stores[url] = store
        return store


def reset_stores() -> None:
    """Close every open store. Tests call this when they change PRIZM_HOME."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
