"""The command-line contract (DESIGN.md, "Commands"): users, seed demo, tasks run-due."""

from __future__ import annotations

import uuid
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace import create_app
from marketplace.accounts.models import (
    AccountToken,
    AlumniProfile,
    ApiToken,
    User,
    VerificationStatus,
)
from marketplace.accounts.second_factor import check_totp
from marketplace.accounts.services import find_user, issue_account_token
from marketplace.audit import AuditLog
from marketplace.catalog.models import Category, School
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership, MembershipTier
from marketplace.membership.services import has_active_membership
from marketplace.notifications.models import OutboxMessage
from marketplace.security import password_problem, token_digest
from marketplace.security import verify_password as check_password
from marketplace.seed import DEMO_PASSWORD, DEMO_SCHOOLS, DEMO_STAFF
from marketplace.tasks import run_due
from offers.models import Audience, Offer, OfferCode, OfferStatus, Redemption, RedemptionMethod
from partners.models import Partner, PartnerStatus, TeamRole
from tests.conftest import TOTP_SECRET
from tests.conftest import test_config as make_test_config


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args))

    return invoke


def get_user(app, email: str) -> User | None:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


# ---------------------------------------------------------------- users create


def test_users_create_makes_a_confirmed_account(app, cli):
    result = cli("users", "create", "Jean.Dupont@Example.org", "--password", DEMO_PASSWORD)

    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "jean.dupont@example.org"))
        assert user is not None
        assert result.output.strip() == f"Created user {user.id} jean.dupont@example.org"
        assert user.email_confirmed_at is not None
        assert user.full_name == "Jean Dupont"
        assert user.locale == "fr"
        assert user.roles == set()
        assert user.alumni_profile is None
        assert check_password(user.password_hash, DEMO_PASSWORD)


def test_users_create_staff_and_verified_alumnus(app, cli, create_school):
    create_school(name="Lycée Pasteur", city="São Paulo", country="BR")
    result = cli(
        "users",
        "create",
        "camille@example.org",
        "--password",
        DEMO_PASSWORD,
        "--role",
        "moderator",
        "--role",
        "treasurer",
        "--alumni",
        "--verified",
        "--name",
        "Camille Rousseau",
        "--school",
        "Lycée Pasteur",
        "--locale",
        "en",
    )

    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "camille@example.org"))
        assert user.roles == {"moderator", "treasurer"}
        assert user.full_name == "Camille Rousseau"
        assert user.locale == "en"
        profile = user.alumni_profile
        assert profile.status == VerificationStatus.VERIFIED
        assert profile.school.name == "Lycée Pasteur"
        assert profile.country == "BR"
        assert user.is_verified_alumnus
        audit = db.session.scalar(
            select(AuditLog)
            .where(AuditLog.object_type == "user", AuditLog.object_id == user.id)
            .where(AuditLog.action == "member.approved")
        )
        assert audit is not None
        assert audit.actor_id is None
        assert audit.details["via"] == "command"


def test_users_create_alumni_takes_the_first_active_school(app, cli, create_school):
    closed = create_school(name="Lycée fermé")
    with app.app_context():
        db.session.get(School, closed.id).active = False
        db.session.commit()
    first_active = create_school(name="Lycée Descartes", city="Rabat", country="MA")
    create_school(name="Lycée Victor Hugo", city="Marrakech", country="MA")

    result = cli("users", "create", "nadia@example.org", "--password", DEMO_PASSWORD, "--alumni")

    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "nadia@example.org"))
        assert user.alumni_profile.school_id == first_active.id
        assert user.alumni_profile.status == VerificationStatus.PENDING


def test_users_create_alumni_without_any_school(app, cli):
    result = cli("users", "create", "solo@example.org", "--password", DEMO_PASSWORD, "--alumni")

    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "solo@example.org"))
        assert user.alumni_profile is not None
        assert user.alumni_profile.school_id is None


def test_users_create_verified_implies_alumni(app, cli, school):
    result = cli("users", "create", "vera@example.org", "--password", DEMO_PASSWORD, "--verified")

    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "vera@example.org"))
        assert user.is_verified_alumnus
        assert user.alumni_profile.school_id == school.id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password", "password"], "too common"),
        (["--password", "short"], "at least 8"),
        (
            ["--password", DEMO_PASSWORD, "--alumni", "--school", "Lycée inconnu"],
            "No active school",
        ),
    ],
)
def test_users_create_refusals_exit_1_and_create_nothing(app, cli, args, message):
    result = cli("users", "create", "refused@example.org", *args)

    assert result.exit_code == 1
    assert "Error:" in result.output
    assert message in result.output
    assert get_user(app, "refused@example.org") is None


def test_users_create_refuses_an_existing_email(app, cli, create_user):
    create_user("taken@example.org")

    result = cli("users", "create", "TAKEN@example.org", "--password", DEMO_PASSWORD)

    assert result.exit_code == 1
    assert "already exists" in result.output
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(User).where(User.email == "taken@example.org")
        )
    assert count == 1


def test_users_create_refuses_an_unknown_role(app, cli):
    result = cli("users", "create", "x@example.org", "--password", DEMO_PASSWORD, "--role", "god")

    assert result.exit_code == 2
    assert get_user(app, "x@example.org") is None


# ---------------------------------------------------------------- users token


def test_users_token_prints_only_a_working_bearer_token(app, cli, client, create_user):
    user = create_user("script@example.org")

    result = cli("users", "token", "script@example.org", "--days", "3")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1
    token = lines[0]
    with app.app_context():
        row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
        assert row is not None
        assert row.user_id == user.id
        assert row.revoked_at is None
        assert timedelta(days=2, hours=23) < row.expires_at - utcnow() <= timedelta(days=3)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["email"] == "script@example.org"
    refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"})
    assert refused.status_code == 401


def test_users_token_default_validity_comes_from_the_config(app, cli, create_user):
    create_user("default@example.org")

    result = cli("users", "token", "default@example.org")

    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.scalar(
            select(ApiToken).where(ApiToken.token_hash == token_digest(result.output.strip()))
        )
        days = app.config["API_TOKEN_DAYS"]
        assert row.expires_at - utcnow() > timedelta(days=days - 1)


def test_users_token_unknown_email_exits_1(app, cli):
    result = cli("users", "token", "nobody@example.org")

    assert result.exit_code == 1
    assert "No account" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


# ---------------------------------------------------------------- users otp


def test_users_otp_prints_the_current_code(app, cli, create_user):
    create_user("staff@example.org", roles=("moderator",))

    result = cli("users", "otp", "staff@example.org")

    assert result.exit_code == 0, result.output
    code = result.output.strip()
    assert pyotp.TOTP(TOTP_SECRET).verify(code, valid_window=1)


def test_users_otp_without_a_secret_or_account_exits_1(app, cli, create_user):
    create_user("plain@example.org")

    assert cli("users", "otp", "plain@example.org").exit_code == 1
    assert cli("users", "otp", "ghost@example.org").exit_code == 1


@pytest.fixture
def production_cli(database_url, tmp_path):
    production = create_app(
        {
            **make_test_config(database_url, tmp_path),
            "ENV_NAME": "production",
            "SECRET_KEY": "x" * 40,
            "PREFERRED_URL_SCHEME": "https",
            "SITE_URL": "https://alumni.example.org",
        }
    )
    runner = production.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_users_otp_is_refused_in_production(production_cli, create_user):
    create_user("staff@example.org", roles=("admin",))

    result = production_cli("users", "otp", "staff@example.org")

    assert result.exit_code == 1
    assert "refused in production" in result.output
    assert not any(word.isdigit() and len(word) == 6 for word in result.output.split())


def test_seed_demo_is_refused_in_production(app, production_cli):
    result = production_cli("seed", "demo")

    assert result.exit_code == 1
    assert get_user(app, "admin@example.org") is None


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


# ---------------------------------------------------------------- tasks run-due


def test_run_due_delivers_pending_mail_once(app, cli):
    recipient = f"someone-{uuid.uuid4().hex[:8]}@example.org"
    with app.app_context():
        db.session.add(
            OutboxMessage(
                recipient=recipient,
                subject="Hello",
                body_text="Body",
                template="test/hello",
            )
        )
        db.session.commit()

    first = cli("tasks", "run-due")
    second = cli("tasks", "run-due")

    assert first.exit_code == 0, first.output
    assert "mail: 1 pending e-mail(s) sent" in first.output
    assert "mail: 0 pending e-mail(s) sent" in second.output
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage))
        assert message.status == "sent"
    sent = [
        mail
        for mail in (
            message_from_bytes(path.read_bytes())
            for path in Path(app.config["MAIL_OUTBOX_FOLDER"]).glob("*.eml")
        )
        if mail["To"] == recipient
    ]
    assert len(sent) == 1
    assert sent[0]["Subject"] == "Hello"


def make_unconfirmed(app, create_user, email: str, *, age_days: int) -> tuple[int, Path]:
    """An unconfirmed alumnus registered ``age_days`` ago, with an evidence file and a token."""
    user = create_user(email, alumni=True, confirmed=False)
    folder = Path(app.config["UPLOAD_FOLDER"]) / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    evidence = folder / f"{user.id}-evidence.pdf"
    evidence.write_bytes(b"%PDF-1.4 test")
    with app.app_context():
        row = db.session.get(User, user.id)
        row.created_at = utcnow() - timedelta(days=age_days)
        row.alumni_profile.evidence_filename = evidence.name
        issue_account_token(row, "confirm")
        db.session.commit()
    return user.id, evidence


def test_run_due_deletes_unconfirmed_registrations_after_30_days(app, cli, create_user):
    old_id, old_file = make_unconfirmed(app, create_user, "old@example.org", age_days=31)
    recent_id, recent_file = make_unconfirmed(app, create_user, "new@example.org", age_days=29)
    confirmed = create_user("kept@example.org", alumni=True)
    staff = create_user("staff@example.org", roles=("admin",), confirmed=False)
    with app.app_context():
        for user_id in (confirmed.id, staff.id):
            db.session.get(User, user_id).created_at = utcnow() - timedelta(days=400)
        db.session.commit()

    result = cli("tasks", "run-due")

    assert result.exit_code == 0, result.output
    assert "retention: 1 unconfirmed registration(s) older than 30 days deleted" in result.output
    with app.app_context():
        assert db.session.get(User, old_id) is None
        assert (
            db.session.scalar(select(AlumniProfile).where(AlumniProfile.user_id == old_id)) is None
        )
        assert db.session.scalar(select(AccountToken).where(AccountToken.user_id == old_id)) is None
        assert db.session.get(User, recent_id) is not None
        assert db.session.get(User, confirmed.id) is not None
        assert db.session.get(User, staff.id) is not None
    assert not old_file.exists()
    assert recent_file.exists()

    again = cli("tasks", "run-due")
    assert "retention: 0 unconfirmed" in again.output


def test_run_due_retention_with_a_moved_clock(app, create_user):
    recent_id, recent_file = make_unconfirmed(app, create_user, "new@example.org", age_days=1)
    lines: list[str] = []

    with app.app_context():
        run_due(utcnow() + timedelta(days=28), echo=lines.append)
        assert db.session.get(User, recent_id) is not None
        run_due(utcnow() + timedelta(days=30), echo=lines.append)
        assert db.session.get(User, recent_id) is None

    # Other packages register tasks of their own (offer expiry...): look at retention's lines.
    retention = [line for line in lines if line.startswith("retention:")]
    assert retention == [
        "retention: 0 unconfirmed registration(s) older than 30 days deleted",
        "retention: 1 unconfirmed registration(s) older than 30 days deleted",
    ]
    assert not recent_file.exists()


# ---------------------------------------------------------------- partners create


def test_partners_create_makes_a_pending_partner_owned_by_the_account(app, cli, create_user):
    owner = create_user("owner@example.org", full_name="Olga Owner")

    result = cli("partners", "create", "Librairie Étoile", "--owner", "Owner@Example.org")

    assert result.exit_code == 0, result.output
    with app.app_context():
        partner = db.session.scalar(select(Partner).where(Partner.name == "Librairie Étoile"))
        assert partner is not None
        assert result.output.strip() == str(partner.id)
        assert partner.status == PartnerStatus.PENDING
        assert partner.decided_at is None
        assert partner.country == "FR"
        assert partner.slug == "librairie-etoile"
        assert (partner.contact_email, partner.contact_name) == ("owner@example.org", "Olga Owner")
        members = [(m.user_id, m.role) for m in partner.members]
        assert members == [(owner.id, TeamRole.OWNER)]


def test_partners_create_approved(app, cli, create_user):
    create_user("owner@example.org")

    result = cli("partners", "create", "Air Test", "--owner", "owner@example.org", "--approved")

    assert result.exit_code == 0, result.output
    with app.app_context():
        partner = db.session.get(Partner, int(result.output.strip()))
        assert partner.status == PartnerStatus.APPROVED
        assert partner.decided_at is not None
        assert db.session.scalar(
            select(AuditLog).where(
                AuditLog.action == "partner.approved", AuditLog.object_id == partner.id
            )
        )


def test_partners_create_unknown_owner_exits_1(app, cli):
    result = cli("partners", "create", "Ghost Ltd", "--owner", "nobody@example.org")

    assert result.exit_code == 1
    assert "No account for nobody@example.org" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Partner)) == 0


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
