"""The one place errors become HTTP answers, all in the shape ``{"error": {code, message,
details}}``."""

from __future__ import annotations

import logging
from typing import Any

import pydantic
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tailorcrm.console.auth import PREFIX
from tailorcrm.console.render import error_page
from tailorcrm.errors import TailorCRMError
from tailorcrm.store.errors import DataError

log = logging.getLogger(__name__)


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """The JSON error shape for errors that are not TailorCRMErrors."""
    return {"error": {"code": code, "message": message, "details": jsonable_encoder(details)}}


def _problems(errors: Any) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
            for e in errors]


def _is_console(request: Request) -> bool:
    """Console pages answer errors as pages, not JSON."""
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def install_error_handlers(app: FastAPI) -> None:
    """Map TailorCRMError, request validation, HTTP and unexpected errors to one JSON shape."""

    @app.exception_handler(TailorCRMError)
    async def tailorcrm_error(request: Request, exc: TailorCRMError) -> Response:
        if _is_console(request):
            return error_page(request, exc.http_status, exc.message, exc.code)
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        if exc.http_status in (429, 503) and "retry_after" in exc.details:
            headers = {"Retry-After": str(max(1, round(float(exc.details["retry_after"]))))}
        return JSONResponse(jsonable_encoder(exc.to_dict()), status_code=exc.http_status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_console(request):
            problems = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['message']}"
                                 for p in _problems(exc.errors()))
            return error_page(request, 422, f"the form is invalid: {problems}",
                              "validation_error")
        return JSONResponse(error_body("validation_error", "the request is invalid",
                                       errors=_problems(exc.errors())), status_code=422)

    @app.exception_handler(pydantic.ValidationError)
    async def body_invalid(request: Request, exc: pydantic.ValidationError) -> JSONResponse:
        # config documents (strategies, rules, actions) are validated by their domain models
        return JSONResponse(error_body("validation_error", "the document is invalid",
                                       errors=_problems(exc.errors())), status_code=422)

    @app.exception_handler(DataError)
    async def value_refused(request: Request, exc: DataError) -> JSONResponse:
        # values the database cannot hold (e.g. NUL characters in PostgreSQL text)
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
        return JSONResponse(error_body("validation_error",
                                       f"the database refused a value: {reason}"),
                            status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _is_console(request):
            return error_page(request, exc.status_code, str(exc.detail), "http_error")
        if exc.status_code == 400:
            # the framework's 400 is a body it could not parse (e.g. JSON nested deeper than
            # the parser's recursion allows): a validation error like any other, 422
            return JSONResponse(error_body("validation_error",
                                           f"the request body is invalid: {exc.detail}"),
                                status_code=422)
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # the route's template, never the path: a path holds customer ids (personal data)
        route = getattr(request.scope.get("route"), "path", None) or "(no route matched)"
        log.exception("unexpected error on %s %s", request.method, route)
        if _is_console(request):
            return error_page(request, 500, "internal server error", "internal_error")
        return JSONResponse(error_body("internal_error", "internal server error"),
                            status_code=500)
