"""Run ``cactus`` (in .venv-cactus) with S-ALL-50 "Extended Operations" shortened: its one
simulate-client step repeats ``total_simulations`` times ``frequency_seconds`` apart (4320 x
60 s = 72 hours in cactus-test-definitions 1.15.0); here ``total_simulations`` is
``$CONFORMANCE_S_ALL_50_SIMULATIONS``. Everything else of the definition is unchanged. A
pass of this variant is not a pass of S-ALL-50: it shows the same cycle (discover, respond
to controls, post readings) over N minutes instead of 72 hours.

    .venv-cactus/bin/python conformance/shortened.py run S-ALL-50 device --headless ...
"""

from __future__ import annotations

import os
import sys

from cactus_client.cli.main import cli_entrypoint
from cactus_test_definitions.server import test_procedures

FULL = "total_simulations: 4320"


def main() -> int:
    simulations = int(os.environ["CONFORMANCE_S_ALL_50_SIMULATIONS"])
    original = test_procedures.get_yaml_contents

    def shortened(test_procedure_id: test_procedures.TestProcedureId) -> str:
        text = original(test_procedure_id)
        if str(getattr(test_procedure_id, "value", test_procedure_id)) == "S-ALL-50":
            if FULL not in text:
                raise SystemExit("S-ALL-50 no longer says 'total_simulations: 4320'")
            text = text.replace(FULL, f"total_simulations: {simulations}")
        return text

    test_procedures.get_yaml_contents = shortened  # type: ignore[assignment]
    sys.argv[0] = "cactus"
    result = cli_entrypoint()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
