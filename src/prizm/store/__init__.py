"""The store: integrations, connectors and runs in SQLite or PostgreSQL."""

from prizm.store.store import Store, open_store

__all__ = ["Store", "open_store"]
