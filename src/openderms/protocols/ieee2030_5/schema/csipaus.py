"""CSIP-AUS extensions (namespace ``https://csipaus.org/ns``, prefix ``csipaus``, as in the
CSIP-AUS schema ``csipaus-ext.xsd`` that redefines sep.xsd in ``csipaus-core.xsd``):
ConnectionPoint (Annex E, "Connection Point Registration Extension") and the dynamic
operating envelope limits of DERControlBase (opModImpLimW, opModExpLimW, opModGenLimW,
opModLoadLimW), which ``schema.derp.DERControlBase`` carries.

ConnectionPoint: "Contains identification information related to the network location at
which the EndDevice is installed"; its ``connectionPointId`` (String32) is by default the
National Metering Identifier (NMI). CSIP-AUS 1.1 named it ``id``: a posted ``id`` is read
as the identifier too.
"""

from __future__ import annotations

from pydantic_xml import BaseXmlModel, attr, element

from openderms.protocols.ieee2030_5.schema.base import NS, String32

CSIPAUS_NS = "https://csipaus.org/ns"
#: the namespaces of a 2030.5 document carrying CSIP-AUS elements
NSMAP = {"": NS, "csipaus": CSIPAUS_NS}


class ConnectionPoint(
    BaseXmlModel,
    tag="ConnectionPoint",
    ns="csipaus",
    nsmap={"csipaus": CSIPAUS_NS},
    search_mode="ordered",
):
    href: str | None = attr(default=None)
    id_v11: String32 | None = element(tag="id", ns="csipaus", default=None)
    connection_point_id: String32 | None = element(
        tag="connectionPointId", ns="csipaus", default=None
    )

    def identifier(self) -> str | None:
        """The identifier posted: ``connectionPointId``, else CSIP-AUS 1.1's ``id``."""
        return self.connection_point_id or self.id_v11
