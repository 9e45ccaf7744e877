"""What every router needs: the client of the request, XML in and out, paging, and errors
mapped once to status codes with a 2030.5 ``Error`` body."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from pydantic import ValidationError as PydanticValidationError
from pydantic_xml import BaseXmlModel
from pydantic_xml.errors import ParsingError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from openderms.errors import (
    ConflictError,
    NotFoundError,
    OpenDermsError,
    PermissionDeniedError,
    ValidationError,
    ValidationIssue,
)
from openderms.protocols.ieee2030_5.domain import Client
from openderms.protocols.ieee2030_5.manager.cache import CacheMiss
from openderms.protocols.ieee2030_5.manager.telemetry import TelemetryBusyError
from openderms.protocols.ieee2030_5.schema.base import MEDIA_TYPE
from openderms.protocols.ieee2030_5.schema.error import (
    INVALID_REQUEST_FORMAT,
    INVALID_REQUEST_VALUES,
    Error,
)
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services

#: ASGI scope key holding the ``ClientIdentity`` the serving layer resolved for the connection
CLIENT_SCOPE_KEY = "openderms.ieee2030_5.client"
#: the largest request body accepted, bytes
MAX_BODY_BYTES = 64 * 1024
ACCEPTED_BODY_TYPES = frozenset({MEDIA_TYPE, "application/xml", "text/xml"})

M = TypeVar("M", bound=BaseXmlModel)
T = TypeVar("T")


def services(request: Request) -> Ieee2030_5Services:
    found: Ieee2030_5Services = request.app.state.ieee2030_5
    return found


async def client(request: Request) -> Client:
    """The certificate holder of this request (403 when the connection carries none)."""
    identity = request.scope.get(CLIENT_SCOPE_KEY)
    if not isinstance(identity, ClientIdentity):
        raise PermissionDeniedError("no client certificate on this connection")
    return await call_cached(services(request).end_devices.client, identity)


async def call(fn: Callable[..., T], *args: object) -> T:
    """Run a (blocking) manager call off the event loop."""
    return await run_in_threadpool(fn, *args)


async def call_cached(fn: Callable[..., T], *args: object) -> T:
    """Answer from the managers' read caches on the event loop; only when something is not
    cached, run the call (which then reads the database) in a worker thread."""
    try:
        return fn(*args, cached_only=True)
    except CacheMiss:
        return await run_in_threadpool(fn, *args)


class RenderedCache:
    """Response bodies already rendered, keyed by what they were rendered from (the same key
    always renders the same bytes). Bounded: emptied when full."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._bodies: dict[Hashable, bytes] = {}

    def get(self, key: Hashable, render: Callable[[], BaseXmlModel]) -> bytes:
        body = self._bodies.get(key)
        if body is None:
            rendered = render().to_xml(skip_empty=True, exclude_none=True)
            assert isinstance(rendered, bytes)
            if len(self._bodies) >= self._size:
                self._bodies.clear()
            self._bodies[key] = body = rendered
        return body


def rendered(request: Request) -> RenderedCache:
    found: RenderedCache = request.app.state.ieee2030_5_rendered
    return found


def xml_body(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=MEDIA_TYPE)


def xml(model: BaseXmlModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = model.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(body, bytes)
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def read_xml(request: Request, model: type[M]) -> M:
    """The request body as ``model`` (``ValidationError`` -> 400 when it is not one)."""
    return parse_xml(await read_body(request), model)


async def read_body(request: Request) -> bytes:
    """The request body of a 2030.5 media type, at most ``MAX_BODY_BYTES``, without DTD."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ACCEPTED_BODY_TYPES:
        raise ValidationError([_body_issue("content-type", kind, MEDIA_TYPE)])
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ValidationError([_body_issue("length", size, f"<= {MAX_BODY_BYTES} bytes")])
        chunks.append(chunk)
    body = b"".join(chunks)
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:  # no DTDs: 2030.5 has none
        raise ValidationError([_body_issue("body", "DOCTYPE", "a document without a DTD")])
    return body


def parse_xml(body: bytes, model: type[M]) -> M:
    """``body`` as ``model`` (``ValidationError`` when it is not one)."""
    try:
        return model.from_xml(body)
    except (ParsingError, PydanticValidationError, ValueError, SyntaxError) as exc:
        raise ValidationError([_body_issue("body", type(exc).__name__, str(exc)[:200])]) from None


_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]")


def parse_xml_of(body: bytes, models: Sequence[type[M]]) -> M:
    """``body`` as the one of ``models`` whose tag its root element has (400 when none)."""
    found = _ROOT.search(body.split(b"?>", 1)[-1])
    root = found.group(1).decode(errors="replace") if found else ""
    for model in models:
        if model.__xml_tag__ == root:
            return parse_xml(body, model)
    expected = " or ".join(str(m.__xml_tag__) for m in models)
    raise ValidationError([_body_issue("root", root, expected)])


def _body_issue(field: str, value: object, expected: str) -> ValidationIssue:
    return ValidationIssue("request", "(body)", field, value, expected)


def error_response(status: int, reason_code: int) -> Response:
    return xml(Error(reason_code=reason_code), status=status)


async def on_domain_error(request: Request, exc: Exception) -> Response:
    """Map an openderms error to its status: 400, 403, 404, 409 (no state was changed)."""
    match exc:
        case ValidationError():
            return error_response(400, INVALID_REQUEST_VALUES)
        case PermissionDeniedError():
            return error_response(403, INVALID_REQUEST_VALUES)
        case NotFoundError():
            return error_response(404, INVALID_REQUEST_VALUES)
        case ConflictError():
            return error_response(409, INVALID_REQUEST_VALUES)
        case TelemetryBusyError():
            return Response(status_code=503, headers={"Retry-After": "5"})
    assert isinstance(exc, OpenDermsError)
    return error_response(500, INVALID_REQUEST_FORMAT)


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 / 405: the status (and ``Allow``) with an empty body."""
    assert isinstance(exc, HTTPException)
    return Response(status_code=exc.status_code, headers=exc.headers)


async def not_served(request: Request) -> Response:
    """A function set 2030.5 defines that this server does not serve: 501."""
    return Response(status_code=501)
