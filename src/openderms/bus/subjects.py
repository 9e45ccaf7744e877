"""Every subject on the bus, per substation, in one place.

A subject is dot-separated tokens; its first token is its *family*, and each family is one
JetStream stream (file storage, retained ``max_age_s``)::

    telemetry.<substation_id>.<der_id>   DER telemetry (ingest -> control)
    measurements.<substation_id>         SCADA P/Q/V at the substation and feeder heads
    switch_states.<substation_id>        switch states reported by exception
    switching_orders.<substation_id>     planned switching orders (switch, state, start, end)
    violations.<substation_id>           constraint violations found by the control loop
    control_plans.<substation_id>        dispatch results (controls with their reasons)
    responses.<substation_id>            DER responses to controls (received, started, ...)
    registry.der.<event>                 DER lifecycle events of the registry service
    dead_letter.<original subject>       messages whose handler failed ``max_deliver`` times
    rpc.<service>.<operation>            request/reply only; never stored

Build subjects with the helpers (``telemetry("sub1", "der42")``), never by formatting strings:
they check each id and name the value that does not fit. Patterns for ``subscribe`` use ``*``
(exactly one token) and ``>`` (one or more trailing tokens) after a literal family token.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from openderms.errors import ValidationError, ValidationIssue

TOKEN_EXPECTED = "a non-empty token without whitespace, '.', '*' or '>'"
_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Family:
    """One subject family: its name (first token), the names of its other tokens (``()``
    when free-form, as for ``dead_letter``), how long its stream keeps messages and whether
    it is stored at all (``rpc`` is not)."""

    name: str
    params: tuple[str, ...]
    max_age_s: float
    stored: bool = True


TELEMETRY = Family("telemetry", ("substation_id", "der_id"), 1 * _DAY_S)
MEASUREMENTS = Family("measurements", ("substation_id",), 1 * _DAY_S)
SWITCH_STATES = Family("switch_states", ("substation_id",), 7 * _DAY_S)
SWITCHING_ORDERS = Family("switching_orders", ("substation_id",), 30 * _DAY_S)
VIOLATIONS = Family("violations", ("substation_id",), 7 * _DAY_S)
CONTROL_PLANS = Family("control_plans", ("substation_id",), 7 * _DAY_S)
RESPONSES = Family("responses", ("substation_id",), 7 * _DAY_S)
REGISTRY = Family("registry", ("kind", "event"), 30 * _DAY_S)
DEAD_LETTER = Family("dead_letter", (), 30 * _DAY_S)
RPC = Family("rpc", ("service", "operation"), 0.0, stored=False)

FAMILIES: MappingProxyType[str, Family] = MappingProxyType(
    {
        f.name: f
        for f in (
            TELEMETRY,
            MEASUREMENTS,
            SWITCH_STATES,
            SWITCHING_ORDERS,
            VIOLATIONS,
            CONTROL_PLANS,
            RESPONSES,
            REGISTRY,
            DEAD_LETTER,
            RPC,
        )
    }
)
STORED_FAMILIES: tuple[Family, ...] = tuple(f for f in FAMILIES.values() if f.stored)


@dataclass(frozen=True, slots=True)
class ParsedSubject:
    """A subject split into its family and named tokens (``tokens["substation_id"]``);
    ``original`` is the subject a dead letter came from."""

    family: Family
    tokens: MappingProxyType[str, str]
    original: str | None = None

    @property
    def substation_id(self) -> str | None:
        return self.tokens.get("substation_id")

    @property
    def der_id(self) -> str | None:
        return self.tokens.get("der_id")


def _issue(subject: str, field: str, value: object, expected: str) -> ValidationIssue:
    return ValidationIssue("subject", subject, field, value, expected)


def _token_ok(token: str) -> bool:
    return bool(token) and not any(c in ".*>" or c.isspace() or not c.isprintable() for c in token)


def check_token(field: str, value: str) -> str:
    """``value`` if it can be one subject token; ``ValidationError`` naming it otherwise."""
    if not isinstance(value, str) or not _token_ok(value):
        raise ValidationError([_issue(str(value), field, value, TOKEN_EXPECTED)])
    return value


def _build(family: Family, **tokens: str) -> str:
    issues = [
        _issue(f"{family.name}.<{name}>", name, value, TOKEN_EXPECTED)
        for name, value in tokens.items()
        if not isinstance(value, str) or not _token_ok(value)
    ]
    if issues:
        raise ValidationError(issues)
    return ".".join((family.name, *(tokens[p] for p in family.params)))


def telemetry(substation_id: str, der_id: str) -> str:
    """``telemetry.<substation_id>.<der_id>``: one DER's telemetry."""
    return _build(TELEMETRY, substation_id=substation_id, der_id=der_id)


def measurements(substation_id: str) -> str:
    """``measurements.<substation_id>``: SCADA P/Q/V (generator convention for P)."""
    return _build(MEASUREMENTS, substation_id=substation_id)


def switch_states(substation_id: str) -> str:
    return _build(SWITCH_STATES, substation_id=substation_id)


def switching_orders(substation_id: str) -> str:
    """``switching_orders.<substation_id>``: planned switching orders, one per message:
    ``{"order_id": str, "switch_id": str, "closed": bool, "start": ISO 8601 UTC,
    "end": ISO 8601 UTC or null}``; the same ``order_id`` again replaces the order (a window
    already over cancels it). The control loop applies each at its start, reverts it at end."""
    return _build(SWITCHING_ORDERS, substation_id=substation_id)


def violations(substation_id: str) -> str:
    return _build(VIOLATIONS, substation_id=substation_id)


def control_plans(substation_id: str) -> str:
    return _build(CONTROL_PLANS, substation_id=substation_id)


def responses(substation_id: str) -> str:
    return _build(RESPONSES, substation_id=substation_id)


def registry_der(event: str) -> str:
    """``registry.der.<event>`` (``registered``, ``approved``, ``provisioned``...)."""
    return _build(REGISTRY, kind="der", event=event)


def rpc(service: str, operation: str) -> str:
    """``rpc.<service>.<operation>``: a request/reply subject (never stored)."""
    return _build(RPC, service=service, operation=operation)


def dead_letter(subject: str) -> str:
    """``dead_letter.<subject>``: where a message of ``subject`` goes after its last failure."""
    parse(subject)
    return f"{DEAD_LETTER.name}.{subject}"


def family_pattern(family: Family, substation_id: str | None = None) -> str:
    """Every subject of ``family`` (of one substation when ``substation_id`` is given):
    ``telemetry.sub1.*``, ``measurements.>``..."""
    if substation_id is None:
        return f"{family.name}.>"
    check_token("substation_id", substation_id)
    if not family.params or family.params[0] != "substation_id":
        raise ValidationError(
            [_issue(family.name, "substation_id", substation_id, "a family keyed by substation")]
        )
    rest = ".*" * (len(family.params) - 1)
    return f"{family.name}.{substation_id}{rest}"


def parse(subject: str) -> ParsedSubject:
    """Split a concrete subject (no wildcards) into family and named tokens; raise
    ``ValidationError`` naming the subject and the offending token otherwise."""
    tokens = subject.split(".") if isinstance(subject, str) else []
    family = FAMILIES.get(tokens[0]) if tokens else None
    if family is None:
        expected = "a subject starting with one of " + ", ".join(FAMILIES)
        raise ValidationError([_issue(str(subject), "family", tokens[:1], expected)])
    bad = [
        _issue(subject, f"token {i}", t, TOKEN_EXPECTED)
        for i, t in enumerate(tokens)
        if not _token_ok(t)
    ]
    if bad:
        raise ValidationError(bad)
    if family is DEAD_LETTER:
        original = ".".join(tokens[1:])
        if not original or tokens[1] == DEAD_LETTER.name:
            raise ValidationError([_issue(subject, "original", original, "a stored subject")])
        inner = parse(original)
        return ParsedSubject(family, inner.tokens, original)
    if len(tokens) - 1 != len(family.params):
        expected = ".".join((family.name, *(f"<{p}>" for p in family.params)))
        raise ValidationError([_issue(subject, "tokens", len(tokens), expected)])
    named = dict(zip(family.params, tokens[1:], strict=True))
    if family is REGISTRY and named["kind"] != "der":
        raise ValidationError([_issue(subject, "kind", named["kind"], "'der'")])
    return ParsedSubject(family, MappingProxyType(named))


def check_pattern(pattern: str) -> Family:
    """Validate a subscription pattern and return its family: the first token is a literal
    family name, ``*`` stands for one token, ``>`` for the rest and comes last."""
    tokens = pattern.split(".") if isinstance(pattern, str) else []
    family = FAMILIES.get(tokens[0]) if tokens else None
    if family is None:
        expected = "a pattern starting with a literal family: " + ", ".join(FAMILIES)
        raise ValidationError([_issue(str(pattern), "family", tokens[:1], expected)])
    issues = [
        _issue(pattern, f"token {i}", t, "a token, '*', or '>' as the last token")
        for i, t in enumerate(tokens)
        if not (_token_ok(t) or t == "*" or (t == ">" and i == len(tokens) - 1 and i > 0))
    ]
    if issues:
        raise ValidationError(issues)
    return family


def matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` matches ``pattern`` with NATS wildcard rules."""
    p_tokens = pattern.split(".")
    s_tokens = subject.split(".")
    for i, p in enumerate(p_tokens):
        if p == ">":
            return len(s_tokens) > i
        if i >= len(s_tokens) or (p != "*" and p != s_tokens[i]):
            return False
    return len(s_tokens) == len(p_tokens)


def stored_family(subject: str, *, pattern: bool = False) -> str:
    """The family name of a subject (or subscription pattern) that publish/subscribe accept:
    one that is stored (``rpc`` subjects go through request/reply)."""
    family = check_pattern(subject) if pattern else parse(subject).family
    if not family.stored:
        expected = "a stored family (rpc subjects use request/serve)"
        raise ValidationError([_issue(subject, "family", family.name, expected)])
    return family.name


def check_rpc(subject: str) -> None:
    """``ValidationError`` unless ``subject`` is a concrete ``rpc.<service>.<operation>``."""
    if parse(subject).family is not RPC:
        raise ValidationError([_issue(subject, "family", subject, "rpc.<service>.<operation>")])
