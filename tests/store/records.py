"""DerRecord builders for the store tests (domain objects built directly, no service)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openderms.registry.domain import (
    AuditEntry,
    DerRecord,
    Inverter,
    Location,
    Nameplate,
    Provisioning,
    Registration,
    Screening,
    Status,
)

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
SCREENED: frozenset[Status] = frozenset(
    {
        "approved",
        "approved_with_limit",
        "rejected",
        "provisioned",
        "active",
        "suspended",
        "decommissioned",
    }
)
PROVISIONED: frozenset[Status] = frozenset({"provisioned", "active", "suspended"})


def registration(
    n: int, *, p_export_kw: float = 7.6, aggregator_id: str | None = None
) -> Registration:
    return Registration(
        der_type="pv",
        nameplate=Nameplate(p_export_kw=p_export_kw, s_kva=max(p_export_kw, 1.0) * 1.1),
        inverter=Inverter(
            make="Acme", model="SunBox 7", firmware="1.2.3", certifications=("UL1741SB",)
        ),
        location=Location(service_point_id=f"sp-{n}", latitude_deg=34.1, longitude_deg=-117.9),
        owner_name=f"Owner {n}",
        owner_email=f"owner{n}@example.com",
        application_id=f"APP-{n:06d}",
        comm_path="aggregator" if aggregator_id else "ieee2030_5_direct",
        aggregator_id=aggregator_id,
    )


def screening(
    *,
    bus_id: str,
    feeder_id: str | None,
    requested_kw: float,
    export_limit_kw: float | None,
    decision: str = "approve",
) -> Screening:
    return Screening.model_validate(
        {
            "decision": decision,
            "reason": "within the bus's hosting capacity",
            "bus_id": bus_id,
            "feeder_id": feeder_id,
            "topology_node_id": f"tn-{bus_id}",
            "requested_kw": requested_kw,
            "export_limit_kw": export_limit_kw,
            "hosting_capacity_kw": 250.5,
            "v_worst_before_pu": 1.0213,
            "v_worst_after_pu": 1.0299,
            "v_limit_pu": 1.05,
            "binding_constraint": f"voltage at bus {bus_id}",
            "loading_before_pct": 41.0,
            "loading_after_pct": 47.25,
            "screened_at": T0 + timedelta(seconds=1),
        }
    )


def record(
    n: int,
    *,
    status: Status = "submitted",
    installer_id: str = "inst-1",
    aggregator_id: str | None = None,
    bus_id: str = "bus-1",
    feeder_id: str | None = "F1",
    p_export_kw: float = 7.6,
    export_limit_kw: float | None = None,
    der_id: str | None = None,
    version: int = 1,
) -> DerRecord:
    """DER number ``n`` at ``status``: screened (on ``bus_id``) and provisioned as its status
    implies, with one audit entry per lifecycle step taken."""
    s = None
    if status in SCREENED:
        decision = {"approved_with_limit": "approve_with_limit", "rejected": "reject"}
        s = screening(
            bus_id=bus_id,
            feeder_id=feeder_id,
            requested_kw=p_export_kw,
            export_limit_kw=0.0 if status == "rejected" else export_limit_kw,
            decision=decision.get(status, "approve"),
        )
    p = None
    if status in PROVISIONED:
        p = Provisioning(
            topology_node_id=f"tn-{bus_id}",
            feeder_id=feeder_id,
            programs=("constraint_management", "dso_market"),
            comm_path="aggregator" if aggregator_id else "ieee2030_5_direct",
            der_program_id=f"prog-tn-{bus_id}",
            provisioned_at=T0 + timedelta(seconds=2),
        )
    audit = [
        AuditEntry(
            at=T0, actor=installer_id, action="register", from_status=None, to_status="submitted"
        )
    ]
    if status != "submitted":
        audit.append(
            AuditEntry(
                at=T0 + timedelta(seconds=3),
                actor="system",
                action="screen",
                from_status="submitted",
                to_status=status,
                detail="moved for the test",
            )
        )
    return DerRecord(
        id=der_id or f"der-{n:06d}",
        registration=registration(n, p_export_kw=p_export_kw, aggregator_id=aggregator_id),
        status=status,
        installer_id=installer_id,
        created_at=T0,
        updated_at=T0 + timedelta(seconds=3),
        screening=s,
        provisioning=p,
        audit=tuple(audit),
        version=version,
    )
