"""Type aliases and constants shared by the power-grid-model engine modules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from power_grid_model import ComponentAttributeFilterOptions, ComponentType

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
ComplexArray = NDArray[np.complex128]
#: a PGM structured input/update array
PgmArray = np.ndarray
#: a PGM output dataset: component -> columns (``u_pu`` ...) with the scenarios first
PgmOutput = Mapping[ComponentType, Any]
SQRT3 = math.sqrt(3.0)
#: which output attributes to compute, per component
AttrFilter = dict[ComponentType, set[str] | list[str] | ComponentAttributeFilterOptions | None]
