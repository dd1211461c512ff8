"""Admin settings: membership tiers (amounts typed in euros, stored in cents) and the
association's details printed on documents; every change is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.admin.forms import siret_is_valid
from marketplace.audit import AuditLog
from marketplace.extensions import db
from marketplace.membership.models import MembershipTier
from marketplace.payments.models import AssociationDetails

TIER = {
    "code": "solidaire",
    "name_fr": "Solidaire",
    "name_en": "Solidarity",
    "amount": "25.50",
    "currency": "eur",
    "months": "12",
    "position": "4",
    "active": "y",
}

ASSOCIATION = {
    "name": "Amicale des anciens",
    "address": "1 place de l'Exemple",
    "postal_code": "75002",
    "city": "Paris",
    "country": "FR",
    "siret": "123 456 782 00010",
    "rna": "w751234567",
    "email": "bureau@example.org",
    "vat_regime": "franchise",
}


def _audit(app, action: str) -> list[AuditLog]:
    with app.app_context():
        return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)))


def _tier(app, code: str) -> MembershipTier | None:
    with app.app_context():
        return db.session.scalar(select(MembershipTier).where(MembershipTier.code == code))


# ---------------------------------------------------------------- tiers


def test_the_tier_list_shows_tiers_and_an_empty_state(admin_client, seed_reference):
    html = admin_client.get("/admin/tiers", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert "standard" in html
    assert "€40.00" in html  # marketplace/money.py's format, in the reader's language
    assert 'id="tier-form"' in html


def test_no_tier_yet_shows_an_empty_state(admin_client):
    html = admin_client.get("/admin/tiers").get_data(as_text=True)
    assert 'id="no-tiers"' in html


def test_an_admin_creates_a_tier_in_cents(app, admin_client, admin):
    response = admin_client.post("/admin/tiers", data=TIER)
    assert response.status_code == 302
    tier = _tier(app, "solidaire")
    assert (tier.amount, tier.currency, tier.months, tier.position, tier.active) == (
        2550,
        "EUR",
        12,
        4,
        True,
    )
    (entry,) = _audit(app, "tier.created")
    assert (entry.actor_id, entry.object_id, entry.details["amount"]) == (admin.id, tier.id, 2550)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "Not A Code"),
        ("amount", "abc"),
        ("amount", "-1"),
        ("currency", "euro"),
        ("months", "0"),
        ("name_fr", ""),
    ],
)
def test_a_bad_tier_is_refused(app, admin_client, field, value):
    response = admin_client.post("/admin/tiers", data={**TIER, field: value})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _tier(app, "solidaire") is None
    assert _audit(app, "tier.created") == []


def test_a_tier_code_is_unique(app, admin_client, seed_reference):
    response = admin_client.post("/admin/tiers", data={**TIER, "code": "standard"})
    assert response.status_code == 409
    assert "Another tier already has this code." in response.get_data(as_text=True)


def test_an_admin_edits_a_tier(app, admin_client, seed_reference):
    tier = _tier(app, "standard")
    form = admin_client.get(f"/admin/tiers/{tier.id}").get_data(as_text=True)
    assert 'value="40.00"' in form
    response = admin_client.post(
        f"/admin/tiers/{tier.id}",
        data={
            **TIER,
            "code": "standard",
            "name_fr": "Standard",
            "name_en": "Standard",
            "amount": "45",
        },
    )
    assert response.status_code == 302
    assert _tier(app, "standard").amount == 4500
    (entry,) = _audit(app, "tier.updated")
    assert entry.details["amount"] == [4000, 4500]
    assert "code" not in entry.details


def test_an_admin_closes_a_tier_to_new_members(app, admin_client, client, seed_reference):
    tier = _tier(app, "benefactor")
    assert admin_client.post(f"/admin/tiers/{tier.id}/deactivate").status_code == 302
    assert _tier(app, "benefactor").active is False
    assert len(_audit(app, "tier.deactivated")) == 1
    public = client.get("/api/v1/membership/tiers").get_json()
    assert "benefactor" not in [row["code"] for row in public]


def test_an_unknown_tier_is_404(admin_client):
    assert admin_client.get("/admin/tiers/999999").status_code == 404
    assert admin_client.post("/admin/tiers/999999", data=TIER).status_code == 404


@pytest.mark.parametrize("roles", [(), ("moderator",), ("treasurer",)])
def test_only_admins_change_tiers(app, client, login, create_user, seed_reference, roles):
    login(client, create_user(roles=roles))
    tier = _tier(app, "standard")
    assert client.post("/admin/tiers", data=TIER).status_code == 403
    assert client.post(f"/admin/tiers/{tier.id}/deactivate").status_code == 403
    assert client.post("/admin/association", data=ASSOCIATION).status_code == 403
    assert _tier(app, "standard").active is True
    assert _tier(app, "solidaire") is None


# ---------------------------------------------------------------- association


def test_siret_numbers_are_checked_by_their_key():
    assert siret_is_valid("12345678200010")
    assert not siret_is_valid("12345678200011")
    assert not siret_is_valid("1234567820001")
    assert not siret_is_valid("1234567820001A")


def test_an_admin_sets_the_association_details(app, admin_client, admin):
    empty = admin_client.get("/admin/association")
    assert empty.status_code == 200
    response = admin_client.post("/admin/association", data=ASSOCIATION)
    assert response.status_code == 302
    with app.app_context():
        details = db.session.scalars(select(AssociationDetails)).one()
        assert (details.siret, details.rna, details.email) == (
            "12345678200010",
            "W751234567",
            "bureau@example.org",
        )
    (entry,) = _audit(app, "association.updated")
    assert entry.actor_id == admin.id
    assert entry.details["siret"] == [None, "12345678200010"]
    # Editing keeps one row and audits only what changed.
    admin_client.post("/admin/association", data={**ASSOCIATION, "email": "tresor@example.org"})
    with app.app_context():
        assert db.session.scalars(select(AssociationDetails)).one().email == "tresor@example.org"
    latest = _audit(app, "association.updated")[-1]
    assert set(latest.details) == {"email"}
    page = admin_client.get("/admin/association").get_data(as_text=True)
    assert 'value="tresor@example.org"' in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("siret", "12345678200011"),
        ("siret", "123"),
        ("rna", "W12345"),
        ("rna", "X751234567"),
        ("email", "not-an-email"),
        ("name", ""),
        ("address", ""),
    ],
)
def test_bad_association_details_are_refused(app, admin_client, field, value):
    response = admin_client.post("/admin/association", data={**ASSOCIATION, field: value})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(AssociationDetails)).all() == []
    assert _audit(app, "association.updated") == []


def test_siret_and_rna_are_optional(app, admin_client):
    data = {**ASSOCIATION, "siret": "", "rna": "", "email": "", "vat_number": ""}
    assert admin_client.post("/admin/association", data=data).status_code == 302
    with app.app_context():
        details = db.session.scalars(select(AssociationDetails)).one()
        assert (details.siret, details.rna, details.email, details.vat_number) == (
            None,
            None,
            None,
            None,
        )
        assert details.vat_regime == "franchise"


def test_charging_vat_needs_a_valid_vat_number_and_sets_a_rate_per_kind(app, admin_client):
    data = {**ASSOCIATION, "vat_regime": "vat", "vat_number": ""}
    response = admin_client.post("/admin/association", data=data)
    assert response.status_code == 422
    assert 'id="vat_number-error"' in response.get_data(as_text=True)
    data["vat_number"] = "FR40123456782"  # wrong key (11 is right)
    assert admin_client.post("/admin/association", data=data).status_code == 422
    data.update(
        vat_number="FR 11 123456782", vat_rate_partner_plan="2000", vat_rate_featured="1000"
    )
    assert admin_client.post("/admin/association", data=data).status_code == 302
    with app.app_context():
        details = db.session.scalars(select(AssociationDetails)).one()
        assert (details.vat_regime, details.vat_number) == ("vat", "FR11123456782")
        assert (details.vat_rate_partner_plan, details.vat_rate_featured) == (2000, 1000)
