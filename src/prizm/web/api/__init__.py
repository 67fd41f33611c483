"""The REST API under ``/api/v1``, one router per resource."""

from fastapi import APIRouter

from prizm.web.api import audit, connectors, integrations, runs, system, types, users

__all__ = ["router", "system_router"]

router = APIRouter()
router.include_router(types.router)
router.include_router(integrations.router)
router.include_router(connectors.router)
router.include_router(runs.router)
router.include_router(users.router)
router.include_router(audit.router)

system_router = system.router
