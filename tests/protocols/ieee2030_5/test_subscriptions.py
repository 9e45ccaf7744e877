"""Subscription/Notification (IEEE 2030.5 clause 9.6) after the CSIP-AUS server procedures on
subscriptions and ERR cases, with a loopback HTTPS webhook receiver made here.

sep.xsd on Subscription.notificationURI: "The resource to which to post the notifications
about the requested subscribed resource. Because this URI will exist on a server other than
the one being POSTed to, this attribute SHALL be a fully-qualified absolute URI, not a
relative reference." The server retries a Notification its subscriber did not take, with
exponential back-off, and keeps it across a restart until delivered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.protocols.ieee2030_5.schema.derp import DefaultDERControl, DERControlBase
from openderms.protocols.ieee2030_5.schema.edev import EndDevice
from openderms.protocols.ieee2030_5.schema.pubsub import Subscription, SubscriptionList
from openderms.protocols.ieee2030_5.services import build_services
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import (
    FAST_RETRIES,
    Pki,
    Running,
    Snapshot,
    notify_context,
    serve_in_thread,
)
from tests.protocols.ieee2030_5.sep_schema import assert_valid

SEP = {"content-type": "application/sep+xml"}


@dataclass
class Receiver:
    """A webhook that answers 503 to its first ``refuse`` POSTs, then 204."""

    refuse: int = 0
    bodies: list[bytes] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def notify(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            if self.refused < self.refuse:
                self.refused += 1
                return Response(status_code=503)
            self.bodies.append(body)
        return Response(status_code=204)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def webhook(pki: Pki) -> Iterator[Callable[[Receiver, int], str]]:
    """Start a receiver over TLS (the test server certificate) on a port; returns its URI.
    Request it before ``running``, so that the server (and its keep-alive connections to
    the receiver) stops first."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(receiver: Receiver, port: int) -> str:
        app = Starlette(routes=[Route("/notify", receiver.notify, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(pki.server.cert),
            ssl_keyfile=str(pki.server.key),
            log_level="warning",
            lifespan="off",
        )
        servers.append(serve_in_thread(config))
        return f"https://127.0.0.1:{port}/notify"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def subscription(resource: str, uri: str, limit: int = 10) -> bytes:
    sub = Subscription(
        subscribed_resource=resource, encoding=0, level="+S1", limit=limit, notification_uri=uri
    )
    out = sub.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(out, bytes)
    return out


def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_core_a_subscriber_is_notified_of_new_controls_after_retries(
    webhook: Callable[[Receiver, int], str], running: Running
) -> None:
    """The client subscribes to its program's DERControlList through the EndDevice's
    SubscriptionListLink; a new control is POSTed to it as a sep.xsd-valid Notification,
    after the receiver refused twice."""
    receiver = Receiver(refuse=2)
    uri = webhook(receiver, free_port())
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    resource = f"/derp/{program.id}/derc"
    with running.client("device1") as c:
        edev = EndDevice.from_xml(c.get(f"/edev/{device.id}").content)
        assert edev.subscription_list_link is not None
        href = edev.subscription_list_link.href
        created = c.post(href, content=subscription(resource, uri), headers=SEP)
        assert created.status_code == 201
        got = Subscription.from_xml(c.get(created.headers["location"]).content)
        listed = SubscriptionList.from_xml(c.get(href).content)
    assert (got.subscribed_resource, got.notification_uri, listed.all) == (resource, uri, 1)
    mrid = provision.control(running, program.id)
    wait_for(lambda: len(receiver.bodies) == 1)
    assert receiver.refused == 2
    body = receiver.bodies[0]
    assert_valid(running.schema, body)
    assert mrid.encode() in body
    assert created.headers["location"].encode() in body
    assert b'xsi:type="DERControlList"' in body
    with running.client("device1") as c:
        assert c.delete(created.headers["location"]).status_code == 204
        assert SubscriptionList.from_xml(c.get(href).content).all == 0


def test_core_active_list_subscribers_are_notified_when_a_control_starts_and_ends(
    webhook: Callable[[Receiver, int], str], running: Running
) -> None:
    """The ActiveDERControlList changes when a control's interval starts and ends, with no
    write: the server notifies its subscribers then too."""
    receiver = Receiver()
    uri = webhook(receiver, free_port())
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    resource = f"/derp/{program.id}/actderc"
    with running.client("device1") as c:
        sub = subscription(resource, uri)
        assert c.post(f"/edev/{device.id}/sub", content=sub, headers=SEP).status_code == 201
    mrid = provision.control(running, program.id, start_in_s=2, duration_s=1).encode()
    wait_for(lambda: len(receiver.bodies) == 3, timeout_s=15)
    for got in receiver.bodies:
        assert_valid(running.schema, got)
    created, started, ended = receiver.bodies
    assert mrid not in created
    assert mrid in started
    assert b"<currentStatus>1</currentStatus>" in started
    assert mrid not in ended


def test_core_default_control_subscribers_are_notified_when_it_is_set(
    webhook: Callable[[Receiver, int], str], running: Running
) -> None:
    """IEEE 2030.5 clause 9.6: a client may subscribe to a resource marked subscribable; a
    program's DefaultDERControl is (cactus S-ALL-39 "Default Controls - Ramp Rate"). Setting
    a new default POSTs a sep.xsd-valid Notification carrying it (here setGradW 100)."""
    receiver = Receiver()
    uri = webhook(receiver, free_port())
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    resource = f"/derp/{program.id}/dderc"
    with running.client("device1") as c:
        sub = subscription(resource, uri)
        assert c.post(f"/edev/{device.id}/sub", content=sub, headers=SEP).status_code == 201
    provision.control(running, program.id)  # a control is no DefaultDERControl change
    default = DefaultDERControl(
        mrid="B" * 24 + "00003039",
        der_control_base=DERControlBase(op_mod_energize=True),
        set_grad_w=100,
    )
    running.services.programs.set_default_control(program.id, default)
    wait_for(lambda: len(receiver.bodies) == 1)
    body = receiver.bodies[0]
    assert_valid(running.schema, body)
    assert b'xsi:type="DefaultDERControl"' in body
    assert b"<setGradW>100</setGradW>" in body
    assert default.mrid.encode() in body


def test_core_list_subscribers_are_notified_when_their_list_changes(
    webhook: Callable[[Receiver, int], str], running: Running
) -> None:
    """IEEE 2030.5 clause 9.6: a client may subscribe to a list marked subscribable; CSIP-AUS
    S-ALL-25 subscribes to the EndDeviceList, the FunctionSetAssignmentsList and an FSA's
    DERProgramList. Each subscriber is notified with the list as it reads it, when that list
    changes (a poll rate set, an FSA handed, a program added), not on other changes."""
    receivers = {k: Receiver() for k in ("edev", "fsa", "derp")}
    uris = {k: webhook(r, free_port()) for k, r in receivers.items()}
    device = provision.end_device(running, "device1")
    fsa = running.services.fsas.ensure("fsa1")
    running.services.fsas.assign(device.id, fsa.id)
    resources = {
        "edev": "/edev",
        "fsa": f"/edev/{device.id}/fsa",
        "derp": f"/edev/{device.id}/fsa/{fsa.id}/derp",
    }
    with running.client("device1") as c:
        for key, resource in resources.items():
            sub = subscription(resource, uris[key])
            r = c.post(f"/edev/{device.id}/sub", content=sub, headers=SEP)
            assert r.status_code == 201, resource
    running.services.server.set_poll_rate(60, "DERControlList")  # in none of the three
    running.services.server.set_poll_rate(30, "EndDeviceList")
    wait_for(lambda: len(receivers["edev"].bodies) == 1)
    assert b'pollRate="30"' in receivers["edev"].bodies[0]
    fsa2 = running.services.fsas.ensure("fsa2")
    running.services.fsas.assign(device.id, fsa2.id)
    wait_for(lambda: len(receivers["fsa"].bodies) == 1)
    assert f"/edev/{device.id}/fsa/{fsa2.id}".encode() in receivers["fsa"].bodies[0]
    program = running.services.programs.ensure_program(fsa.id, "p1", 1)
    wait_for(lambda: len(receivers["derp"].bodies) == 1)
    assert program.mrid.encode() in receivers["derp"].bodies[0]
    for receiver in receivers.values():
        for body in receiver.bodies:
            assert_valid(running.schema, body)
    kinds = [b.split(b'xsi:type="')[1].split(b'"')[0] for r in receivers.values() for b in r.bodies]
    assert kinds == [b"EndDeviceList", b"FunctionSetAssignmentsList", b"DERProgramList"]


def test_err_another_clients_lists_are_not_subscribable(
    running: Running, snapshot: Snapshot
) -> None:
    """A device may subscribe only to lists it reads: another EndDevice's FSA list is refused
    (400) and nothing is kept."""
    device1 = provision.end_device(running, "device1")
    device2 = provision.end_device(running, "device2")
    before = snapshot()
    with running.client("device1") as c:
        sub = subscription(f"/edev/{device2.id}/fsa", "https://127.0.0.1:1/notify")
        assert c.post(f"/edev/{device1.id}/sub", content=sub, headers=SEP).status_code == 400
    assert snapshot() == before


def test_core_pending_notifications_survive_a_restart(
    webhook: Callable[[Receiver, int], str], running: Running, pki: Pki
) -> None:
    """Notifications the subscriber could not take are kept in the store; a server started
    again on the same store delivers them."""
    port = free_port()
    uri = f"https://127.0.0.1:{port}/notify"
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    with running.client("device1") as c:
        c.post(
            f"/edev/{device.id}/sub",
            content=subscription(f"/derp/{program.id}/derc", uri),
            headers=SEP,
        )
    provision.control(running, program.id)

    def attempts() -> int:
        with running.store.engine.connect() as conn:
            found = conn.execute(text("SELECT attempts FROM sep_notification")).scalar()
        return int(found or 0)

    wait_for(lambda: attempts() >= 2)
    running.services.close()  # the server stops with the notification undelivered
    receiver = Receiver()
    webhook(receiver, port)
    again = build_services(
        running.store.engine, pen=12345, notify_tls=notify_context(pki), notify_policy=FAST_RETRIES
    )
    try:
        wait_for(lambda: len(receiver.bodies) == 1)
        wait_for(lambda: attempts() == 0)
    finally:
        again.close()


def test_err_refused_subscriptions_change_nothing(running: Running, snapshot: Snapshot) -> None:
    """A resource the device is not given, a relative or plain-http notificationURI, another
    client's EndDevice: refused, nothing kept."""
    device1 = provision.end_device(running, "device1")
    device2 = provision.end_device(running, "device2")
    mine = provision.program(running, [device1], "p1")
    theirs = provision.program(running, [device2], "p2")
    ok_uri = "https://127.0.0.1:1/notify"
    before = snapshot()
    with running.client("device1") as c:
        href = f"/edev/{device1.id}/sub"
        cases = [
            subscription(f"/derp/{theirs.id}/derc", ok_uri),
            subscription("/dcap", ok_uri),  # not subscribable here
            subscription(f"/derp/{mine.id}/derc", "/notify"),
            subscription(f"/derp/{mine.id}/derc", "http://127.0.0.1:1/notify"),
        ]
        for case in cases:
            assert c.post(href, content=case, headers=SEP).status_code == 400
        other = f"/edev/{device2.id}/sub"
        sub = subscription(f"/derp/{theirs.id}/derc", ok_uri)
        assert c.post(other, content=sub, headers=SEP).status_code == 404
    assert snapshot() == before


def test_maint_subscriptions_the_subscriber_may_no_longer_read_are_cancelled(
    webhook: Callable[[Receiver, int], str], running: Running
) -> None:
    """CSIP 5.3.5 Maintenance of Subscriptions / IEEE 2030.5 Notification.status 1
    ("Subscription canceled, no additional information"): when the utility takes the FSA
    of a subscribed program back, the server cancels the subscription, tells the subscriber
    with a sep.xsd-valid Notification of status 1, no longer lists it nor notifies changes."""
    receiver = Receiver()
    uri = webhook(receiver, free_port())
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    kept = provision.program(running, [device], "feeder-2")
    with running.client("device1") as c:
        for p in (program, kept):
            sub = subscription(f"/derp/{p.id}/derc", uri)
            assert c.post(f"/edev/{device.id}/sub", content=sub, headers=SEP).status_code == 201
    running.services.fsas.unassign(device.id, running.services.fsas.ensure("feeder-1").id)
    wait_for(lambda: len(receiver.bodies) == 1)
    body = receiver.bodies[0]
    assert_valid(running.schema, body)
    assert b"<status>1</status>" in body
    assert f"/derp/{program.id}/derc".encode() in body
    provision.control(running, program.id)  # no longer notified
    provision.control(running, kept.id)  # still notified
    wait_for(lambda: len(receiver.bodies) == 2)
    assert f"/derp/{kept.id}/derc".encode() in receiver.bodies[1]
    with running.client("device1") as c:
        listed = SubscriptionList.from_xml(c.get(f"/edev/{device.id}/sub").content)
    assert [s.subscribed_resource for s in listed.items] == [f"/derp/{kept.id}/derc"]

    def kept_rows() -> int:
        with running.store.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM sep_subscription")).scalar() or 0)

    wait_for(lambda: kept_rows() == 1)  # the cancelled one went with its last Notification
