"""EndDevices and Registration: what a client may see and register.

Access (the server's access list): a certificate of the trusted CA may use the server unless
its access was revoked (``set_access``, kept in the store); every request of a revoked
certificate is refused with 403 (``PermissionDeniedError``) before anything is read or
changed, until access is granted again.

Authorisation (CSIP 5.2.3, IEEE 2030.5 clause 6.3.5): a device certificate sees only the
EndDevice whose LFDI is its own; an aggregator certificate sees its own EndDevice and the
EndDevices mapped to it, and can never read or change another's. Asking for an EndDevice one
may not see answers 404, as if it did not exist (``NotFoundError``), so that ids of other
clients' devices are not disclosed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from openderms.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    ValidationIssue,
)
from openderms.protocols.ieee2030_5.domain import Client, EndDevice, Page
from openderms.protocols.ieee2030_5.manager.cache import ReadCache, only_cached
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.repository.der import DerRepository
from openderms.protocols.ieee2030_5.repository.edev import EndDeviceRepository
from openderms.protocols.ieee2030_5.schema.csipaus import ConnectionPoint as ConnectionPointXml
from openderms.protocols.ieee2030_5.schema.edev import EndDevice as EndDeviceXml
from openderms.protocols.ieee2030_5.security.identity import (
    ClientIdentity,
    ClientKind,
    sfdi_from_lfdi,
)

Clock = Callable[[], datetime]


_NMI = re.compile(r"^[A-HJ-NP-Z0-9]{10}[0-9]?$")


def nmi_checksum(nmi10: str) -> int:
    """The AEMO NMI checksum digit of a 10-character NMI (Luhn over the characters' ASCII
    codes, doubling from the rightmost)."""
    total, double = 0, True
    for ch in reversed(nmi10):
        code = ord(ch) * 2 if double else ord(ch)
        double = not double
        total += sum(int(d) for d in str(code))
    return (10 - total % 10) % 10


def valid_nmi(nmi: str) -> bool:
    """An NMI as CSIP-AUS uses for ConnectionPoint ids: 10 characters (digits and upper-case
    letters but I and O), optionally followed by its checksum digit, which must match."""
    if not _NMI.match(nmi):
        return False
    return len(nmi) == 10 or int(nmi[10]) == nmi_checksum(nmi[:10])


def _issue(field: str, value: object, expected: str) -> ValidationError:
    return ValidationError([ValidationIssue("EndDevice", "(posted)", field, value, expected)])


class EndDeviceManager:
    def __init__(self, repo: EndDeviceRepository, ders: DerRepository, clock: Clock) -> None:
        self._repo = repo
        self._ders = ders
        self._clock = clock
        #: per certificate LFDI: its kind and whether its access is granted
        self._kinds: ReadCache[str, tuple[ClientKind, bool]] = ReadCache()
        #: called after any change that may change what a client sees (programs, controls)
        self.on_access_change: list[Callable[[], None]] = []

    # -- who is asking --------------------------------------------------------------------

    def client(self, identity: ClientIdentity, *, cached_only: bool = False) -> Client:
        """The client of a certificate: a registered aggregator, else a device
        (``cached_only``: raise ``CacheMiss`` rather than read the database);
        ``PermissionDeniedError`` when its access is revoked."""
        load = only_cached if cached_only else self._load_kind
        kind, granted = self._kinds.get(identity.lfdi, load)  # type: ignore[arg-type]
        if not granted:
            raise PermissionDeniedError(f"access of certificate {identity.lfdi} is revoked")
        return Client(identity=identity, kind=kind)

    def _load_kind(self, lfdi: str) -> tuple[ClientKind, bool]:
        kind, granted = self._repo.client_access(lfdi)
        return kind or "device", granted

    def set_access(self, identity: ClientIdentity, granted: bool) -> None:
        """Internal API: grant or revoke a certificate's access at run time (persisted; takes
        effect on its next request, on connections already open too)."""
        self._repo.set_access(identity.lfdi, identity.sfdi, granted, self._clock())
        self._kinds.invalidate(identity.lfdi)
        self._access_changed()

    def access_granted(self, identity: ClientIdentity) -> bool:
        """Internal API: whether the certificate may use the server."""
        return self._kinds.get(identity.lfdi, self._load_kind)[1]

    def put_client(self, identity: ClientIdentity, kind: ClientKind, name: str = "") -> None:
        """Internal API: declare a certificate a device or an aggregator."""
        self._repo.put_client(identity.lfdi, identity.sfdi, kind, name, self._clock())
        self._kinds.invalidate(identity.lfdi)
        self._access_changed()

    # -- reads --------------------------------------------------------------------------

    def page(self, client: Client, page: Page) -> tuple[list[EndDevice], int]:
        after = datetime.fromtimestamp(page.after, UTC) if page.after > 0 else None
        return self._repo.page_for(
            client.lfdi, client.kind == "aggregator", after, page.start, page.limit
        )

    def get(self, client: Client, end_device_id: int) -> EndDevice:
        """The EndDevice, if ``client`` may see it (``NotFoundError`` otherwise)."""
        device = self._repo.get(end_device_id)
        if device is None or not device.visible_to(client):
            raise NotFoundError("EndDevice", str(end_device_id))
        return device

    # -- writes by clients ----------------------------------------------------------------

    def register(self, client: Client, posted: EndDeviceXml) -> EndDevice:
        """A client POSTs an EndDevice (clause 9.4.3.2.1): its own, or for an aggregator one
        it manages. Returns the new EndDevice; refuses (without any change) an SFDI that does
        not match the LFDI, a device that belongs to another client (``PermissionDeniedError``)
        and an LFDI that is already registered (``ConflictError``, 409)."""
        lfdi = (posted.lfdi or "").lower()
        if client.kind == "device":
            if lfdi and lfdi != client.lfdi:
                raise PermissionDeniedError("a device may register only its own lFDI")
            if posted.sfdi != client.identity.sfdi:
                raise _issue("sFDI", posted.sfdi, f"{client.identity.sfdi}, the certificate's")
            lfdi = client.lfdi
        elif not lfdi:
            raise _issue("lFDI", None, "the lFDI of the device the aggregator registers")
        elif posted.sfdi != sfdi_from_lfdi(lfdi):
            raise _issue("sFDI", posted.sfdi, f"{sfdi_from_lfdi(lfdi)}, the lFDI's SFDI")
        existing = self._repo.by_lfdi(lfdi)
        if existing is not None:
            if not existing.visible_to(client):
                raise PermissionDeniedError(f"EndDevice {lfdi} belongs to another client")
            # one EndDevice per LFDI: a second registration (in-band after an out-of-band
            # one, or a repeat) is refused, the existing one is read at its own href
            raise ConflictError(
                f"EndDevice {lfdi} is already registered at {links.edev(existing.id)}"
            )
        manager = client.lfdi if client.kind == "aggregator" and lfdi != client.lfdi else None
        return self._create(
            lfdi,
            posted.sfdi,
            aggregator_lfdi=manager,
            device_category=posted.device_category,
            pin=None,
            der_id=None,
        )

    def set_connection_point(
        self, client: Client, end_device_id: int, posted: ConnectionPointXml
    ) -> tuple[EndDevice, bool]:
        """The client PUTs its EndDevice's CSIP-AUS ConnectionPoint (Annex E): the NMI is
        checked (``ValidationError``, 400 reasonCode 1, nothing changed) and kept; returns
        the EndDevice and whether it had none before."""
        device = self.get(client, end_device_id)
        nmi = (posted.identifier() or "").strip().upper()
        if not valid_nmi(nmi):
            raise ValidationError(
                [
                    ValidationIssue(
                        "ConnectionPoint",
                        str(end_device_id),
                        "connectionPointId",
                        posted.identifier(),
                        "an NMI: 10 characters A-Z (not I, O) or 0-9, then optionally its "
                        "checksum digit",
                    )
                ]
            )
        changed = self._repo.update(device.id, connection_point_id=nmi, changed_time=self._clock())
        return changed or device, device.connection_point_id is None

    # -- internal API -------------------------------------------------------------------

    def ensure(
        self,
        identity: ClientIdentity,
        aggregator_lfdi: str | None = None,
        pin: int | None = None,
        der_id: str | None = None,
        device_category: str | None = None,
    ) -> EndDevice:
        """Internal API: the EndDevice of ``identity`` (created when missing), mapped to
        ``aggregator_lfdi`` (None: the device speaks for itself). ``pin`` (the registration
        PIN), ``der_id`` (the registry's DER) and ``device_category`` change only when given."""
        existing = self._repo.by_lfdi(identity.lfdi)
        if existing is None:
            return self._create(
                identity.lfdi,
                identity.sfdi,
                aggregator_lfdi=aggregator_lfdi,
                device_category=device_category,
                pin=pin,
                der_id=der_id,
            )
        now = self._clock()
        values: dict[str, object] = {"aggregator_lfdi": aggregator_lfdi, "changed_time": now}
        if pin is not None and pin != existing.pin:
            values.update(pin=pin, registered_at=now)
        if der_id is not None:
            values["der_id"] = der_id
        if device_category is not None:
            values["device_category"] = device_category
        changed = self._repo.update(existing.id, **values)
        self._access_changed()
        return changed or existing

    def set_post_rate(self, end_device_id: int, post_rate_s: int | None) -> None:
        self._repo.update(end_device_id, post_rate_s=post_rate_s, changed_time=self._clock())

    def _create(
        self,
        lfdi: str,
        sfdi: int,
        *,
        aggregator_lfdi: str | None,
        device_category: str | None,
        pin: int | None,
        der_id: str | None,
    ) -> EndDevice:
        now = self._clock()
        device = self._repo.add(
            lfdi,
            sfdi,
            aggregator_lfdi=aggregator_lfdi,
            device_category=device_category,
            now=now,
            pin=pin,
            der_id=der_id,
        )
        self._ders.ensure(device.id, 1, now)  # every EndDevice reports at least DER 1
        self._access_changed()
        return device

    def on_access_change_fire(self) -> None:
        """Tell the caches that what clients may see has changed."""
        self._access_changed()

    def _access_changed(self) -> None:
        for hook in self.on_access_change:
            hook()
