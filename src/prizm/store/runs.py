"""Stored job runs and the secret versions each field used."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prizm.store.store import Store

__all__ = ["RunRepository"]


class RunRepository:
    """Create and read run records."""

    def __init__(self, store: Store) -> None:
        self._store = store
