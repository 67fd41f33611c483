"""Dependencies shared by the page routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from prizm.web.auth import Principal, require

__all__ = ["Admin", "Editor", "Viewer"]

Viewer = Annotated[Principal, Depends(require("viewer"))]
Editor = Annotated[Principal, Depends(require("editor"))]
Admin = Annotated[Principal, Depends(require("admin"))]
