"""``/api/v1/users`` and ``/api/v1/me``: users of the console and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict

from prizm.users import UserService
from prizm.web.api.deps import Admin, Viewer, users

__all__ = ["router"]

router = APIRouter(tags=["users"])

Service = Annotated[UserService, Depends(users)]


class UserCreate(BaseModel):
    """A new user with a role and a password (stored as an argon2 hash)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    role: str
    password: str


class UserUpdate(BaseModel):
    """A new role, a new password, or both; a new password ends the sessions."""

    model_config = ConfigDict(extra="forbid")

    role: str | None = None
    password: str | None = None


@router.get("/me")
def me(principal: Viewer) -> dict[str, Any]:
    """Show the user behind the request and how they signed in."""
    return {
        **principal.user.to_dict(),
        "via": "session" if principal.session else "token",
    }


@router.get("/users")
def list_users(service: Service, principal: Admin) -> list[dict[str, Any]]:
    """List the users and their roles."""
    return [record.to_dict() for record in service.all()]


@router.post("/users", status_code=201)
def add_user(body: UserCreate, service: Service, principal: Admin) -> dict[str, Any]:
    """Add a user."""
    return service.add(body.name, body.role, body.password).to_dict()


@router.patch("/users/{name}")
def update_user(
    name: str, body: UserUpdate, service: Service, principal: Admin
) -> dict[str, Any]:
    """Change a user's role or password; the only admin cannot be demoted."""
    return service.update(name, role=body.role, password=body.password).to_dict()


@router.delete("/users/{name}", status_code=204)
def remove_user(name: str, service: Service, principal: Admin) -> Response:
    """Remove a user with their API tokens and sessions; not the only admin."""
    service.remove(name)
    return Response(status_code=204)
