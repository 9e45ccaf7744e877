"""``/api/v1/ders``: register, bulk import, query, update and lifecycle actions.

Thin: parse, call the registry service, map the record to its wire model. Errors are mapped
once in ``web.errors``. Powers in kW, generator convention (positive = export to the grid).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from openderms.errors import ValidationError, ValidationIssue
from openderms.registry.csv_import import parse_csv
from openderms.registry.domain import Action, Registration, Status, parse_registration
from openderms.web.auth import ApiActor
from openderms.web.deps import RegistryDep
from openderms.web.errors import PreconditionRequiredError
from openderms.web.mapper import ders as mapper
from openderms.web.schema.ders import ActionIn, BulkResult, DerOut, DerPage

router = APIRouter(prefix="/ders", tags=["ders"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown bearer token", **_PROBLEM},
    403: {"description": "the role may not do this", **_PROBLEM},
    422: {"description": "invalid input: `issues` names object, field, value", **_PROBLEM},
}
#: the JSON body of a registration, documented as ``Registration`` but parsed by
#: ``parse_registration`` so that every issue has the registry's shape
_REGISTRATION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Registration"}}},
    }
}
_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


async def _registration(request: Request, object_id: str) -> Registration:
    try:
        data = await request.json()
    except ValueError:
        issue = ValidationIssue("registration", object_id, "(body)", None, "a JSON object")
        raise ValidationError([issue]) from None
    return parse_registration(data, object_id)


def _with_etag(response: Response, out: DerOut) -> DerOut:
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.post(
    "",
    status_code=201,
    response_model=DerOut,
    responses=_ERRORS,
    openapi_extra=_REGISTRATION_BODY,
    summary="Register one DER (screened and decided at once)",
)
async def register(
    request: Request, response: Response, actor: ApiActor, service: RegistryDep
) -> DerOut:
    data = await _registration(request, "(new)")
    record = await run_in_threadpool(service.register, data, actor)
    out = mapper.der_out(record)
    response.headers["Location"] = out.href
    return _with_etag(response, out)


@router.post(
    "/bulk",
    status_code=201,
    response_model=BulkResult,
    responses=_ERRORS,
    openapi_extra=_CSV_BODY,
    summary="Register many DER from a CSV (all or nothing)",
)
async def register_bulk(request: Request, actor: ApiActor, service: RegistryDep) -> BulkResult:
    text = await _csv_text(request)
    regs = await run_in_threadpool(parse_csv, text)
    records = await run_in_threadpool(service.register_many, regs, actor)
    return mapper.bulk_result(records)


async def _csv_text(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form() as form:  # closes the spooled upload files
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                issue = ValidationIssue("csv", "(upload)", "file", None, "a CSV file part")
                raise ValidationError([issue])
            raw = await upload.read()
    else:
        raw = await request.body()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        issue = ValidationIssue("csv", "(upload)", "(body)", None, "UTF-8 text")
        raise ValidationError([issue]) from None


@router.get("", response_model=DerPage, responses=_ERRORS, summary="List the DER you may see")
def list_ders(
    *,
    actor: ApiActor,
    service: RegistryDep,
    status: Annotated[Status | None, Query()] = None,
    feeder: Annotated[str | None, Query(max_length=80)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DerPage:
    q = mapper.der_query(status, feeder, offset, limit)
    records, total = service.list(actor, q)
    return mapper.der_page(records, total, q)


@router.get("/{der_id}", response_model=DerOut, responses=_ERRORS, summary="One DER")
def get_der(der_id: str, response: Response, actor: ApiActor, service: RegistryDep) -> DerOut:
    return _with_etag(response, mapper.der_out(service.get(der_id, actor)))


@router.put(
    "/{der_id}",
    response_model=DerOut,
    responses={
        **_ERRORS,
        409: {"description": "If-Match is not the stored version", **_PROBLEM},
        428: {"description": "If-Match missing", **_PROBLEM},
    },
    openapi_extra=_REGISTRATION_BODY,
    summary="Change a registration (re-screened); If-Match: the version it is based on",
)
async def update_der(
    *,
    der_id: str,
    request: Request,
    response: Response,
    actor: ApiActor,
    service: RegistryDep,
    if_match: Annotated[str | None, Header()] = None,
) -> DerOut:
    version = None if if_match is None else mapper.parse_if_match(if_match)
    if version is None:
        raise PreconditionRequiredError(
            "send If-Match with the version (ETag) the change is based on"
        )
    data = await _registration(request, der_id)
    record = await run_in_threadpool(service.update, der_id, data, actor, version)
    return _with_etag(response, mapper.der_out(record))


@router.post(
    "/{der_id}/actions/{action}",
    response_model=DerOut,
    responses={**_ERRORS, 409: {"description": "lifecycle does not allow it", **_PROBLEM}},
    summary="A lifecycle action: provision, activate, suspend, resume, decommission",
)
def act(
    *,
    der_id: str,
    action: Action,
    response: Response,
    actor: ApiActor,
    service: RegistryDep,
    body: Annotated[ActionIn | None, Body()] = None,
) -> DerOut:
    detail = body.detail if body is not None else ""
    return _with_etag(response, mapper.der_out(service.act(der_id, action, actor, detail)))
