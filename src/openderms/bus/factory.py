"""``open_bus(url)``: the one place where a backend is chosen, from configuration.

- ``memory://`` -> ``InProcessBus`` (the embedded default)
- ``nats://host:port`` (or ``nats://h1:4222,h2:4222`` for a cluster, ``tls://`` for TLS)
  -> ``NatsJetStreamBus``

Any ``BusOptions`` field may follow as a query: ``nats://127.0.0.1:4222?namespace=site1``.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qsl, urlsplit

from openderms.bus.memory import InProcessBus
from openderms.bus.port import BusOptions, MessageBus
from openderms.errors import ValidationError, ValidationIssue

_NATS_SCHEMES = ("nats", "tls")


def bus_options(url: str) -> BusOptions:
    """The ``BusOptions`` a bus URL's query gives (defaults for the others)."""
    types = {f.name: f.type for f in dataclasses.fields(BusOptions)}
    values: dict[str, object] = {}
    issues = []
    for name, text in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        kind = types.get(name)
        try:
            if kind is None:
                raise ValueError
            values[name] = int(text) if kind == "int" else float(text) if kind == "float" else text
        except ValueError:
            expected = f"a {kind}" if kind else "one of " + ", ".join(types)
            issues.append(ValidationIssue("bus url", url, name, text, expected))
    if issues:
        raise ValidationError(issues)
    return BusOptions(**values)  # type: ignore[arg-type]


async def open_bus(url: str) -> MessageBus:
    """Open the bus ``url`` names (see the module docstring); close it with ``close()``."""
    parts = urlsplit(url)
    options = bus_options(url)
    if parts.scheme == "memory":
        return InProcessBus(options)
    if parts.scheme in _NATS_SCHEMES and parts.netloc:
        from openderms.bus.jetstream import NatsJetStreamBus

        servers = [f"{parts.scheme}://{host}" for host in parts.netloc.split(",")]
        return await NatsJetStreamBus.connect(servers, options)
    expected = "memory:// or nats://host:port[,host:port...][?option=value...]"
    raise ValidationError([ValidationIssue("bus url", url, "url", url, expected)])
