"""Request and response bodies of the resource routes.

Every input model forbids unknown fields (so a client cannot set what it was not asked for)
and bounds every field.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from .auth.principal import AuthMethod
from .core.permissions import Permission, Role

ItemName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ItemDescription = Annotated[str, StringConstraints(max_length=2000)]


class StrictInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeOut(BaseModel):
    subject: str
    role: Role
    auth_method: AuthMethod
    permissions: list[Permission]


class ItemCreate(StrictInput):
    name: ItemName
    description: ItemDescription | None = None


class ItemUpdate(StrictInput):
    name: ItemName | None = None
    description: ItemDescription | None = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_by: str
    created_at: datetime
