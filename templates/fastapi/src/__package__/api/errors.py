"""Error responses that never leak what they should not, in the shapes OpenAPI declares.

FastAPI's default 422 body echoes every submitted value, passwords and tokens included; this
handler keeps only where and why validation failed. A 405 names every method of the path
(RFC 9110 §15.5.6), not only those of the first route that matched it.
"""

from fastapi import FastAPI, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match


class ErrorOut(BaseModel):
    """Every error but a 422 (and the OAuth2 errors of the token endpoint): what went wrong,
    never what was sent."""

    detail: str


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A 422: where and why each part of the request was refused."""

    detail: list[ValidationProblem]


def invalid(loc: tuple[str | int, ...], msg: str, kind: str) -> RequestValidationError:
    """A 422 for a rule checked outside the schema, in the same shape as a schema violation."""
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    errors = [
        {"loc": error.get("loc", ()), "msg": error.get("msg", ""), "type": error.get("type", "")}
        for error in exc.errors()
    ]
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content=jsonable_encoder({"detail": errors}),
    )


# RFC 9110 §9 and PATCH (RFC 5789): the methods a path may be asked for.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path.

    Asked of the routes themselves (`matches`, as the router does), so that it holds however
    FastAPI arranges included routers.
    """
    routes = request.app.router.routes

    def served(method: str) -> bool:
        probe = {**request.scope, "method": method}
        return any(route.matches(probe)[0] is Match.FULL for route in routes)

    return [method for method in _METHODS if served(method)]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this type only
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        # Starlette answers with the methods of the first route whose path matched; a path
        # served by one route per method needs them all.
        headers = {**(exc.headers or {}), "Allow": ", ".join(allowed_methods(request))}
        exc = HTTPException(exc.status_code, exc.detail, headers=headers)
    return await http_exception_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
