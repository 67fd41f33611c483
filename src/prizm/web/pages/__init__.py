"""Server-rendered pages of the web console, one router per area."""

from fastapi import APIRouter

from prizm.web.pages import connectors, integrations, runs, session, users

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
router.include_router(session.router)
router.include_router(integrations.router)
router.include_router(connectors.router)
router.include_router(runs.router)
router.include_router(users.router)
