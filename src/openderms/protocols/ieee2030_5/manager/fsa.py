"""FunctionSetAssignments: which FSAs an EndDevice is handed (clause 9.5)."""

from __future__ import annotations

from uuid import uuid4

from openderms.errors import NotFoundError
from openderms.protocols.ieee2030_5.domain import Client, EndDevice, Fsa
from openderms.protocols.ieee2030_5.manager.edev import EndDeviceManager
from openderms.protocols.ieee2030_5.repository.fsa import FsaRepository


def new_mrid(pen: int) -> str:
    """A fresh mRID: 96 random bits then the 32-bit IANA private enterprise number of the
    server's owner, as CSIP asks (32 upper-case hex digits)."""
    return f"{uuid4().hex[:24].upper()}{pen & 0xFFFFFFFF:08X}"


class FsaManager:
    def __init__(self, repo: FsaRepository, end_devices: EndDeviceManager, pen: int) -> None:
        self._repo = repo
        self._end_devices = end_devices
        self._pen = pen

    def of(self, client: Client, end_device_id: int) -> tuple[EndDevice, list[Fsa]]:
        device = self._end_devices.get(client, end_device_id)
        return device, self._repo.for_end_device(device.id)

    def get(self, client: Client, end_device_id: int, fsa_id: int) -> tuple[EndDevice, Fsa]:
        device, fsas = self.of(client, end_device_id)
        for fsa in fsas:
            if fsa.id == fsa_id:
                return device, fsa
        raise NotFoundError("FunctionSetAssignments", str(fsa_id))

    # -- internal API -------------------------------------------------------------------

    def ensure(self, description: str) -> Fsa:
        """The FSA named ``description`` (created when missing)."""
        found = self._repo.by_description(description)
        return found or self._repo.add(new_mrid(self._pen), description)

    def assign(self, end_device_id: int, fsa_id: int) -> None:
        """Hand the FSA to the EndDevice."""
        self._repo.assign(end_device_id, fsa_id)
        self._end_devices.on_access_change_fire()

    def unassign(self, end_device_id: int, fsa_id: int) -> None:
        self._repo.unassign(end_device_id, fsa_id)
        self._end_devices.on_access_change_fire()
