"""Who am I: the authenticated principal, whichever method authenticated it."""

from fastapi import APIRouter

from ...schemas import MeOut
from ..deps import CurrentPrincipal

router = APIRouter(tags=["me"])


@router.get("/me")
async def read_me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        subject=principal.subject,
        role=principal.role,
        auth_method=principal.auth_method,
        permissions=sorted(principal.permissions),
    )
