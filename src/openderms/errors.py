"""The openderms exception hierarchy.

Core code raises these domain errors; the edge (CLI, REST, 2030.5) maps each of them once to
what its user sees. Every validation error names the object, the field, the value and what was
expected::

    OpenDermsError
     ├── ValidationError            bad input; carries a tuple of ValidationIssue
     │    └── NetworkValidationError     a network model that is not self-consistent
     ├── ModelImportError           a foreign model file could not be read
     ├── UnknownElementError        an id that is not in the model
     ├── NotFoundError              a stored object that does not exist (or is not yours)
     ├── PermissionDeniedError      the actor's role may not do this
     ├── ConflictError              a duplicate, or a change based on a stale version
     ├── LifecycleError             a status change the lifecycle does not allow
     └── PowerFlowError
          ├── EngineUnsupportedError     the engine cannot represent the model (says what)
          └── NotConvergedError          the solver did not converge
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem with one field of one object."""

    object_kind: str
    object_id: str
    field: str
    value: object
    expected: str

    def __str__(self) -> str:
        where = f"{self.object_kind} {self.object_id!r}"
        return f"{where}: {self.field}={self.value!r}, expected {self.expected}"


class OpenDermsError(Exception):
    """Base class of every error openderms raises on purpose."""


class ValidationError(OpenDermsError):
    """Input that breaks a rule; ``issues`` lists every problem found, not only the first."""

    def __init__(self, issues: tuple[ValidationIssue, ...] | list[ValidationIssue]) -> None:
        self.issues = tuple(issues)
        head = "; ".join(str(i) for i in self.issues[:5])
        more = f" (and {len(self.issues) - 5} more)" if len(self.issues) > 5 else ""
        super().__init__(f"{len(self.issues)} validation issue(s): {head}{more}")


class NetworkValidationError(ValidationError):
    """A network model that is not self-consistent (dangling bus, zero rating, unfed island...)."""


class ModelImportError(OpenDermsError):
    """A foreign model (for example an OpenDSS script) could not be read."""


class UnknownElementError(OpenDermsError, KeyError):
    """An element id that the model does not hold."""

    def __init__(self, kind: str, element_id: str) -> None:
        self.kind = kind
        self.element_id = element_id
        super().__init__(f"no {kind} with id {element_id!r} in the model")

    def __str__(self) -> str:
        return str(self.args[0])


class NotFoundError(OpenDermsError):
    """A stored object that does not exist, or that the actor may not see (same answer)."""

    def __init__(self, kind: str, object_id: str) -> None:
        self.kind = kind
        self.object_id = object_id
        super().__init__(f"no {kind} with id {object_id!r}")


class PermissionDeniedError(OpenDermsError):
    """The actor's role may not perform this action."""


class ConflictError(OpenDermsError):
    """A duplicate key, or an update based on a version that is no longer the stored one."""


class LifecycleError(OpenDermsError):
    """A status change the lifecycle does not allow (says from, to and what is allowed)."""


class PowerFlowError(OpenDermsError):
    """A power flow could not be run or did not give a result."""


class EngineUnsupportedError(PowerFlowError):
    """The chosen engine cannot represent something in the model; ``reasons`` says what."""

    def __init__(self, engine: str, reasons: tuple[str, ...]) -> None:
        self.engine = engine
        self.reasons = reasons
        super().__init__(
            f"engine {engine!r} cannot represent this model: " + "; ".join(reasons[:5])
        )


class NotConvergedError(PowerFlowError):
    """The power flow did not converge."""
