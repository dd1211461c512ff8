"""Fixtures of the partner tests: partners with their teams, staff, tokens, query counting."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from marketplace.accounts.models import User
from marketplace.accounts.services import issue_api_token
from marketplace.extensions import db
from partners.models import (
    Partner,
    PartnerBillingIdentity,
    PartnerMember,
    PartnerStatus,
    TeamRole,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@dataclass(frozen=True)
class Team:
    """Ids of a partner made for a test, with its first owner (rows re-read per context)."""

    partner_id: int
    owner: User
    owner_member_id: int


@pytest.fixture
def moderator(create_user: Callable[..., User]) -> User:
    return create_user("moderator@example.org", roles=("moderator",), locale="en")


@pytest.fixture
def create_partner(app: Flask, create_user: Callable[..., User]) -> Callable[..., Team]:
    """``create_partner(name=..., status="approved", owner=None, locale="en", identity=True)``;
    ``identity`` gives the partner a billing identity (a Portuguese company)."""

    def make(
        name: str | None = None,
        *,
        status: str = "approved",
        owner: User | None = None,
        locale: str = "en",
        identity: bool = True,
    ) -> Team:
        owner = owner or create_user(f"owner-{uuid.uuid4().hex[:8]}@example.org", locale=locale)
        with app.app_context():
            name = name or f"Company {uuid.uuid4().hex[:6]}"
            partner = Partner(
                name=name,
                slug=f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}",
                country="PT",
                description="We sell things.",
                contact_name="Olga Owner",
                contact_email=owner.email,
                status=PartnerStatus(status),
            )
            db.session.add(partner)
            db.session.flush()
            member = PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER)
            db.session.add(member)
            if identity:
                db.session.add(
                    PartnerBillingIdentity(
                        partner_id=partner.id,
                        legal_name=f"{name} Lda",
                        address="Rua Augusta 100",
                        postal_code="1100-053",
                        city="Lisboa",
                        country="PT",
                        vat_number="PT501964843",
                    )
                )
            db.session.commit()
            return Team(partner_id=partner.id, owner=owner, owner_member_id=member.id)

    return make


@pytest.fixture
def add_member(app: Flask, create_user: Callable[..., User]) -> Callable[..., tuple[User, int]]:
    """``add_member(team, role="manager")`` → (user, member id)."""

    def make(team: Team, role: str = "manager", *, user: User | None = None) -> tuple[User, int]:
        user = user or create_user(locale="en")
        with app.app_context():
            member = PartnerMember(partner_id=team.partner_id, user_id=user.id, role=TeamRole(role))
            db.session.add(member)
            db.session.commit()
            return user, member.id

    return make


@pytest.fixture
def token_for(app: Flask) -> Callable[[User], dict[str, str]]:
    def issue(user: User) -> dict[str, str]:
        with app.app_context():
            token, _row = issue_api_token(db.session.get(User, user.id))
            db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return issue


@pytest.fixture
def logo_files(app: Flask) -> Callable[[], list[Path]]:
    """The stored logo files."""

    def files() -> list[Path]:
        folder = Path(app.config["UPLOAD_FOLDER"]) / "logos"
        return sorted(folder.iterdir()) if folder.is_dir() else []

    return files
