"""Master key rotation: re-encrypt every stored credential under a new key.

With the key file (the default), ``rotate_keys`` adds a new primary key in front of
the old one, re-encrypts the integrations one by one (each in its own transaction),
and drops the old key only when every credential opens with the new one. A rotation
killed half-way leaves both keys in the file, and running it again finishes the job.
Processes that are running read the changed key file on their next seal or open, so
nothing needs a restart.

With ``PRIZM_MASTER_KEY``, the keys live outside Prizm: set it to ``NEW,OLD`` in
every process, run the rotation, then set it to ``NEW``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from prizm import audit
from prizm.errors import CredentialsUnreadable, UsageError
from prizm.store.crypto import (
    MasterKey,
    generate_key,
    key_file_path,
    key_lock,
    load_master_keys,
    sealed_key_id,
    write_key_file,
)
from prizm.store.store import Store

__all__ = ["KeyCheck", "RotationReport", "check_keys", "reset_lost_key", "rotate_keys"]

log = logging.getLogger(__name__)


@dataclass
class RotationReport:
    """What a rotation did, by integration name. Never key material."""

    mode: str
    primary_key_id: str
    retired_key_ids: list[str] = field(default_factory=list)
    resealed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    without_credentials: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    finished: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "primary_key_id": self.primary_key_id,
            "retired_key_ids": self.retired_key_ids,
            "resealed": self.resealed,
            "unchanged": self.unchanged,
            "without_credentials": self.without_credentials,
            "unreadable": self.unreadable,
            "pending": self.pending,
            "finished": self.finished,
        }


def rotate_keys(store: Store) -> RotationReport:
    """Rotate the master key and re-encrypt every stored credential under it.

    The whole rotation holds the key lock exclusively: writers wait, then seal with
    the new primary key, and a second rotation on the host is rejected.
    """
    with key_lock(exclusive=True, wait=False):
        return _rotate(store)


def _rotate(store: Store) -> RotationReport:
    from_environment = bool(os.environ.get("PRIZM_MASTER_KEY"))
    keys = store.master_keys()
    if from_environment and len(keys) < 2:
        raise UsageError(
            "PRIZM_MASTER_KEY holds one key, so there is nothing to rotate to.",
            hint="Generate a new key, set PRIZM_MASTER_KEY=NEW,OLD in every Prizm "
            "process, run prizm keys rotate, then set PRIZM_MASTER_KEY=NEW.",
        )
    if not from_environment and len(keys) == 1:
        new_key = generate_key()
        write_key_file([new_key, *keys])
        log.info("master key added key_id=%s", new_key.key_id)
    keys = store.master_keys()
    report = RotationReport(
        mode="environment" if from_environment else "key file",
        primary_key_id=keys[0].key_id,
    )
    for record in store.integrations.all():
        if not record.sealed_credentials:
            report.without_credentials.append(record.name)
            continue
        try:
            changed = store.integrations.reseal(record.name)
        except CredentialsUnreadable:
            report.unreadable.append(record.name)
            continue
        (report.resealed if changed else report.unchanged).append(record.name)

    stale = [
        record.name
        for record in store.integrations.all()
        if record.sealed_credentials
        and sealed_key_id(record.sealed_credentials) != report.primary_key_id
        and record.name not in report.unreadable
    ]
    # A row changed between its reseal and now keeps the old keys until a rerun
    # seals it with the new key.
    report.pending = stale
    if not report.unreadable and not report.pending:
        report.finished = True
        report.retired_key_ids = [key.key_id for key in keys[1:]]
        if not from_environment and len(keys) > 1:
            write_key_file([keys[0]])
    audit.record(
        store,
        "keys.rotate",
        "master_key",
        report.primary_key_id,
        outcome="finished" if report.finished else "incomplete",
        resealed=report.resealed,
        unreadable=report.unreadable,
        retired_key_ids=report.retired_key_ids,
    )
    return report


@dataclass(frozen=True)
class KeyCheck:
    """Whether one integration's stored credentials open with the keys in use."""

    integration: str
    type: str
    readable: bool
    key_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "type": self.type,
            "readable": self.readable,
            "key_id": self.key_id,
        }


def check_keys(store: Store) -> list[KeyCheck]:
    """Try to open every integration's credentials; list which cannot be read."""
    checks: list[KeyCheck] = []
    for record in store.integrations.all():
        key_id = sealed_key_id(record.sealed_credentials or "")
        try:
            store.integrations.credentials(record)
            readable = True
        except CredentialsUnreadable:
            readable = False
        checks.append(KeyCheck(record.name, record.type, readable, key_id))
    return checks


def primary_key(store: Store) -> MasterKey:
    return store.master_keys()[0]


def reset_lost_key(store: Store) -> list[str]:
    """Start a new key file after the master key was lost; return the integrations
    whose credentials must be entered again.

    Only a missing key file is replaced: an existing key, or keys given in
    ``PRIZM_MASTER_KEY``, are never overwritten. The old credentials stay in the
    store, unreadable, until ``integration update`` replaces them.
    """
    if os.environ.get("PRIZM_MASTER_KEY"):
        raise UsageError(
            "PRIZM_MASTER_KEY is set, so the master key lives outside Prizm.",
            hint="Set PRIZM_MASTER_KEY to a new key (prizm keys rotate explains the "
            "format), then enter the credentials again with prizm integration update.",
        )
    with key_lock(exclusive=True, wait=False):
        path = key_file_path()
        if path.exists():
            raise UsageError(
                f"The master key file {path} exists, so the key is not lost.",
                hint="To replace a key that still works, use prizm keys rotate.",
            )
        lost = store.sealed_integrations()
        load_master_keys(create=True)
    audit.record(store, "keys.reset", "store", "master-key", unreadable=lost)
    log.warning("master key reset: new key file written unreadable=%d", len(lost))
    return lost
