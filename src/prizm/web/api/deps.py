"""Dependencies shared by the API routers: the store, services and roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from prizm.connector_service import ConnectorService
from prizm.integrations import IntegrationService
from prizm.store.store import Store
from prizm.users import UserService
from prizm.web.auth import Principal, require
from prizm.web.run_queue import RunQueue

__all__ = [
    "Admin",
    "Editor",
    "Viewer",
    "connectors",
    "integrations",
    "run_queue",
    "store",
    "users",
]

Viewer = Annotated[Principal, Depends(require("viewer"))]
Editor = Annotated[Principal, Depends(require("editor"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def store(request: Request) -> Store:
    found: Store = request.app.state.store
    return found


def integrations(request: Request) -> IntegrationService:
    return IntegrationService(store(request))


def connectors(request: Request) -> ConnectorService:
    return ConnectorService(store(request))


def users(request: Request) -> UserService:
    return UserService(store(request))


def run_queue(request: Request) -> RunQueue:
    queue: RunQueue = request.app.state.runs
    return queue
