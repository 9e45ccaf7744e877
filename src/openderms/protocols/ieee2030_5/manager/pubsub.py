"""Subscription/Notification (clause 9.6): a client POSTs a Subscription to its EndDevice's
SubscriptionList naming a DERControlList (or ActiveDERControlList) of a program it is given;
whenever that program's controls change (created, cancelled, superseded) the server POSTs a
Notification carrying the list's first ``limit`` items to the subscriber's
``notificationURI``; and again when one of its controls starts or ends (the dispatcher's
ticks), since the ActiveDERControlList changes then. A program's DefaultDERControl
(``/derp/{id}/dderc``) is subscribable too: setting it notifies the new one. So are the
EndDeviceList, FSA lists and FSA program lists (``pubsub_lists``: notified when the list
the subscriber reads changes).

Delivery: each Notification is first stored (``sep_notification``), then one dispatcher
thread POSTs it over HTTPS; a 2xx removes it, anything else (refused, unreachable, timeout)
schedules a retry after ``backoff_s`` x 2^attempts (at most ``max_backoff_s``), up to
``max_attempts``. Pending notifications survive a restart: ``build_services`` resumes them.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from openderms.errors import NotFoundError, ValidationError, ValidationIssue
from openderms.protocols.ieee2030_5.domain import FINAL_STATUSES, Client
from openderms.protocols.ieee2030_5.manager.dcap import ServerManager
from openderms.protocols.ieee2030_5.manager.derp import DerProgramManager
from openderms.protocols.ieee2030_5.manager.edev import EndDeviceManager
from openderms.protocols.ieee2030_5.manager.fsa import FsaManager
from openderms.protocols.ieee2030_5.manager.pubsub_lists import ListWatcher
from openderms.protocols.ieee2030_5.mapper import derp as derp_mapper
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.repository.derp import DerProgramRepository
from openderms.protocols.ieee2030_5.repository.edev import EndDeviceRepository
from openderms.protocols.ieee2030_5.repository.pubsub import (
    PendingNotification,
    PubSubRepository,
    SubscriptionRecord,
)
from openderms.protocols.ieee2030_5.schema.base import MEDIA_TYPE, SepModel
from openderms.protocols.ieee2030_5.schema.pubsub import (
    Subscription,
    cancellation,
    notification,
)
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_CONTROL_LIST = re.compile(r"^/derp/(\d+)/(derc|actderc)$")
#: what a client may subscribe to: a program's control lists and its DefaultDERControl
_SUBSCRIBABLE = re.compile(r"^/derp/(\d+)/(derc|actderc|dderc)$")


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Retries of a Notification: ``backoff_s`` x 2^attempts, at most ``max_backoff_s``."""

    backoff_s: float = 5.0
    max_backoff_s: float = 600.0
    max_attempts: int = 12
    timeout_s: float = 10.0


class SubscriptionManager:
    def __init__(
        self,
        repo: PubSubRepository,
        end_devices: EndDeviceManager,
        programs: DerProgramManager,
        program_repo: DerProgramRepository,
        clock: Clock,
        *,
        base_url: str | None = None,
        tls: ssl.SSLContext | None = None,
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self._repo = repo
        self._end_devices = end_devices
        self._programs = programs
        self._program_repo = program_repo
        self._clock = clock
        #: the server's absolute base URL (subscriptionURI is absolute); learnt from the
        #: first request when not given
        self.base_url = base_url
        self._dispatcher = NotificationDispatcher(
            repo, clock, tls, policy or DeliveryPolicy(), tick=self.tick
        )
        self._last_tick = clock()
        programs.on_controls_changed.append(self.controls_changed)
        programs.on_default_changed.append(self.default_changed)
        self._end_device_repo: EndDeviceRepository | None = None
        #: subscriptions to the EndDeviceList, FSA lists and FSA program lists (None: these
        #: lists are not subscribable, no FsaManager and ServerManager were given)
        self.lists: ListWatcher | None = None

    def watch_lists(
        self,
        end_device_repo: EndDeviceRepository,
        fsas: FsaManager,
        server: ServerManager,
    ) -> None:
        """Make the EndDeviceList, FSA lists and FSA program lists subscribable, and cancel
        the subscriptions whose resource their subscriber may no longer read."""
        self._end_device_repo = end_device_repo
        self.lists = ListWatcher(
            self._repo,
            end_device_repo=end_device_repo,
            end_devices=self._end_devices,
            fsas=fsas,
            programs=self._programs,
            server=server,
            enqueue=lambda docs: self._enqueue(
                [(sub, self._notification(sub, d)) for sub, d in docs]
            ),
        )
        self._end_devices.on_access_change.append(self.cancel_unreadable)

    def cancel_unreadable(self) -> None:
        """Cancel every subscription whose subscriber may no longer read its resource (its
        access revoked, the program's FSA taken back...): it is marked cancelled (no longer
        listed nor notified of changes) and a Notification with status 1 ("subscription
        canceled, no additional information") tells the subscriber; the subscription is
        forgotten once that Notification is sent."""
        gone = [sub for sub in self._repo.active() if not self._readable(sub)]
        if not gone:
            return
        self._repo.cancel([sub.id for sub in gone], self._clock())
        if self.lists is not None:
            for sub in gone:
                self.lists.forget(sub.id)
        self._enqueue(
            [(sub, cancellation(sub.subscribed_resource, self._uri(sub))) for sub in gone]
        )

    def _readable(self, sub: SubscriptionRecord) -> bool:
        match = _SUBSCRIBABLE.match(sub.subscribed_resource)
        if match is None:
            return self.lists is None or self.lists.readable(sub)
        device = self._end_device_repo.get(sub.end_device_id) if self._end_device_repo else None
        if device is None:
            return False
        if not self._end_devices.access_granted(
            ClientIdentity.from_lfdi(device.aggregator_lfdi or device.lfdi)
        ):
            return False
        given = self._program_repo.visible_to(device.lfdi, aggregator=False)
        return int(match.group(1)) in {p.id for p in given}

    # -- clients --------------------------------------------------------------------------

    def of(self, client: Client, end_device_id: int) -> list[SubscriptionRecord]:
        self._end_devices.get(client, end_device_id)
        return self._repo.of_device(end_device_id)

    def get(self, client: Client, end_device_id: int, subscription_id: int) -> SubscriptionRecord:
        for found in self.of(client, end_device_id):
            if found.id == subscription_id:
                return found
        raise NotFoundError("Subscription", str(subscription_id))

    def subscribe(self, client: Client, end_device_id: int, posted: Subscription) -> int:
        device = self._end_devices.get(client, end_device_id)
        issues = []
        match = _SUBSCRIBABLE.match(posted.subscribed_resource)
        given = {p.id for p in self._program_repo.visible_to(device.lfdi, aggregator=False)}
        is_list = self.lists is not None and self.lists.accepts(client, posted.subscribed_resource)
        if not is_list and (match is None or int(match.group(1)) not in given):
            issues.append(
                _issue(
                    "subscribedResource",
                    posted.subscribed_resource,
                    "a DERControlList or DefaultDERControl of the device, or a list it reads",
                )
            )
        if not posted.notification_uri.startswith("https://"):
            issues.append(
                _issue("notificationURI", posted.notification_uri, "an absolute https URI")
            )
        if posted.encoding != 0:
            issues.append(_issue("encoding", posted.encoding, "0 (XML)"))
        if posted.limit < 1:
            issues.append(_issue("limit", posted.limit, ">= 1"))
        if issues:
            raise ValidationError(issues)
        values = posted.model_dump(exclude={"href"})
        values.update(end_device_id=end_device_id, created_at=self._clock())
        record = self._repo.add(values)
        if is_list and self.lists is not None:
            self.lists.subscribed(record)
        self._dispatcher.wake()  # its ticks notify controls starting and ending
        return record.id

    def unsubscribe(self, client: Client, end_device_id: int, subscription_id: int) -> None:
        self.get(client, end_device_id, subscription_id)
        self._repo.remove(subscription_id)
        if self.lists is not None:
            self.lists.forget(subscription_id)

    # -- notifications --------------------------------------------------------------------

    def controls_changed(self, program_id: int) -> None:
        """Queue a Notification for every subscription to the program's control lists."""
        paths = [links.controls(program_id), links.active_controls(program_id)]
        subscriptions = self._repo.of_resources(paths)
        if not subscriptions:
            return
        now = self._clock()
        controls = self._programs.program_controls(program_id)
        bodies = []
        for sub in subscriptions:
            items = controls
            if sub.subscribed_resource.endswith("/actderc"):
                items = [c for c in controls if c.current_status(now) == 1]
            page = derp_mapper.control_list(
                sub.subscribed_resource, items[: sub.limit], len(items), now
            )
            bodies.append((sub, self._notification(sub, page)))
        self._enqueue(bodies)

    def default_changed(self, program_id: int) -> None:
        """Queue a Notification with the new DefaultDERControl for each of its subscribers."""
        subscriptions = self._repo.of_resources([links.default_control(program_id)])
        if not subscriptions:
            return
        default = derp_mapper.default_control(
            program_id, self._programs.program_default(program_id)
        )
        self._enqueue([(sub, self._notification(sub, default)) for sub in subscriptions])

    def _notification(self, sub: SubscriptionRecord, resource: SepModel) -> bytes:
        return notification(sub.subscribed_resource, self._uri(sub), resource)

    def _uri(self, sub: SubscriptionRecord) -> str:
        return (self.base_url or "") + links.subscription(sub.end_device_id, sub.id)

    def _enqueue(self, bodies: list[tuple[SubscriptionRecord, bytes]]) -> None:
        now = self._clock()
        rows = [
            {
                "subscription_id": sub.id,
                "body": body.decode(),
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for sub, body in bodies
        ]
        self._repo.enqueue(rows)
        self._dispatcher.wake()

    def tick(self) -> datetime | None:
        """Notify the subscribers of programs where a control started or ended since the last
        tick (the ActiveDERControlList changed, an ended control left the list); return when
        the next such moment comes. Transitions while the server was down are not notified."""
        now = self._clock()
        last, self._last_tick = self._last_tick, now
        coming: datetime | None = None
        for program_id in self._subscribed_programs():
            crossed = False
            for control in self._programs.program_controls(program_id, include_ended=True):
                if control.status in FINAL_STATUSES:
                    continue
                for t in (control.start, control.end()):
                    if last < t <= now:
                        crossed = True
                    elif t > now and (coming is None or t < coming):
                        coming = t
            if crossed:
                self.controls_changed(program_id)
        return coming

    def _subscribed_programs(self) -> set[int]:
        found = (_CONTROL_LIST.match(p) for p in self._repo.subscribed_resources())
        return {int(m.group(1)) for m in found if m is not None}

    def resume(self) -> None:
        """Deliver the notifications a previous run left pending, and keep notifying the
        subscriptions it left."""
        if self._repo.next_due() is not None or self._repo.subscribed_resources():
            self._dispatcher.wake()

    def close(self) -> None:
        self._dispatcher.close()


class NotificationDispatcher:
    """One thread POSTing pending notifications, with exponential back-off."""

    def __init__(
        self,
        repo: PubSubRepository,
        clock: Clock,
        tls: ssl.SSLContext | None,
        policy: DeliveryPolicy,
        tick: Callable[[], datetime | None],
    ) -> None:
        self._tick = tick
        self._repo = repo
        self._clock = clock
        self._tls = tls
        self._policy = policy
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sep-notify", daemon=True)
                self._thread.start()
        self._wake.set()

    def close(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            self._stop.set()
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        verify: ssl.SSLContext | bool = self._tls if self._tls is not None else True
        with httpx.Client(verify=verify, timeout=self._policy.timeout_s) as http:
            while not self._stop.is_set():
                for pending in self._repo.due(self._clock()):
                    if self._stop.is_set():
                        return
                    self._deliver(http, pending)
                coming = self._safe_tick()
                following = self._repo.next_due()
                wait_s = 60.0
                for at in (following, coming):
                    if at is not None:
                        wait_s = max(0.0, min(wait_s, (at - self._clock()).total_seconds()))
                self._wake.wait(wait_s)
                self._wake.clear()

    def _safe_tick(self) -> datetime | None:
        try:
            return self._tick()
        except Exception:  # the dispatcher outlives a failed tick
            logger.exception("notification tick failed")
            return None

    def _deliver(self, http: httpx.Client, pending: PendingNotification) -> None:
        nid, uri, body, attempts = (
            pending.id,
            pending.notification_uri,
            pending.body,
            pending.attempts,
        )
        try:
            answer = http.post(uri, content=body.encode(), headers={"content-type": MEDIA_TYPE})
            ok = answer.is_success
        except httpx.HTTPError as exc:
            logger.info("notification %d to %s failed: %s", nid, uri, exc)
            ok = False
        if ok:
            self._repo.delivered(nid)
            return
        attempts += 1
        if attempts >= self._policy.max_attempts:
            logger.warning("notification %d to %s dropped after %d attempts", nid, uri, attempts)
            self._repo.delivered(nid)
            return
        delay_s = min(self._policy.max_backoff_s, self._policy.backoff_s * 2 ** (attempts - 1))
        self._repo.retry_at(nid, attempts, self._clock() + timedelta(seconds=delay_s))


def _issue(field: str, value: object, expected: str) -> ValidationIssue:
    return ValidationIssue("Subscription", "(posted)", field, value, expected)
