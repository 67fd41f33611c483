"""The user service: users with roles, API tokens and web console sessions.

The command line and the web console both call this service. Passwords are hashed
with argon2id (argon2-cffi's default parameters); API tokens and session tokens are
random 256-bit values stored as SHA-256 hashes, which is enough for values with that
much entropy. A token is shown once, when it is created.

Roles are ordered: a viewer reads, an editor also manages connectors and runs jobs,
an admin also manages integrations and users.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from prizm import audit
from prizm.errors import InvalidLogin, InvalidUser, UnknownUser
from prizm.store.store import Store
from prizm.store.users import SessionRecord, TokenRecord, UserRecord

__all__ = [
    "ROLES",
    "Role",
    "SignedIn",
    "UserService",
    "has_role",
]

log = logging.getLogger(__name__)

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")

USER_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,62}")
TOKEN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "prizm_"
SESSION_LIFETIME = timedelta(hours=12)
SESSION_IDLE_TIMEOUT = timedelta(hours=2)
# A session's last_seen_at is written at most once a minute, not per request.
TOUCH_INTERVAL = timedelta(minutes=1)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that a wrong user name takes
# as long to reject as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def has_role(role: str, required: Role) -> bool:
    """Return whether ``role`` is ``required`` or above it."""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(required)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest stored for an API or session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SignedIn:
    """A live session and its user."""

    session: SessionRecord
    user: UserRecord


class UserService:
    """Business rules of users, tokens and sessions, over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def check_name(self, name: str) -> None:
        if not USER_NAME.fullmatch(name):
            raise InvalidUser(
                f"Invalid user name {name!r}.",
                hint="Use 1 to 63 lowercase letters, digits, '.', '_', '@' and '-', "
                "starting with a letter or digit.",
            )

    def check_role(self, role: str) -> Role:
        for known in ROLES:
            if role == known:
                return known
        raise InvalidUser(
            f"Unknown role {role!r}.",
            hint=f"Use one of: {', '.join(ROLES)}.",
        )

    def check_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidUser(
                f"The password is shorter than {MIN_PASSWORD_LENGTH} characters.",
                hint="Choose a longer password, such as a passphrase of four words.",
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidUser(
                f"The password is longer than {MAX_PASSWORD_LENGTH} characters.",
                hint="Choose a shorter password.",
            )

    def add(self, name: str, role: str, password: str) -> UserRecord:
        """Validate and store a new user with an argon2 hash of ``password``."""
        self.check_name(name)
        checked = self.check_role(role)
        self.check_password(password)
        record = self.store.users.add(name, checked, _hasher.hash(password))
        audit.record(self.store, "user.add", "user", name, role=checked)
        log.info("user added name=%s role=%s", name, checked)
        return record

    def all(self) -> list[UserRecord]:
        return self.store.users.all()

    def get(self, name: str) -> UserRecord:
        return self.store.users.get(name)

    def update(
        self, name: str, *, role: str | None = None, password: str | None = None
    ) -> UserRecord:
        """Change a user's role, password or both.

        A new password signs the user out of every session; API tokens keep
        working until they are revoked.
        """
        if role is None and password is None:
            raise InvalidUser(
                f"Nothing to change for user '{name}'.",
                hint="Give a new role, a new password, or both.",
            )
        current = self.get(name)
        checked = None if role is None else self.check_role(role)
        if password is not None:
            self.check_password(password)
        if checked is not None and checked != "admin":
            self._keep_an_admin(current, f"give '{name}' the role {checked}")
        record = self.store.users.update(
            name,
            role=checked,
            password_hash=None if password is None else _hasher.hash(password),
        )
        details: dict[str, Any] = {"password_changed": password is not None}
        if checked is not None:
            details.update(role_before=current.role, role_after=checked)
        audit.record(self.store, "user.update", "user", name, **details)
        log.info(
            "user updated name=%s role=%s password_changed=%s",
            name,
            record.role,
            password is not None,
        )
        return record

    def _keep_an_admin(self, user: UserRecord, action: str) -> None:
        """Raise when ``action`` would leave the store without an admin."""
        # NOTE: the count and the change are separate transactions, so two admins
        # demoting each other at the same moment could both pass this check.
        if user.role != "admin" or self.store.users.count_with_role("admin") > 1:
            return
        raise InvalidUser(
            f"Cannot {action}: '{user.name}' is the only admin, and without an "
            "admin nobody can manage integrations or users.",
            hint="Add another admin first: prizm user add NAME --role admin.",
        )

    def remove(self, name: str) -> None:
        """Delete a user; their API tokens and sessions stop working at once."""
        self._keep_an_admin(self.get(name), f"remove '{name}'")
        self.store.users.remove(name)
        audit.record(self.store, "user.remove", "user", name)
        log.info("user removed name=%s", name)

    def authenticate(self, name: str, password: str) -> UserRecord:
        """Return the user when ``password`` matches; raise ``InvalidLogin``."""
        stored = self.store.users.password_hash(name)
        try:
            _hasher.verify(stored or _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            stored = None
        if stored is None:
            raise InvalidLogin(
                "The user name or password is incorrect.",
                hint="Check both and sign in again.",
            )
        if _hasher.check_needs_rehash(stored):
            self.store.users.set_password_hash(name, _hasher.hash(password))
        self.store.users.record_login(name)
        return self.store.users.get(name)

    def create_token(self, name: str, user: str) -> tuple[TokenRecord, str]:
        """Create an API token for ``user``; return its record and the token text.

        The token text is returned only here; the store keeps its SHA-256 hash.
        """
        if not TOKEN_NAME.fullmatch(name):
            raise InvalidUser(
                f"Invalid token name {name!r}.",
                hint="Use 1 to 63 lowercase letters, digits, '.', '_' and '-'.",
            )
        owner = self.store.users.get(user)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = self.store.tokens.add(
            name, owner.id, hash_token(token), token[: len(TOKEN_PREFIX) + 4]
        )
        audit.record(self.store, "token.create", "token", name, user=user)
        log.info("api token created name=%s user=%s", name, user)
        return record, token

    def default_token_user(self) -> str:
        """Return the only user's name, for ``token create`` without ``--user``."""
        users = self.store.users.all()
        if len(users) != 1:
            raise UnknownUser(
                "Name the user the token belongs to, because there is not exactly "
                "one user.",
                hint="Add --user NAME; list the users with: prizm user list.",
            )
        return users[0].name

    def tokens(self, user: str | None = None) -> list[TokenRecord]:
        user_id = None if user is None else self.store.users.get(user).id
        return self.store.tokens.all(user_id)

    def revoke_token(self, name: str) -> None:
        self.store.tokens.remove(name)
        audit.record(self.store, "token.revoke", "token", name)
        log.info("api token revoked name=%s", name)

    def user_for_token(self, token: str) -> UserRecord | None:
        """Return the owner of an API token, or None for an unknown token."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        user_id = self.store.tokens.user_id_for(hash_token(token))
        return None if user_id is None else self.store.users.by_id(user_id)

    def start_session(self, user: UserRecord) -> tuple[SessionRecord, str]:
        """Create a session for ``user``; return it and the cookie's token."""
        now = datetime.now(UTC)
        self.store.web_sessions.remove_expired(now)
        token = secrets.token_urlsafe(32)
        record = self.store.web_sessions.add(
            hash_token(token),
            user.id,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=now + SESSION_LIFETIME,
        )
        log.info("session started user=%s", user.name)
        return record, token

    def session(self, token: str) -> SignedIn | None:
        """Return the live session of a cookie's token, or None.

        A session ends 12 hours after sign-in, or after 2 hours without requests.
        """
        record = self.store.web_sessions.find(hash_token(token))
        if record is None:
            return None
        now = datetime.now(UTC)
        idle = now - _aware(record.last_seen_at)
        if _aware(record.expires_at) <= now or idle > SESSION_IDLE_TIMEOUT:
            self.store.web_sessions.remove(record.id)
            return None
        user = self.store.users.by_id(record.user_id)
        if user is None:
            return None
        if idle > TOUCH_INTERVAL:
            self.store.web_sessions.touch(record.id)
        return SignedIn(record, user)

    def end_session(self, session: SessionRecord) -> None:
        self.store.web_sessions.remove(session.id)
