"""The real-time control loop: state, violations, dispatch, control queue, failsafes, revert.

::

    state = GridState(twin.network, aggregator_of)          # DER views + network model
    link = InMemoryDelivery(clock, LinkBehaviour(...))      # or Ieee2030_5Delivery(...)
    loop = ControlLoop(state, link, link, LoopConfig(substation_id="sub1"))
    loop.provision_defaults(now)                            # safe fallback caps per node
    loop.ingest_telemetry("PV_1", {...}); report = loop.step(now)
    runner = ControlLoopRunner(bus, loop, SystemClock())    # the same, driven by the bus

Modules: ``ports`` (ControlDelivery, ResponseSource, Clock), ``memory`` (in-memory link),
``ieee2030_5`` (2030.5 adapter), ``state``, ``queue``, ``failsafe``, ``revert``, ``audit``,
``plans``, ``loop``, ``runner``, ``sim`` (simulated fleet and a fake-clock harness).
Signs: generator convention for DER (positive = export), loads positive when consuming,
``substation_p_kw`` positive = import. Times timezone-aware UTC.
"""

from openderms.services.control_loop.audit import AuditEntry, AuditLog
from openderms.services.control_loop.loop import ControlLoop, LoopConfig, StepReport
from openderms.services.control_loop.memory import InMemoryDelivery, LinkBehaviour
from openderms.services.control_loop.ports import (
    Clock,
    ControlDelivery,
    ControlRequest,
    DefaultControl,
    DeliveryError,
    DeliveryHandle,
    FakeClock,
    ResponseEvent,
    ResponseSource,
    ResponseStatus,
    SystemClock,
)
from openderms.services.control_loop.queue import (
    ControlQueue,
    ControlStatus,
    DeliveryRates,
    RetryPolicy,
)
from openderms.services.control_loop.runner import BusResponses, ControlLoopRunner
from openderms.services.control_loop.state import DerView, GridState

__all__ = [
    "AuditEntry",
    "AuditLog",
    "BusResponses",
    "Clock",
    "ControlDelivery",
    "ControlLoop",
    "ControlLoopRunner",
    "ControlQueue",
    "ControlRequest",
    "ControlStatus",
    "DefaultControl",
    "DeliveryError",
    "DeliveryHandle",
    "DeliveryRates",
    "DerView",
    "FakeClock",
    "GridState",
    "InMemoryDelivery",
    "LinkBehaviour",
    "LoopConfig",
    "ResponseEvent",
    "ResponseSource",
    "ResponseStatus",
    "RetryPolicy",
    "StepReport",
    "SystemClock",
]
