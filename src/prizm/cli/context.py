"""The services a command uses, built over the configured store."""

from __future__ import annotations

from prizm.connector_service import ConnectorService
from prizm.integrations import IntegrationService
from prizm.jobs import JobService
from prizm.resolver import Resolver
from prizm.schedules import ScheduleService
from prizm.store import Store, open_store
from prizm.users import UserService

__all__ = [
    "connector_service",
    "integration_service",
    "job_service",
    "resolver",
    "schedule_service",
    "store",
    "user_service",
]


def store() -> Store:
    return open_store()


def integration_service() -> IntegrationService:
    return IntegrationService(store())


def resolver() -> Resolver:
    return Resolver(integration_service())


def connector_service() -> ConnectorService:
    return ConnectorService(store())


def job_service() -> JobService:
    return JobService(store())


def schedule_service() -> ScheduleService:
    return ScheduleService(store())


def user_service() -> UserService:
    return UserService(store())
