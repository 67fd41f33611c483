"""Fixtures of the rotation tests: the session's PostgreSQL and its users."""

from tests.support.postgres import database, postgres

__all__ = ["database", "postgres"]
