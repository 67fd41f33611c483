"""Fixtures of the rotation tests: users on the session's PostgreSQL."""

from tests.support.pgusers import pg_users

__all__ = ["pg_users"]
