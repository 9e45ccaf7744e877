"""The DER a client reports under its EndDevice (clause 10.10.4): capability (nameplate),
settings, status and availability, PUT by the client and read back by it and by openderms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from openderms.errors import NotFoundError
from openderms.protocols.ieee2030_5.domain import Client, DerInfo
from openderms.protocols.ieee2030_5.manager.edev import EndDeviceManager
from openderms.protocols.ieee2030_5.repository.der import DerDocKind, DerDocument, DerRepository

Clock = Callable[[], datetime]


class DerManager:
    def __init__(self, repo: DerRepository, end_devices: EndDeviceManager, clock: Clock) -> None:
        self._repo = repo
        self._end_devices = end_devices
        self._clock = clock

    def of(self, client: Client, end_device_id: int) -> list[DerInfo]:
        device = self._end_devices.get(client, end_device_id)
        return self._repo.of_end_device(device.id)

    def get(self, client: Client, end_device_id: int, der_index: int) -> DerInfo:
        device = self._end_devices.get(client, end_device_id)
        info = self._repo.get(device.id, der_index)
        if info is None:
            raise NotFoundError("DER", f"{end_device_id}/{der_index}")
        return info

    def document(
        self, client: Client, end_device_id: int, der_index: int, kind: DerDocKind
    ) -> DerDocument:
        """The latest document of ``kind`` (``NotFoundError`` when none was reported)."""
        info = self.get(client, end_device_id, der_index)
        found: DerDocument | None = getattr(info, kind)
        if found is None:
            raise NotFoundError(f"DER {kind}", f"{end_device_id}/{der_index}")
        return found

    def put(
        self,
        client: Client,
        end_device_id: int,
        der_index: int,
        kind: DerDocKind,
        document: DerDocument,
    ) -> None:
        """Replace a document the client reports (its own DER only)."""
        self.get(client, end_device_id, der_index)
        self._repo.put(end_device_id, der_index, kind, document, self._clock())

    def latest(self, end_device_id: int, der_index: int = 1) -> DerInfo | None:
        """Internal API: what the EndDevice last reported for one DER."""
        return self._repo.get(end_device_id, der_index)
