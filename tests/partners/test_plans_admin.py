"""Admins manage the partner plans: list, create (price typed as a decimal, stored in cents),
edit, stop offering; each change is audited; nobody else may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.audit import AuditLog
from marketplace.extensions import db
from partners.models import PartnerPlan, PlanKind

EN = {"Accept-Language": "en"}
FORM = {
    "code": "annual",
    "kind": "partnership",
    "name_fr": "Partenariat annuel",
    "name_en": "Annual partnership",
    "description_fr": "Un an de visibilité.",
    "description_en": "",
    "amount": "1200",
    "currency": "EUR",
    "days": "365",
    "position": "1",
    "active": "y",
}


@pytest.fixture
def admin_client(app, login, create_user):
    admin = create_user("plans-admin@example.org", roles=("admin",), locale="en")
    return login(app.test_client(), admin, mfa=True), admin


def plan_by_code(app, code: str) -> PartnerPlan | None:
    with app.app_context():
        plan = db.session.scalar(select(PartnerPlan).where(PartnerPlan.code == code))
        if plan is not None:
            db.session.expunge(plan)
        return plan


def audit_actions(app, plan_id: int) -> list[tuple[str, dict]]:
    with app.app_context():
        return [
            (row.action, row.details)
            for row in db.session.scalars(
                select(AuditLog)
                .where(AuditLog.object_type == "partner_plan", AuditLog.object_id == plan_id)
                .order_by(AuditLog.id)
            )
        ]


def test_an_admin_creates_edits_and_closes_plans(app, admin_client):
    client, admin = admin_client
    empty = client.get("/admin/partner-plans/", headers=EN)
    assert empty.status_code == 200
    assert 'id="no-plans"' in empty.get_data(as_text=True)

    assert client.post("/admin/partner-plans/", data=FORM).status_code == 302
    featured = {**FORM, "code": "featured-7", "kind": "featured", "amount": "49.90", "days": "7"}
    featured["name_fr"], featured["name_en"] = "Mise en avant 7 jours", "Featured 7 days"
    assert client.post("/admin/partner-plans/", data=featured).status_code == 302
    annual = plan_by_code(app, "annual")
    assert (annual.kind, annual.amount, annual.currency, annual.days) == (
        PlanKind.PARTNERSHIP,
        120000,
        "eur",
        365,
    )
    assert annual.description_en is None
    seven = plan_by_code(app, "featured-7")
    assert (seven.kind, seven.amount, seven.days) == (PlanKind.FEATURED, 4990, 7)
    listing = client.get("/admin/partner-plans/", headers=EN).get_data(as_text=True)
    assert f'id="plan-{annual.id}"' in listing
    assert 'data-amount="120000"' in listing
    assert 'data-amount="4990"' in listing
    assert audit_actions(app, annual.id)[0][0] == "partner_plan.created"

    # The edit page shows the price as a decimal; saving a new price is audited.
    page = client.get(f"/admin/partner-plans/{annual.id}", headers=EN).get_data(as_text=True)
    assert 'value="1200.00"' in page
    changed = {**FORM, "amount": "1000", "days": "366"}
    assert client.post(f"/admin/partner-plans/{annual.id}", data=changed).status_code == 302
    annual = plan_by_code(app, "annual")
    assert (annual.amount, annual.days) == (100000, 366)
    action, details = audit_actions(app, annual.id)[-1]
    assert action == "partner_plan.updated"
    assert details == {"amount": [120000, 100000], "days": [365, 366]}

    assert client.post(f"/admin/partner-plans/{annual.id}/deactivate").status_code == 302
    assert plan_by_code(app, "annual").active is False
    assert audit_actions(app, annual.id)[-1][0] == "partner_plan.deactivated"
    with app.app_context():
        actors = {
            row.actor_id
            for row in db.session.scalars(
                select(AuditLog).where(AuditLog.object_type == "partner_plan")
            )
        }
    assert actors == {admin.id}


def test_bad_input_is_refused_and_changes_nothing(app, admin_client):
    client, _admin = admin_client
    assert client.post("/admin/partner-plans/", data=FORM).status_code == 302
    taken = client.post("/admin/partner-plans/", data={**FORM, "name_fr": "Autre"})
    assert taken.status_code == 409
    for field, value in (
        ("amount", "0"),
        ("amount", "abc"),
        ("days", "0"),
        ("kind", "gold"),
        ("code", "Not A Code"),
        ("currency", "euros"),
        ("name_fr", ""),
    ):
        response = client.post(
            "/admin/partner-plans/", data={**FORM, "code": "other", field: value}
        )
        assert response.status_code == 422, (field, value)
    assert plan_by_code(app, "other") is None
    assert client.get("/admin/partner-plans/999999").status_code == 404
    assert client.post("/admin/partner-plans/999999", data=FORM).status_code == 404


@pytest.mark.parametrize(
    ("roles", "expected"),
    [((), 403), (("moderator",), 403), (("treasurer",), 403)],
)
def test_only_admins_manage_plans(app, login, create_user, roles, expected):
    person = create_user(roles=roles)
    client = login(app.test_client(), person, mfa=bool(roles))
    assert client.get("/admin/partner-plans/").status_code == expected
    assert client.post("/admin/partner-plans/", data=FORM).status_code == expected
    assert plan_by_code(app, "annual") is None
    anonymous = app.test_client()
    assert anonymous.post("/admin/partner-plans/", data=FORM).status_code == 302
    assert plan_by_code(app, "annual") is None


def test_the_demo_seed_adds_the_plans_once(app):
    from partners.demo import seed_partner_plans

    with app.app_context():
        assert seed_partner_plans() == 3
        assert seed_partner_plans() == 0
        plans = {
            plan.code: (plan.kind, plan.amount, plan.days)
            for plan in db.session.scalars(select(PartnerPlan))
        }
        db.session.rollback()
    assert plans == {
        "partenariat-annuel": (PlanKind.PARTNERSHIP, 120000, 365),
        "mise-en-avant-7": (PlanKind.FEATURED, 4900, 7),
        "mise-en-avant-30": (PlanKind.FEATURED, 14900, 30),
    }


def test_partner_plans_are_priced_in_euros(app, admin_client):
    """Partner plans are invoiced by a French association (VAT, the 40 € indemnity, the FEC):
    their price is in euros, whatever currencies membership tiers are offered in."""
    client, admin = admin_client
    page = client.get("/admin/partner-plans/", headers=EN).get_data(as_text=True)
    assert 'value="EUR"' in page
    assert 'value="USD"' not in page
    for currency in ("USD", "XOF", "JPY"):
        refused = client.post(
            "/admin/partner-plans/",
            data={**FORM, "code": f"p-{currency.lower()}", "currency": currency},
        )
        assert refused.status_code == 422, currency
        assert plan_by_code(app, f"p-{currency.lower()}") is None
    from marketplace.errors import InvalidInput
    from partners import plans

    with app.app_context(), pytest.raises(InvalidInput):
        plans.create_plan(values={**FORM, "code": "cli-usd", "currency": "usd"}, actor=admin)
