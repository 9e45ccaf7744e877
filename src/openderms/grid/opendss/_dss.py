"""Typed helpers around dss-python (DSS-Extensions), whose API is untyped.

Every OpenDSS engine instance used by openderms is a separate DSS *context*, so the importer, the
power-flow engine and the validation reference never clobber each other's circuit. A context
never changes the process working directory (``AllowChangeDir`` off) and never opens an editor.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from dss import DSS, DSSException
from numpy.typing import NDArray

from openderms.errors import ModelImportError

ComplexArray = NDArray[np.complex128]

#: km per OpenDSS length unit, indexed by its unit code (none, mi, kft, km, m, ft, in, cm, mm);
#: "none" is taken as km (only the product impedance-per-unit times length matters then).
KM_PER_UNIT: tuple[float, ...] = (
    1.0,
    1.609344,
    0.3048,
    1.0,
    1e-3,
    0.3048e-3,
    0.0254e-3,
    1e-5,
    1e-6,
)

SQRT3 = math.sqrt(3.0)
MAX_CONTROL_ITERATIONS_ERROR = 485

__all__ = [
    "KM_PER_UNIT",
    "SQRT3",
    "ComplexArray",
    "DSSException",
    "as_complex",
    "compile_and_solve",
    "new_context",
    "parse_bus_spec",
]


def new_context() -> Any:
    """A fresh, private OpenDSS engine (disposed when garbage collected)."""
    ctx = DSS.NewContext()
    ctx.AllowChangeDir = False
    ctx.AllowEditor = False
    ctx.AllowForms = False
    return ctx


def as_complex(values: Any) -> ComplexArray:
    """OpenDSS's interleaved ``[re, im, re, im, ...]`` array as complex numbers."""
    arr = np.asarray(values, dtype=np.float64)
    return (arr[0::2] + 1j * arr[1::2]).astype(np.complex128)


def _is_control_warning(exc: DSSException) -> bool:
    """OpenDSS's "max control iterations exceeded" (#485): a warning, the circuit stands."""
    return bool(exc.args) and exc.args[0] == MAX_CONTROL_ITERATIONS_ERROR


def compile_and_solve(ctx: Any, path: Path) -> list[str]:
    """Compile ``path`` in ``ctx`` and solve one snapshot (controls settle, bases exist).

    A file that leaves the solution in a time-series mode is switched to snapshot first, so
    the importer and the validation reference see the same operating point. Raises
    ``ModelImportError`` naming the file and quoting OpenDSS when compiling fails. Returns
    warnings: controls that did not settle within OpenDSS's iteration limit are one (OpenDSS
    then stops reading the file at that solve, like its own GUI does).
    """
    if not path.is_file():
        raise ModelImportError(f"{path}: no such OpenDSS file")
    warnings: list[str] = []
    try:
        ctx.Text.Command = f'compile "{path}"'
    except DSSException as exc:
        if not _is_control_warning(exc) or int(ctx.NumCircuits) == 0:
            raise ModelImportError(f"{path.name}: OpenDSS could not compile it: {exc}") from exc
        warnings.append(f"{path.name}: {' '.join(str(exc.args[-1]).split())}")
    if int(ctx.NumCircuits) == 0:
        raise ModelImportError(f"{path.name}: the file defines no circuit ('New Circuit...')")
    solution = ctx.ActiveCircuit.Solution
    try:
        if int(solution.Mode) != 0:
            ctx.Text.Command = "set mode=snapshot"
        solution.Solve()
    except DSSException as exc:
        if not _is_control_warning(exc):
            raise ModelImportError(f"{path.name}: OpenDSS could not solve it: {exc}") from exc
        warnings.append(f"{path.name}: controls did not settle on the import's solve")
    return warnings


def parse_bus_spec(spec: str, n_conductors: int, n_phases: int) -> tuple[str, tuple[int, ...]]:
    """Bus name and conductor nodes of an OpenDSS bus spec such as ``"650.1.2"``.

    Used for disabled elements, whose node order OpenDSS does not compute. Conductors left
    unspecified follow OpenDSS's defaults: ``1..n_phases`` when no node is given, then 0.
    """
    name, *parts = spec.split(".")
    nodes = [int(p) for p in parts if p.strip()]
    if not parts:
        nodes = list(range(1, n_phases + 1))
    nodes = (nodes + [0] * n_conductors)[:n_conductors]
    return name.lower(), tuple(nodes)
