"""Subscriptions to the lists whose content depends on who reads them (clause 9.6): the
EndDeviceList (``/edev``), an EndDevice's FunctionSetAssignmentsList (``/edev/{id}/fsa``)
and an FSA's DERProgramList (``/edev/{id}/fsa/{fsa}/derp``).

The subscriber is the certificate that manages the subscribing EndDevice (its aggregator,
else the device itself): the list is rendered as that client would GET it (its first
``limit`` items), after every change that may alter it (an EndDevice registered or mapped,
an FSA handed or taken back, a program added, a poll rate set), and a Notification is queued
when the document differs from the last one rendered for that subscription. The last
documents are kept in memory: after a restart the first change sets them again without a
notification.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

from openderms.errors import OpenDermsError
from openderms.protocols.ieee2030_5.domain import Client, Page
from openderms.protocols.ieee2030_5.manager.dcap import ServerManager
from openderms.protocols.ieee2030_5.manager.derp import DerProgramManager
from openderms.protocols.ieee2030_5.manager.edev import EndDeviceManager
from openderms.protocols.ieee2030_5.manager.fsa import FsaManager
from openderms.protocols.ieee2030_5.mapper import derp as derp_mapper
from openderms.protocols.ieee2030_5.mapper import edev as edev_mapper
from openderms.protocols.ieee2030_5.mapper import fsa as fsa_mapper
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.repository.edev import EndDeviceRepository
from openderms.protocols.ieee2030_5.repository.pubsub import PubSubRepository, SubscriptionRecord
from openderms.protocols.ieee2030_5.schema.base import SepModel
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity

logger = logging.getLogger(__name__)
#: /edev, /edev/{id}/fsa, /edev/{id}/fsa/{fsa}/derp
LIST_RESOURCE = re.compile(r"^/edev(?:/(\d+)/fsa(?:/(\d+)/derp)?)?$")
Enqueue = Callable[[list[tuple[SubscriptionRecord, SepModel]]], None]


class ListWatcher:
    def __init__(
        self,
        repo: PubSubRepository,
        *,
        end_device_repo: EndDeviceRepository,
        end_devices: EndDeviceManager,
        fsas: FsaManager,
        programs: DerProgramManager,
        server: ServerManager,
        enqueue: Enqueue,
    ) -> None:
        self._repo = repo
        self._end_device_repo = end_device_repo
        self._end_devices = end_devices
        self._fsas = fsas
        self._programs = programs
        self._server = server
        self._enqueue = enqueue
        self._lock = threading.Lock()
        self._last: dict[int, bytes] = {}
        #: the list paths subscribed to (None: to be read again)
        self._paths: set[str] | None = None
        end_devices.on_access_change.append(self.changed)
        server.on_change.append(self.changed)

    def accepts(self, client: Client, path: str) -> bool:
        """Whether ``client`` may subscribe to the list at ``path``."""
        match = LIST_RESOURCE.match(path)
        if match is None:
            return False
        edev, fsa = match.groups()
        try:
            if edev is not None and fsa is None:
                self._fsas.of(client, int(edev))
            elif edev is not None:
                self._fsas.get(client, int(edev), int(fsa))
        except OpenDermsError:
            return False
        return True

    def subscribed(self, sub: SubscriptionRecord) -> None:
        """Remember what the new subscriber sees now: later changes are notified."""
        with self._lock:
            self._paths = None
        body = self._render_bytes(sub)
        if body is not None:
            with self._lock:
                self._last[sub.id] = body

    def forget(self, subscription_id: int) -> None:
        with self._lock:
            self._last.pop(subscription_id, None)
            self._paths = None

    def changed(self) -> None:
        """Queue a Notification for each list subscription whose document changed."""
        paths = self._subscribed_paths()
        if not paths:
            return
        out: list[tuple[SubscriptionRecord, SepModel]] = []
        for sub in self._repo.of_resources(sorted(paths)):
            doc = self._render(sub)
            if doc is None:
                continue
            body = _bytes(doc)
            with self._lock:
                before = self._last.get(sub.id)
                self._last[sub.id] = body
            if before is not None and before != body:
                out.append((sub, doc))
        if out:
            self._enqueue(out)

    def readable(self, sub: SubscriptionRecord) -> bool:
        """Whether the subscriber may still read the list it subscribed to."""
        return self._render(sub) is not None

    def _subscribed_paths(self) -> set[str]:
        with self._lock:
            if self._paths is not None:
                return self._paths
        found = {p for p in self._repo.subscribed_resources() if LIST_RESOURCE.match(p)}
        with self._lock:
            self._paths = found
        return found

    def _render_bytes(self, sub: SubscriptionRecord) -> bytes | None:
        doc = self._render(sub)
        return _bytes(doc) if doc is not None else None

    def _render(self, sub: SubscriptionRecord) -> SepModel | None:
        """The list as the subscriber reads it now (None: it may no longer read it)."""
        match = LIST_RESOURCE.match(sub.subscribed_resource)
        device = self._end_device_repo.get(sub.end_device_id)
        if match is None or device is None:
            return None
        try:
            client = self._end_devices.client(
                ClientIdentity.from_lfdi(device.aggregator_lfdi or device.lfdi)
            )
            return self._list(client, match, sub.limit)
        except OpenDermsError:
            return None

    def _list(self, client: Client, match: re.Match[str], limit: int) -> SepModel:
        edev, fsa = match.groups()
        rate = self._server.poll_rate_of
        if edev is None:
            devices, total = self._end_devices.page(client, Page(start=0, after=0, limit=limit))
            return edev_mapper.end_device_list(
                devices, total, rate("EndDeviceList"), self._server.post_rate_s
            )
        if fsa is None:
            _, fsas = self._fsas.of(client, int(edev))
            return fsa_mapper.fsa_list(
                int(edev), fsas[:limit], len(fsas), rate("FunctionSetAssignmentsList")
            )
        programs = self._programs.programs_of_fsa(client, int(edev), int(fsa))
        href = links.fsa_programs(int(edev), int(fsa))
        return derp_mapper.program_list(
            href, programs[:limit], len(programs), rate("DERProgramList"), subscribable=1
        )


def _bytes(doc: SepModel) -> bytes:
    body = doc.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(body, bytes)
    return body
