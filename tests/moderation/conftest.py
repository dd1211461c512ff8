"""Fixtures of the moderation tests: staff, members waiting for a decision, query counting."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import func, select

from marketplace.accounts.models import AlumniProfile, User
from marketplace.audit import AuditLog
from marketplace.catalog.models import School
from marketplace.extensions import db


@dataclass(frozen=True)
class Member:
    """Ids of an alumnus made for a test (rows are re-read in each app context)."""

    user_id: int
    profile_id: int
    email: str


@pytest.fixture
def moderator(create_user: Callable[..., User]) -> User:
    return create_user(
        "moderator@example.org", roles=("moderator",), full_name="Morgane Roux", locale="en"
    )


@pytest.fixture
def admin(create_user: Callable[..., User]) -> User:
    return create_user("admin@example.org", roles=("admin",), full_name="Ada Admin", locale="en")


@pytest.fixture
def create_member(
    app: Flask, create_user: Callable[..., User], school: School
) -> Callable[..., Member]:
    """``create_member(status="pending", locale="fr", school=..., confirmed=True, ...)``."""

    def make(
        email: str | None = None,
        *,
        school: School = school,
        **kwargs,
    ) -> Member:
        email = email or f"alumnus-{uuid.uuid4().hex[:8]}@example.org"
        user = create_user(email, alumni=True, school=school, **kwargs)
        with app.app_context():
            profile_id = db.session.scalar(
                select(AlumniProfile.id).where(AlumniProfile.user_id == user.id)
            )
        return Member(user_id=user.id, profile_id=profile_id, email=user.email)

    return make


@pytest.fixture
def profile_of(app: Flask) -> Callable[[Member], AlumniProfile]:
    """The member's profile as stored now, read in a fresh app context."""

    def read(member: Member) -> AlumniProfile:
        with app.app_context():
            return db.session.get(AlumniProfile, member.profile_id)

    return read


@pytest.fixture
def audit_rows(app: Flask) -> Callable[..., list[AuditLog]]:
    """Audit rows about one user (``object_type="user"``), oldest first."""

    def read(user_id: int, action: str | None = None) -> list[AuditLog]:
        with app.app_context():
            query = select(AuditLog).where(
                AuditLog.object_type == "user", AuditLog.object_id == user_id
            )
            if action:
                query = query.where(AuditLog.action == action)
            return list(db.session.scalars(query.order_by(AuditLog.id)))

    return read


@pytest.fixture
def count_rows(app: Flask) -> Callable[[type], int]:
    def count(model: type) -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(model)) or 0

    return count
