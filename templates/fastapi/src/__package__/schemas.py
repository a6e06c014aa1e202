"""Request and response bodies of the resource routes.

Every input model forbids unknown fields (so a client cannot set what it was not asked for)
and bounds every field, in the model, so that OpenAPI shows every rule the server applies.
"""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from .auth.principal import AuthMethod
from .core.permissions import Permission, Role

# One character that `strip_whitespace` keeps (it strips Unicode White_Space): a stripped value
# is empty unless the raw one contains such a character, which a schema can say and a length
# cannot. Spelled out so that JSON Schema, Python and pydantic read the class alike.
STRIPPED_WHITESPACE = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{STRIPPED_WHITESPACE}]"

ItemName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK),
]
ItemDescription = Annotated[str, StringConstraints(max_length=2000)]


def _refuse_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("string_type", "Input should be a valid string")
    return value


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


# A field that may be left out but is never null: its schema is the type alone, no `null`
# and no `default: null`, and null is refused as any non-string is.
OmittableItemName = Annotated[
    ItemName | SkipJsonSchema[None],
    BeforeValidator(_refuse_null),
    Field(json_schema_extra=_no_default),
]


def _json_integer(value: object) -> object:
    if isinstance(value, bool | str | bytes):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# JSON Schema's integer and boolean, no more: pydantic's lax mode would also take "5" or true
# for a number and 0 or "yes" for a boolean, which the document does not allow. (A number
# without a fraction, 5.0, is an integer to JSON Schema, so it stays accepted.) JSON_INTEGER
# goes last in `Annotated[int, ...]`, after the bounds, or they leave the schema.
JSON_INTEGER = BeforeValidator(_json_integer)
JsonBool = Annotated[bool, Strict()]


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
    # Left out: unchanged. A description may be cleared with null; a name may not.
    name: OmittableItemName = None
    description: ItemDescription | None = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_by: str
    created_at: datetime
