"""``/api/v1/aggregators``: aggregators and the LFDI of their 2030.5 client certificate
(operators only). The body gives ``lfdi`` (40 hex digits) or ``certificate_pem`` (the LFDI is
computed from it); an LFDI held by a DER or another aggregator is a 422 naming it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from openderms.errors import NotFoundError, PermissionDeniedError, ValidationError, ValidationIssue
from openderms.registry.aggregators import (
    Aggregator,
    AggregatorIn,
    AggregatorRegistry,
    lfdi_of_pem,
    parse_aggregator,
)
from openderms.registry.ports import Actor
from openderms.web.auth import ApiActor
from openderms.web.deps import RegistryDep

router = APIRouter(prefix="/aggregators", tags=["aggregators"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown bearer token", **_PROBLEM},
    403: {"description": "operators only", **_PROBLEM},
    422: {"description": "invalid input: `issues` names object, field, value", **_PROBLEM},
}
_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": AggregatorIn.model_json_schema()}},
    }
}


class AggregatorOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    lfdi: str
    created_at: str


def _out(a: Aggregator) -> AggregatorOut:
    return AggregatorOut(id=a.id, name=a.name, lfdi=a.lfdi, created_at=a.created_at.isoformat())


def _registry(service: object, actor: Actor) -> AggregatorRegistry:
    if actor.role != "operator":
        raise PermissionDeniedError("only an operator manages aggregators")
    registry = getattr(service, "aggregators", None)
    if not isinstance(registry, AggregatorRegistry):
        raise NotFoundError("aggregator registry", "(not configured)")
    return registry


@router.post(
    "",
    status_code=201,
    response_model=AggregatorOut,
    responses=_ERRORS,
    openapi_extra=_BODY,
    summary="Register an aggregator with its certificate's LFDI",
)
async def add(request: Request, actor: ApiActor, service: RegistryDep) -> AggregatorOut:
    registry = _registry(service, actor)
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        issue = ValidationIssue("aggregator", "(new)", "(body)", None, "a JSON object")
        raise ValidationError([issue])
    pem = data.pop("certificate_pem", None)
    if pem is not None:
        oid = str(data.get("id", "(new)"))
        data["lfdi"] = lfdi_of_pem(str(pem).encode(), oid)
    return _out(registry.add(parse_aggregator(data), actor))


@router.get("", response_model=list[AggregatorOut], responses=_ERRORS, summary="Aggregators")
def list_all(actor: ApiActor, service: RegistryDep) -> list[AggregatorOut]:
    return [_out(a) for a in _registry(service, actor).list()]


@router.get("/{aggregator_id}", response_model=AggregatorOut, responses=_ERRORS)
def get(aggregator_id: str, actor: ApiActor, service: RegistryDep) -> AggregatorOut:
    found = _registry(service, actor).get(aggregator_id)
    if found is None:
        raise NotFoundError("aggregator", aggregator_id)
    return _out(found)
