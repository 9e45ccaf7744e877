"""What the routers depend on, injected through the app (tests pass in-memory ones).

``Registry`` is the part of ``openderms.registry.service.RegistryService`` the web edge calls;
it is a protocol so that the web layer depends on the use cases, not on how they are built.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from openderms.registry.domain import Action, DerRecord, Location, Registration
from openderms.registry.ports import Actor, DerQuery
from openderms.registry.screening import HostingAt


class Registry(Protocol):
    """The registry's use cases (every call checks what ``actor`` may see and do)."""

    def register(self, data: Registration, actor: Actor) -> DerRecord: ...

    def register_many(
        self,
        data: Sequence[Registration],
        actor: Actor,
        progress: Callable[[int, int], None] | None = None,
    ) -> builtins.list[DerRecord]: ...

    def get(self, der_id: str, actor: Actor) -> DerRecord: ...

    def list(self, actor: Actor, q: DerQuery) -> tuple[builtins.list[DerRecord], int]: ...

    def update(
        self, der_id: str, data: Registration, actor: Actor, expected_version: int
    ) -> DerRecord: ...

    def act(self, der_id: str, action: Action, actor: Actor, detail: str = "") -> DerRecord: ...

    def hosting_capacity_at(self, location: Location) -> HostingAt: ...


@dataclass(frozen=True, slots=True)
class WebContext:
    """Everything the routers need, built once per app by ``create_app``."""

    registry: Registry
    templates: Jinja2Templates


def web_context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def registry(request: Request) -> Registry:
    return web_context(request).registry


def templates(request: Request) -> Jinja2Templates:
    return web_context(request).templates


RegistryDep = Annotated[Registry, Depends(registry)]
TemplatesDep = Annotated[Jinja2Templates, Depends(templates)]
