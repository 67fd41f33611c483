"""Fixtures of the worker tests: Redis, worker processes, a PostgreSQL store."""

from tests.support.workers import broker, fleet, redis_server

__all__ = ["broker", "fleet", "redis_server"]
