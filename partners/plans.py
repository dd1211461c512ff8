"""Admins manage the partner plans (prices in minor units); every change is audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace import audit
from marketplace.errors import Conflict, InvalidInput
from marketplace.extensions import db
from marketplace.money import HOME_CURRENCY
from partners.models import PartnerPlan, PlanKind

PLAN_FIELDS = (
    "code",
    "kind",
    "name_fr",
    "name_en",
    "description_fr",
    "description_en",
    "amount",
    "currency",
    "days",
    "position",
    "active",
)


class PlanCodeTaken(Conflict):
    code = "plan_code_taken"
    message = _l("Another plan already has this code.")


class PlanNotInEuros(InvalidInput):
    """Partner plans are invoiced in euros (the French invoice mentions, VAT and the FEC)."""

    code = "plan_not_in_euros"
    message = _l("Partner plans are priced in euros.")


def list_plans() -> Sequence[PartnerPlan]:
    """Every partner plan: offered ones first, then by kind and display order."""
    return db.session.scalars(
        select(PartnerPlan).order_by(
            PartnerPlan.active.desc(), PartnerPlan.kind, PartnerPlan.position, PartnerPlan.amount
        )
    ).all()


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    values = {name: values[name] for name in PLAN_FIELDS}
    values["code"] = values["code"].strip()
    values["kind"] = PlanKind(values["kind"])
    values["currency"] = values["currency"].strip().lower()
    if values["currency"] != HOME_CURRENCY.lower():
        raise PlanNotInEuros()
    for name in ("description_fr", "description_en", "name_en"):
        values[name] = values[name] or None
    return values


def _check_code(code: str, *, plan_id: int | None) -> None:
    query = select(PartnerPlan.id).where(PartnerPlan.code == code)
    if plan_id is not None:
        query = query.where(PartnerPlan.id != plan_id)
    if db.session.scalar(query) is not None:
        raise PlanCodeTaken()


def _audit_value(value: Any) -> Any:
    return value.value if isinstance(value, PlanKind) else value


def create_plan(*, values: dict[str, Any], actor: Any) -> PartnerPlan:
    """Add a plan (amount in minor units); audited."""
    values = _clean(values)
    _check_code(values["code"], plan_id=None)
    plan = PartnerPlan(**values)
    db.session.add(plan)
    db.session.flush()
    audit.record(
        "partner_plan.created",
        actor=actor,
        object_type="partner_plan",
        object_id=plan.id,
        **{name: _audit_value(value) for name, value in values.items()},
    )
    return plan


def update_plan(plan: PartnerPlan, *, values: dict[str, Any], actor: Any) -> dict[str, Any]:
    """Change a plan; returns (and audits) the fields that changed, as {name: [old, new]}.

    Payments already made keep what they bought (their subject holds the code and the days).
    """
    values = _clean(values)
    _check_code(values["code"], plan_id=plan.id)
    changes = {
        name: [getattr(plan, name), value]
        for name, value in values.items()
        if getattr(plan, name) != value
    }
    for name, (_old, new) in changes.items():
        setattr(plan, name, new)
    db.session.flush()
    if changes:
        audit.record(
            "partner_plan.updated",
            actor=actor,
            object_type="partner_plan",
            object_id=plan.id,
            **{
                name: [_audit_value(old), _audit_value(new)] for name, (old, new) in changes.items()
            },
        )
    return changes


def deactivate_plan(plan: PartnerPlan, *, actor: Any) -> bool:
    """Stop offering a plan (what was bought keeps running); audited; False if it was closed."""
    if not plan.active:
        return False
    plan.active = False
    db.session.flush()
    audit.record(
        "partner_plan.deactivated", actor=actor, object_type="partner_plan", object_id=plan.id
    )
    return True
