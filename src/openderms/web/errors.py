"""Every error the web edge shows, mapped once (envoy's ``error_handler.py``).

API paths (``/api/...``) answer with RFC 7807 ``application/problem+json``; a validation error
carries ``issues: [{object, id, field, value, expected}]``, one per rejected field. Portal
pages answer with an HTML page in words (or a redirect to the login page).

==========================  ======  =====================================
error                       status  problem type
==========================  ======  =====================================
ValidationError             422     urn:openderms:problem:validation
RequestValidationError      422     urn:openderms:problem:validation
NotFoundError               404     urn:openderms:problem:not-found
UnknownElementError         404     urn:openderms:problem:not-found
NotAuthenticatedError       401     urn:openderms:problem:not-authenticated
PermissionDeniedError       403     urn:openderms:problem:forbidden
ConflictError               409     urn:openderms:problem:conflict
LifecycleError              409     urn:openderms:problem:lifecycle
PreconditionRequiredError   428     urn:openderms:problem:precondition-required
PowerFlowError              500     urn:openderms:problem:power-flow
OpenDermsError (any other)  400     urn:openderms:problem:bad-request
==========================  ======  =====================================
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from openderms.errors import (
    ConflictError,
    LifecycleError,
    NotFoundError,
    OpenDermsError,
    PermissionDeniedError,
    PowerFlowError,
    UnknownElementError,
    ValidationError,
    ValidationIssue,
)
from openderms.web.auth import LoginRequiredError, NotAuthenticatedError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"


class PreconditionRequiredError(Exception):
    """A change was sent without the ``If-Match`` version it is based on (HTTP 428)."""


#: exception class -> (HTTP status, problem slug, title); most specific classes first
PROBLEMS: tuple[tuple[type[Exception], int, str, str], ...] = (
    (ValidationError, 422, "validation", "Invalid input"),
    (NotFoundError, 404, "not-found", "Not found"),
    (UnknownElementError, 404, "not-found", "Not in the network model"),
    (NotAuthenticatedError, 401, "not-authenticated", "Not authenticated"),
    (PermissionDeniedError, 403, "forbidden", "Forbidden"),
    (ConflictError, 409, "conflict", "Conflict"),
    (LifecycleError, 409, "lifecycle", "Lifecycle does not allow this"),
    (PreconditionRequiredError, 428, "precondition-required", "If-Match required"),
    (PowerFlowError, 500, "power-flow", "Power flow failed"),
    (OpenDermsError, 400, "bad-request", "Bad request"),
)


def json_value(value: object) -> str | int | float | bool | None:
    """A rejected value as JSON can carry it (anything else as its text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def issue_json(issue: ValidationIssue) -> dict[str, Any]:
    return {
        "object": issue.object_kind,
        "id": issue.object_id,
        "field": issue.field,
        "value": json_value(issue.value),
        "expected": issue.expected,
    }


def request_issues(exc: RequestValidationError) -> list[ValidationIssue]:
    """FastAPI's parameter errors as issues (object ``request``, field ``query.limit`` ...)."""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "(request)"
        expected = str(err.get("msg", "")).removeprefix("Value error, ")
        out.append(ValidationIssue("request", "(request)", field, err.get("input"), expected))
    return out


def problem(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    issues: Sequence[ValidationIssue] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:openderms:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if issues:
        body["issues"] = [issue_json(i) for i in issues]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _classify(exc: BaseException) -> tuple[int, str, str]:
    for cls, status, slug, title in PROBLEMS:
        if isinstance(exc, cls):
            return status, slug, title
    return 500, "internal", "Internal error"


def install_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    """Register one handler per error class on ``app``."""

    def render(
        request: Request,
        exc: BaseException,
        issues: Sequence[ValidationIssue] = (),
    ) -> Response:
        status, slug, title = _classify(exc)
        if status >= 500:
            log.error("%s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        detail = str(exc) if str(exc) else title
        if request.url.path.startswith(API_PREFIX):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return problem(request, status, slug, title, detail, issues=issues, headers=headers)
        context = {"title": title, "status": status, "detail": detail, "issues": issues}
        return templates.TemplateResponse(request, "error.html", context, status_code=status)

    async def on_error(request: Request, exc: Exception) -> Response:
        issues = exc.issues if isinstance(exc, ValidationError) else ()
        return render(request, exc, issues)

    async def on_request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        issues = request_issues(exc)
        err = ValidationError(issues)
        return render(request, err, issues)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        query = urlencode({"next": request.url.path}, safe="/")
        return RedirectResponse(f"/login?{query}", status_code=303)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not request.url.path.startswith(API_PREFIX):
            context = {"title": "Error", "status": exc.status_code, "detail": exc.detail}
            return templates.TemplateResponse(
                request, "error.html", context, status_code=exc.status_code
            )
        return problem(request, exc.status_code, "http", str(exc.detail), str(exc.detail))

    for cls, *_ in PROBLEMS:
        app.add_exception_handler(cls, on_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(LoginRequiredError, on_login_required)
    app.add_exception_handler(StarletteHTTPException, on_http)
