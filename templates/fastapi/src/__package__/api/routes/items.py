"""Items: the example resource, guarded by one permission per action."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from sqlalchemy import Connection, bindparam, select

from ...auth.principal import Principal
from ...core.permissions import Permission
from ...models import Item
from ...schemas import ItemCreate, ItemOut, ItemUpdate
from ..deps import (
    DatabaseDep,
    DbSession,
    PageLimit,
    PageOffset,
    RowId,
    require_json,
    require_permission,
)

# Larger pages are cut to this size rather than refused, so a client asking for "all" still works.
MAX_PAGE_SIZE = 100

router = APIRouter(prefix="/items", tags=["items"])

Reader = Annotated[Principal, Depends(require_permission(Permission.ITEMS_READ))]
Writer = Annotated[Principal, Depends(require_permission(Permission.ITEMS_WRITE))]
Deleter = Annotated[Principal, Depends(require_permission(Permission.ITEMS_DELETE))]
JSON_BODY = [Depends(require_json)]
# Built once: building and compiling a statement per request cost more than running it.
_PAGE = select(Item).order_by(Item.id).limit(bindparam("limit")).offset(bindparam("offset"))
_ONE = select(Item).where(Item.id == bindparam("item_id"))


async def _get_item(db: DbSession, item_id: int) -> Item:
    item = await db.get(Item, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Item not found")
    return item


@router.get("")
async def list_items(
    _reader: Reader,
    database: DatabaseDep,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> list[ItemOut]:
    bounds = {"limit": min(limit, MAX_PAGE_SIZE), "offset": offset}

    def page(connection: Connection) -> list[ItemOut]:
        return [ItemOut.model_validate(row) for row in connection.execute(_PAGE, bounds)]

    return await database.read(page)


@router.get("/{item_id}")
async def read_item(_reader: Reader, database: DatabaseDep, item_id: RowId) -> ItemOut:
    def one(connection: Connection) -> ItemOut | None:
        row = connection.execute(_ONE, {"item_id": item_id}).one_or_none()
        return None if row is None else ItemOut.model_validate(row)

    found = await database.read(one)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Item not found")
    return found


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=JSON_BODY)
async def create_item(writer: Writer, db: DbSession, body: ItemCreate) -> ItemOut:
    item = Item(name=body.name, description=body.description, created_by=writer.subject)
    db.add(item)
    await db.commit()
    return ItemOut.model_validate(item)


@router.patch("/{item_id}", dependencies=JSON_BODY)
async def update_item(_writer: Writer, db: DbSession, item_id: RowId, body: ItemUpdate) -> ItemOut:
    item = await _get_item(db, item_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(item, field, value)
    await db.commit()
    await db.refresh(item)
    return ItemOut.model_validate(item)


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(_deleter: Deleter, db: DbSession, item_id: RowId) -> Response:
    item = await _get_item(db, item_id)
    await db.delete(item)
    await db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
