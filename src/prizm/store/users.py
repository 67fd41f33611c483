"""Stored users, API tokens and web console sessions.

The repositories store what the user service hands them: an argon2 password hash,
and SHA-256 hashes of API and session tokens. Nothing here receives a password
or a token in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prizm.errors import TokenExists, UnknownToken, UnknownUser, UserExists
from prizm.store.auth_models import ApiTokenRow, SessionRow, UserRow
from prizm.store.database import session_scope
from prizm.store.models import utcnow

if TYPE_CHECKING:
    from prizm.store.store import Store

__all__ = [
    "SessionRecord",
    "SessionRepository",
    "TokenRecord",
    "TokenRepository",
    "UserRecord",
    "UserRepository",
]


@dataclass(frozen=True)
class UserRecord:
    """A user as stored. The password hash stays out of ``repr``."""

    id: int
    name: str
    role: str
    created_at: datetime
    last_login_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "last_login_at": None
            if self.last_login_at is None
            else self.last_login_at.isoformat(),
        }


@dataclass(frozen=True)
class TokenRecord:
    """An API token as stored: its name, owner and first characters, not the token."""

    id: int
    name: str
    user: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "user": self.user,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "last_used_at": None
            if self.last_used_at is None
            else self.last_used_at.isoformat(),
        }


@dataclass(frozen=True)
class SessionRecord:
    """A web console session: its owner, CSRF token and expiry."""

    id: int
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


def _user(row: UserRow) -> UserRecord:
    return UserRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def _session(row: SessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
    )


def _user_exists(name: str) -> UserExists:
    return UserExists(
        f"A user called '{name}' already exists.",
        hint=f"Choose another name, or remove it first with: prizm user remove {name}.",
    )


class UserRepository:
    """Create, read and delete users."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, name: str, role: str, password_hash: str) -> UserRecord:
        """Store a new user; raise ``UserExists`` if the name is taken."""
        try:
            with session_scope(self._store.sessions) as session:
                if self._find(session, name) is not None:
                    raise _user_exists(name)
                row = UserRow(name=name, role=role, password_hash=password_hash)
                session.add(row)
                session.flush()
                return _user(row)
        except IntegrityError:
            raise _user_exists(name) from None

    def get(self, name: str) -> UserRecord:
        """Return the user called ``name`` or raise ``UnknownUser``."""
        with session_scope(self._store.sessions) as session:
            return _user(self._row(session, name))

    def find(self, name: str) -> UserRecord | None:
        with session_scope(self._store.sessions) as session:
            row = self._find(session, name)
            return None if row is None else _user(row)

    def by_id(self, user_id: int) -> UserRecord | None:
        with session_scope(self._store.sessions) as session:
            row = session.get(UserRow, user_id)
            return None if row is None else _user(row)

    def password_hash(self, name: str) -> str | None:
        """Return the stored argon2 hash of ``name``'s password, or None."""
        with session_scope(self._store.sessions) as session:
            row = self._find(session, name)
            return None if row is None else row.password_hash

    def set_password_hash(self, name: str, password_hash: str) -> None:
        with session_scope(self._store.sessions) as session:
            self._row(session, name).password_hash = password_hash

    def update(
        self, name: str, *, role: str | None = None, password_hash: str | None = None
    ) -> UserRecord:
        """Change the role and/or the password hash of ``name``.

        A new password hash ends every session of the user, so a reset password
        signs out every browser that used the old one. API tokens are kept.
        """
        with session_scope(self._store.sessions) as session:
            row = self._row(session, name)
            if role is not None:
                row.role = role
            if password_hash is not None:
                row.password_hash = password_hash
                session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            session.flush()
            return _user(row)

    def count_with_role(self, role: str) -> int:
        with session_scope(self._store.sessions) as session:
            rows = session.scalars(select(UserRow.id).where(UserRow.role == role))
            return len(list(rows))

    def record_login(self, name: str) -> None:
        with session_scope(self._store.sessions) as session:
            self._row(session, name).last_login_at = utcnow()

    def all(self) -> list[UserRecord]:
        """Return every user, ordered by name."""
        with session_scope(self._store.sessions) as session:
            rows = session.scalars(select(UserRow).order_by(UserRow.name))
            return [_user(row) for row in rows]

    def remove(self, name: str) -> None:
        """Delete a user with their API tokens and sessions."""
        with session_scope(self._store.sessions) as session:
            row = self._row(session, name)
            session.execute(delete(ApiTokenRow).where(ApiTokenRow.user_id == row.id))
            session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            session.delete(row)

    def _find(self, session: Session, name: str) -> UserRow | None:
        row: UserRow | None = session.scalar(
            select(UserRow).where(UserRow.name == name)
        )
        return row

    def _row(self, session: Session, name: str) -> UserRow:
        row = self._find(session, name)
        if row is None:
            raise UnknownUser(
                f"No user is called '{name}'.",
                hint="List the users with: prizm user list.",
            )
        return row


class TokenRepository:
    """Create, look up and delete API tokens by the hash of the token."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, name: str, user_id: int, token_hash: str, prefix: str) -> TokenRecord:
        """Store a new token; raise ``TokenExists`` if the name is taken."""
        exists = TokenExists(
            f"An API token called '{name}' already exists.",
            hint=f"Choose another name, or revoke it first with: "
            f"prizm token revoke {name}.",
        )
        try:
            with session_scope(self._store.sessions) as session:
                taken = session.scalar(
                    select(ApiTokenRow.id).where(ApiTokenRow.name == name)
                )
                if taken is not None:
                    raise exists
                row = ApiTokenRow(
                    name=name, user_id=user_id, token_hash=token_hash, prefix=prefix
                )
                session.add(row)
                session.flush()
                return self._record(session, row)
        except IntegrityError:
            raise exists from None

    def user_id_for(self, token_hash: str) -> int | None:
        """Return the owner of the token with ``token_hash`` and mark it used."""
        with session_scope(self._store.sessions) as session:
            row = session.scalar(
                select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash)
            )
            if row is None:
                return None
            row.last_used_at = utcnow()
            return row.user_id

    def all(self, user_id: int | None = None) -> list[TokenRecord]:
        """Return every token, or those of one user, ordered by name."""
        query = select(ApiTokenRow).order_by(ApiTokenRow.name)
        if user_id is not None:
            query = query.where(ApiTokenRow.user_id == user_id)
        with session_scope(self._store.sessions) as session:
            return [self._record(session, row) for row in session.scalars(query)]

    def remove(self, name: str) -> None:
        """Delete the token called ``name``; it stops working at once."""
        with session_scope(self._store.sessions) as session:
            row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.name == name))
            if row is None:
                raise UnknownToken(
                    f"No API token is called '{name}'.",
                    hint="List the tokens with: prizm token list.",
                )
            session.delete(row)

    def _record(self, session: Session, row: ApiTokenRow) -> TokenRecord:
        owner = session.get(UserRow, row.user_id)
        return TokenRecord(
            id=row.id,
            name=row.name,
            user="" if owner is None else owner.name,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )


class SessionRepository:
    """Create, look up and delete web console sessions by the hash of the token."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(
        self, token_hash: str, user_id: int, csrf_token: str, expires_at: datetime
    ) -> SessionRecord:
        with session_scope(self._store.sessions) as session:
            row = SessionRow(
                token_hash=token_hash,
                user_id=user_id,
                csrf_token=csrf_token,
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            return _session(row)

    def find(self, token_hash: str) -> SessionRecord | None:
        with session_scope(self._store.sessions) as session:
            row = session.scalar(
                select(SessionRow).where(SessionRow.token_hash == token_hash)
            )
            return None if row is None else _session(row)

    def touch(self, session_id: int) -> None:
        with session_scope(self._store.sessions) as session:
            row = session.get(SessionRow, session_id)
            if row is not None:
                row.last_seen_at = utcnow()

    def remove(self, session_id: int) -> None:
        with session_scope(self._store.sessions) as session:
            session.execute(delete(SessionRow).where(SessionRow.id == session_id))

    def remove_expired(self, now: datetime) -> int:
        """Delete sessions that expired before ``now``; return how many."""
        with session_scope(self._store.sessions) as session:
            result = session.execute(
                delete(SessionRow).where(SessionRow.expires_at < now)
            )
            return int(getattr(result, "rowcount", 0) or 0)
