"""The services a command uses, built over the configured store."""

from __future__ import annotations

from prizm.integrations import IntegrationService
from prizm.resolver import Resolver
from prizm.store import Store, open_store

__all__ = ["integration_service", "resolver", "store"]


def store() -> Store:
    return open_store()


def integration_service() -> IntegrationService:
    return IntegrationService(store())


def resolver() -> Resolver:
    return Resolver(integration_service())
