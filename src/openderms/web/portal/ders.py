"""Portal pages for DER: the list (mine, or all for operators, with lifecycle buttons), the
registration form with inline validation (htmx), and one DER with its screening result.

The form's messages come from the same ``ValidationIssue`` objects the API returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from openderms.errors import ConflictError, OpenDermsError, ValidationError
from openderms.registry.domain import Action, Location, Status, parse_registration
from openderms.registry.ports import Actor
from openderms.web.auth import PortalActor
from openderms.web.deps import Registry, RegistryDep, TemplatesDep
from openderms.web.mapper import ders as mapper
from openderms.web.mapper.hosting import hosting_hint
from openderms.web.portal import forms

router = APIRouter(prefix="/portal/ders", include_in_schema=False)

PAGE = 50


async def _posted(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    async with request.form() as form:
        for key, value in form.multi_items():
            if isinstance(value, str):
                out.setdefault(key, []).append(value)
    return out


def _hint(service: Registry, data: Mapping[str, Any]) -> str:
    """Hosting capacity where the form says the DER connects ('' until that is readable)."""
    try:
        location = Location.model_validate(data.get("location"))
        return hosting_hint(service.hosting_capacity_at(location))
    except (ValueError, OpenDermsError):
        return ""


def _form_page(
    request: Request,
    templates: TemplatesDep,
    actor: Actor,
    *,
    form: Mapping[str, Sequence[str]] | None,
    msgs: Mapping[str, list[str]],
    hosting: str = "",
    status_code: int = 200,
) -> Response:
    context = {
        "actor": actor,
        "groups": forms.GROUPS,
        "values": forms.form_values(form),
        "msgs": msgs,
        "hosting_hint": hosting,
        "status_text": "",
    }
    return templates.TemplateResponse(request, "der_new.html", context, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def list_page(
    *,
    request: Request,
    actor: PortalActor,
    service: RegistryDep,
    templates: TemplatesDep,
    status: Annotated[str | None, Query()] = None,
    feeder: Annotated[str | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    statuses: tuple[Status, ...] = get_args(Status)
    chosen = next((s for s in statuses if s == status), None)
    q = mapper.der_query(chosen, feeder or None, offset, PAGE)
    records, total = service.list(actor, q)

    def page_query(at: int) -> str:
        params = {"status": chosen or "", "feeder": feeder or "", "offset": max(at, 0)}
        return urlencode(params)

    context = {
        "actor": actor,
        "heading": "All DER" if actor.role == "operator" else "My DER",
        "records": records,
        "total": total,
        "offset": offset,
        "limit": PAGE,
        "status": chosen,
        "feeder": feeder,
        "statuses": statuses,
        "page_query": page_query,
    }
    return templates.TemplateResponse(request, "ders_list.html", context)


@router.get("/new", response_class=HTMLResponse)
def new_page(request: Request, actor: PortalActor, templates: TemplatesDep) -> Response:
    return _form_page(request, templates, actor, form=None, msgs={})


@router.post("/validate", response_class=HTMLResponse)
async def validate(
    request: Request, actor: PortalActor, service: RegistryDep, templates: TemplatesDep
) -> Response:
    """Inline validation: one out-of-band swap per message slot (empty when fine)."""
    form = await _posted(request)
    data = mapper.registration_data(form)
    msgs: dict[str, list[str]] = {}
    status_text = ""
    try:
        parse_registration(data)
        status_text = "Looks complete: submit to screen it."
    except ValidationError as exc:
        msgs = forms.messages(exc.issues, only_filled=mapper.filled_fields(form))
    hosting = await run_in_threadpool(_hint, service, data)
    context = {
        "slots": sorted(forms.SLOTS),
        "msgs": msgs,
        "hosting_hint": hosting,
        "status_text": status_text,
    }
    return templates.TemplateResponse(request, "_validation.html", context)


@router.post("", response_class=HTMLResponse)
async def submit(
    request: Request, actor: PortalActor, service: RegistryDep, templates: TemplatesDep
) -> Response:
    form = await _posted(request)
    data = mapper.registration_data(form)
    try:
        registration = parse_registration(data)
        record = await run_in_threadpool(service.register, registration, actor)
    except (ValidationError, ConflictError) as exc:
        hosting = await run_in_threadpool(_hint, service, data)
        if isinstance(exc, ValidationError):
            msgs = forms.messages(exc.issues)
        else:
            msgs = {forms.FORM_SLOT: [str(exc)]}
        return _form_page(
            request, templates, actor, form=form, msgs=msgs, hosting=hosting, status_code=422
        )
    return RedirectResponse(f"/portal/ders/{record.id}", status_code=303)


@router.get("/{der_id}", response_class=HTMLResponse)
def detail_page(
    der_id: str,
    request: Request,
    actor: PortalActor,
    service: RegistryDep,
    templates: TemplatesDep,
) -> Response:
    record = service.get(der_id, actor)
    context = {
        "actor": actor,
        "r": record,
        "summary": "" if record.screening is None else mapper.screening_summary(record.screening),
        "available": mapper.available_actions(record.status),
    }
    return templates.TemplateResponse(request, "der_detail.html", context)


@router.post("/{der_id}/actions/{action}")
def act(der_id: str, action: Action, actor: PortalActor, service: RegistryDep) -> Response:
    service.act(der_id, action, actor, "from the portal")
    return RedirectResponse(f"/portal/ders/{der_id}", status_code=303)
