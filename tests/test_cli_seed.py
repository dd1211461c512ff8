"""The command-line contract (DESIGN.md, "Commands"): seed demo, its partners and offers."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.accounts.models import (
    AlumniProfile,
    User,
    VerificationStatus,
)
from marketplace.accounts.second_factor import check_totp
from marketplace.accounts.services import find_user
from marketplace.audit import AuditLog
from marketplace.catalog.models import Category, School
from marketplace.extensions import db
from marketplace.membership.models import Membership, MembershipTier
from marketplace.membership.services import has_active_membership
from marketplace.security import password_problem
from marketplace.security import verify_password as check_password
from marketplace.seed import DEMO_PASSWORD, DEMO_SCHOOLS, DEMO_STAFF
from offers.models import Audience, Offer, OfferCode, OfferStatus, Redemption, RedemptionMethod
from partners.models import Partner, PartnerStatus, TeamRole

# ---------------------------------------------------------------- seed demo


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


def test_seed_demo_password_passes_the_policy(app):
    with app.app_context():
        assert password_problem(DEMO_PASSWORD) is None


def test_seed_demo_is_idempotent(app, cli):
    first = cli("seed", "demo")
    assert first.exit_code == 0, first.output
    after_first = row_counts(app)

    second = cli("seed", "demo")

    assert second.exit_code == 0, second.output
    assert row_counts(app) == after_first
    assert "schools: 30 created" in first.output
    assert "schools: 0 created" in second.output
    assert "alumni: 0 created" in second.output
    assert after_first["schools"] == len(DEMO_SCHOOLS) == 30
    assert after_first["categories"] == 6
    assert after_first["membership_tiers"] == 3


def test_seed_demo_keeps_existing_rows(app, cli, school):
    result = cli("seed", "demo")

    assert result.exit_code == 0, result.output
    assert "schools: 29 created" in result.output
    with app.app_context():
        names = list(db.session.scalars(select(School.name)))
    assert len(names) == len(set(names)) == 30


def test_seed_demo_reference_data(app, cli):
    assert cli("seed", "demo").exit_code == 0
    with app.app_context():
        categories = {c.slug: (c.name_fr, c.name_en) for c in db.session.scalars(select(Category))}
        tiers = {t.code: t for t in db.session.scalars(select(MembershipTier))}
        london = db.session.scalar(
            select(School).where(School.name == "Lycée français Charles de Gaulle")
        )
    assert set(categories) == {"travel", "culture", "training", "tech", "food", "services"}
    assert categories["travel"] == ("Voyages", "Travel")
    assert categories["training"] == ("Formation", "Training")
    assert {code: t.amount for code, t in tiers.items()} == {
        "young": 1500,
        "standard": 4000,
        "benefactor": 10000,
    }
    assert tiers["young"].name_en == "Young graduate"
    assert tiers["benefactor"].name_fr == "Bienfaiteur"
    assert all(t.months == 12 and t.currency == "EUR" for t in tiers.values())
    assert (london.city, london.country) == ("London", "GB")


def test_seed_demo_staff_can_pass_two_factor_with_the_printed_code(app, cli):
    assert cli("seed", "demo").exit_code == 0

    for email, _name, role, _secret in DEMO_STAFF:
        code = cli("users", "otp", email)
        assert code.exit_code == 0, code.output
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == email))
            assert user.roles == {role}
            assert user.email_confirmed_at is not None
            assert user.totp_enabled_at is not None
            assert check_password(user.password_hash, DEMO_PASSWORD)
            assert check_totp(user, code.output.strip())


def test_seed_demo_alumni_at_every_stage(app, cli):
    assert cli("seed", "demo").exit_code == 0

    with app.app_context():
        profiles = {
            p.user.email: p for p in db.session.scalars(select(AlumniProfile)).unique().all()
        }
        alice = profiles["alice@example.org"]
        assert alice.status == VerificationStatus.VERIFIED
        assert alice.user.locale == "en"
        assert alice.school is not None
        assert check_password(alice.user.password_hash, DEMO_PASSWORD)
        statuses = [p.status for p in profiles.values()]
        assert statuses.count(VerificationStatus.VERIFIED) >= 2
        assert VerificationStatus.PENDING in statuses
        info = next(p for p in profiles.values() if p.status == VerificationStatus.INFO_REQUESTED)
        assert info.moderator_message
        refused = next(p for p in profiles.values() if p.status == VerificationStatus.REFUSED)
        assert refused.refusal_reason == "evidence_insufficient"
        decision = db.session.scalar(
            select(AuditLog).where(
                AuditLog.action == "member.refused", AuditLog.object_id == refused.user_id
            )
        )
        assert decision.actor_id == refused.decided_by_id is not None
        assert decision.details["reason"] == "evidence_insufficient"
        assert all(p.user.email_confirmed_at is not None for p in profiles.values())
        assert all(p.user.email.endswith("@example.org") for p in profiles.values())


# ---------------------------------------------------------------- seed demo: partners and offers


def test_seed_demo_partners_offers_and_redemptions(app, cli):
    result = cli("seed", "demo")
    assert result.exit_code == 0, result.output
    assert "partner-owner@example.org" in result.output

    with app.app_context():
        partners = {p.name: p for p in db.session.scalars(select(Partner))}
        assert {name for name, p in partners.items() if p.status == PartnerStatus.APPROVED} == {
            "Librairie Voltaire",
            "Air Horizon",
            "CodeCamp Lisboa",
        }
        assert [p.status for p in partners.values()].count(PartnerStatus.PENDING) == 1
        for name in ("Librairie Voltaire", "Air Horizon", "CodeCamp Lisboa"):
            roles = sorted(m.role for m in partners[name].members if m.is_active)
            assert roles == [TeamRole.MANAGER, TeamRole.OWNER]
        voltaire = {m.user.email for m in partners["Librairie Voltaire"].members}
        assert voltaire == {"partner-owner@example.org", "partner-manager@example.org"}
        for email in ("partner-owner@example.org", "partner-manager@example.org"):
            assert check_password(find_user(email).password_hash, DEMO_PASSWORD)

        offers = list(db.session.scalars(select(Offer)))
        assert {o.redemption_method for o in offers} == set(RedemptionMethod)
        statuses = [o.status for o in offers]
        for status in (OfferStatus.DRAFT, OfferStatus.SUBMITTED, OfferStatus.EXPIRED):
            assert statuses.count(status) == 1
        assert statuses.count(OfferStatus.PUBLISHED) >= 5
        assert any(o.audience == Audience.MEMBERS for o in offers)
        assert any(o.online and not o.countries for o in offers)
        assert len({o.category_id for o in offers}) >= 3
        assert any(o.title_en is None and o.title_fr for o in offers)
        assert any(o.title_en and o.title_fr for o in offers)
        assert all(o.search_fr for o in offers)

        pool = next(o for o in offers if o.redemption_method == RedemptionMethod.UNIQUE_CODES)
        codes = list(db.session.scalars(select(OfferCode).where(OfferCode.offer_id == pool.id)))
        assert len(codes) == 30

        redemptions = list(db.session.scalars(select(Redemption)))
        assert len(redemptions) >= 5
        for offer in offers:
            mine = [r for r in redemptions if r.offer_id == offer.id]
            assert offer.redeemed_count == len(mine)
        assert sum(1 for c in codes if c.redemption_id is not None) == pool.redeemed_count > 0
        by_method = {r.offer.redemption_method: r for r in redemptions}
        assert by_method[RedemptionMethod.VOUCHER].voucher_token
        assert by_method[RedemptionMethod.GENERATED_CODES].code
        assert all(db.session.get(User, r.user_id).is_verified_alumnus for r in redemptions)
        alice = find_user("alice@example.org")
        assert has_active_membership(alice)
        assert (
            db.session.scalar(
                select(func.count()).select_from(Membership).where(Membership.source == "staff")
            )
            == 1
        )


def test_seed_demo_twice_keeps_every_table_the_same(app, cli):
    assert cli("seed", "demo").exit_code == 0
    first = row_counts(app)
    for table in ("partners", "partner_members", "offers", "offer_codes", "redemptions"):
        assert first[table] > 0, table

    second = cli("seed", "demo")

    assert second.exit_code == 0, second.output
    assert row_counts(app) == first
    for step in ("partners", "memberships", "offers", "redemptions"):
        assert f"{step}: 0 created" in second.output
