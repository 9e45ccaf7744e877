"""OpenDSS interoperability: import ``.dss`` models and validate results against OpenDSS.

- ``import_dss(path)`` -> ``ImportReport`` (``openderms.grid.opendss.importer``)
- ``validate_against_opendss(path)`` (``openderms.grid.opendss.compare``)
- ``to_dss_script(net)`` writes a model back as an OpenDSS script
  (``openderms.grid.opendss.writer``); the ``opendss`` power-flow engine runs it.
"""

from __future__ import annotations

from openderms.grid.opendss.compare import validate_against_opendss
from openderms.grid.opendss.importer import ImportReport, import_dss
from openderms.grid.opendss.writer import to_dss_script

__all__ = ["ImportReport", "import_dss", "to_dss_script", "validate_against_opendss"]
