"""Encryption at rest of stored credentials.

Credentials are sealed with AES-256-GCM, an authenticated cipher, under a 32-byte
master key. The master key comes from ``PRIZM_MASTER_KEY`` (URL-safe base64) or from
``$PRIZM_HOME/master.key``, created with mode 0600 on first use. Each sealed value
names the key it was sealed with and is bound to the record that owns it (the
associated data), so a ciphertext copied onto another record does not decrypt.

Sealed format: ``prizm:v1:<key id>:<base64 of nonce and ciphertext>``.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from prizm.config import prizm_home
from prizm.errors import CredentialsUnreadable, StoreError

__all__ = [
    "MasterKey",
    "generate_key",
    "key_lock",
    "key_source_stamp",
    "load_master_key",
    "load_master_keys",
    "open_sealed",
    "seal",
    "write_key_file",
]

PREFIX = "prizm:v1:"
KEY_FILE_NAME = "master.key"
NONCE_BYTES = 12


@dataclass(frozen=True)
class MasterKey:
    """A 32-byte AES key and its short public id (a hash prefix, not secret)."""

    key: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"prizm-master-key-id:" + self.key).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def _decode_key(text: str, source: str) -> MasterKey:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != 32:
        raise StoreError(
            f"The master key in {source} is not 32 bytes of URL-safe base64.",
            hint='Generate one with: python3 -c "import base64, os; '
            'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"',
        )
    return MasterKey(raw)


def generate_key() -> MasterKey:
    """Return a new random master key."""
    return MasterKey(secrets.token_bytes(32))


def generate_key_text() -> str:
    """Return a new random master key as URL-safe base64 text."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def key_file_path() -> Path:
    return prizm_home() / KEY_FILE_NAME


def load_master_key(*, create: bool = True) -> MasterKey:
    """Load the primary master key; see ``load_master_keys``."""
    return load_master_keys(create=create)[0]


def load_master_keys(*, create: bool = True) -> list[MasterKey]:
    """Load the master keys, the primary (used for new seals) first.

    ``PRIZM_MASTER_KEY`` holds one key, or several separated by commas during a key
    rotation. Otherwise ``$PRIZM_HOME/master.key`` holds one key per line. Without
    either, a new key file is written with mode 0600 when ``create`` is true.
    """
    env_keys = os.environ.get("PRIZM_MASTER_KEY")
    if env_keys:
        return [
            _decode_key(text, "PRIZM_MASTER_KEY")
            for text in env_keys.split(",")
            if text.strip()
        ]

    path = key_file_path()
    if path.exists():
        lines = [
            line
            for line in path.read_text(encoding="ascii").splitlines()
            if line.strip()
        ]
        if not lines:
            raise StoreError(
                f"The master key file {path} is empty.",
                hint="Restore it from a backup, or set PRIZM_MASTER_KEY.",
            )
        return [_decode_key(line, str(path)) for line in lines]
    if not create:
        raise StoreError(
            f"No master key: PRIZM_MASTER_KEY is not set and {path} does not exist.",
            hint="Set PRIZM_MASTER_KEY to the key the credentials were stored with, "
            "or restore the key file.",
        )
    text = generate_key_text()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    return [_decode_key(text, str(path))]


def write_key_file(keys: list[MasterKey]) -> None:
    """Replace the key file atomically with ``keys``, primary first, mode 0600.

    The new file is written under a unique name, synced, renamed over the old one,
    and the directory is synced, so a crash leaves either file whole.
    """
    path = key_file_path()
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        for key in keys:
            handle.write(base64.urlsafe_b64encode(key.key).decode("ascii") + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@contextmanager
def key_lock(*, exclusive: bool, wait: bool = True) -> Iterator[None]:
    """Hold the key file's lock: shared to seal with the primary key, exclusive to
    rotate. Between processes of one host only; with ``PRIZM_MASTER_KEY`` there is
    no file, and the rotation procedure in the docs applies instead.

    Raises ``StoreError`` when ``wait`` is false and another process holds it.
    """
    if os.environ.get("PRIZM_MASTER_KEY"):
        yield
        return
    path = prizm_home() / (KEY_FILE_NAME + ".lock")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(descriptor, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                "Another key rotation is running on this host.",
                hint="Wait for it to finish, then check with: prizm keys check.",
            ) from None
        yield
    finally:
        os.close(descriptor)


def key_source_stamp() -> tuple[str, float]:
    """Return a value that changes when the keys a process would load change."""
    env_keys = os.environ.get("PRIZM_MASTER_KEY")
    if env_keys:
        return ("env", float(len(env_keys)))
    try:
        return ("file", key_file_path().stat().st_mtime)
    except OSError:
        return ("none", 0.0)


def seal(key: MasterKey, plaintext: str, context: str) -> str:
    """Encrypt ``plaintext`` for the record named by ``context``."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(key.key).encrypt(
        nonce, plaintext.encode("utf-8"), context.encode("utf-8")
    )
    payload = base64.b64encode(nonce + ciphertext).decode("ascii")
    return f"{PREFIX}{key.key_id}:{payload}"


def sealed_key_id(sealed: str) -> str | None:
    """Return the id of the key a sealed value was encrypted with, if well formed."""
    if not sealed.startswith(PREFIX):
        return None
    key_id, _, _ = sealed[len(PREFIX) :].partition(":")
    return key_id or None


def open_sealed(keys: list[MasterKey], sealed: str, context: str, owner: str) -> str:
    """Decrypt a sealed value with whichever of ``keys`` it names.

    ``owner`` names the record in the error, for example "integration 'aws'".
    Raises ``CredentialsUnreadable`` when no key fits or the ciphertext is damaged.
    """
    key_id = sealed_key_id(sealed)
    unreadable = CredentialsUnreadable(
        f"The stored credentials of {owner} cannot be decrypted with the master key "
        f"in use (they were sealed with key id {key_id or 'unknown'}).",
        hint="Set PRIZM_MASTER_KEY to the key they were stored with, or enter the "
        f"credentials of {owner} again.",
    )
    key = next((candidate for candidate in keys if candidate.key_id == key_id), None)
    if key is None:
        raise unreadable
    try:
        payload = base64.b64decode(sealed.rsplit(":", 1)[1], validate=True)
    except (binascii.Error, ValueError, IndexError):
        payload = b""
    if len(payload) <= NONCE_BYTES:
        raise unreadable
    try:
        plaintext = AESGCM(key.key).decrypt(
            payload[:NONCE_BYTES], payload[NONCE_BYTES:], context.encode("utf-8")
        )
    except InvalidTag:
        plaintext = None
    if plaintext is None:
        raise unreadable
    return plaintext.decode("utf-8")
