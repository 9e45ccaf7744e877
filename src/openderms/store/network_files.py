"""A working folder holding the operator's current network model (``network.json``).

Writes are atomic (temporary file, then rename), so an interrupted save never leaves a
half-written model behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from openderms.grid.model import Network
from openderms.grid.serialize import network_from_json, network_to_json


class NetworkFileStore:
    """The network model kept in ``<folder>/network.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "network.json"

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> Network:
        return network_from_json(self.path.read_bytes())

    def save(self, net: Network) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".network.", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(network_to_json(net))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path
