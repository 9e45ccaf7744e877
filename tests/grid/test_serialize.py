"""Network JSON round trip, and bad JSON rejected with the field named."""

from __future__ import annotations

import json

import pytest

from openderms.errors import ValidationError
from openderms.grid.serialize import network_from_json, network_to_json
from openderms.sim.twin import build_twin
from tests.grid.builders import two_feeders


def test_round_trip_is_exact() -> None:
    net = build_twin("small").network
    assert network_from_json(network_to_json(net)) == net


def test_bad_field_is_named() -> None:
    data = json.loads(network_to_json(two_feeders()))
    data["lines"][1]["length_km"] = "long"
    data["switches"][0]["closed"] = "maybe"
    with pytest.raises(ValidationError) as err:
        network_from_json(json.dumps(data))
    where = {(i.object_kind, i.field, i.value) for i in err.value.issues}
    assert ("lines.1", "length_km", "long") in where
    assert ("switches.0", "closed", "maybe") in where
