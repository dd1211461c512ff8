"""The command-line contract (DESIGN.md, "Commands"): users, partners create.

seed demo is in tests/test_cli_seed.py, tasks run-due in tests/test_cli_tasks.py.
"""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace import create_app
from marketplace.accounts.models import (
    ApiToken,
    User,
    VerificationStatus,
)
from marketplace.audit import AuditLog
from marketplace.catalog.models import School
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.security import token_digest
from marketplace.security import verify_password as check_password
from marketplace.seed import DEMO_PASSWORD
from partners.models import Partner, PartnerStatus, TeamRole
from tests.conftest import TOTP_SECRET
from tests.conftest import test_config as make_test_config


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
