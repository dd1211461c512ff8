"""Users, their roles, alumni profiles and the tokens they hold."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.catalog.models import School
from marketplace.database import UTCDateTime, utcnow
from marketplace.extensions import db


class Role(enum.StrEnum):
    """Staff roles; a user holds a set of them."""

    MODERATOR = "moderator"
    TREASURER = "treasurer"
    ADMIN = "admin"


class VerificationStatus(enum.StrEnum):
    """Where an alumnus stands with the association's check."""

    PENDING = "pending"
    INFO_REQUESTED = "info_requested"
    VERIFIED = "verified"
    REFUSED = "refused"


class User(UserMixin, db.Model):
    """A person who can sign in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(160))
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    # IANA zone every date and time is shown in (asked at registration from the browser's).
    timezone: Mapped[str] = mapped_column(
        String(64), default="Europe/Paris", server_default="Europe/Paris"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped at logout, password change and disabling: older cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None]
    # Self-service deletion (marketplace/privacy): asked at, anonymised from, done at.
    deletion_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deletion_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        lazy="selectin",
        foreign_keys="UserRole.user_id",
    )
    alumni_profile: Mapped[AlumniProfile | None] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        uselist=False,
        foreign_keys="AlumniProfile.user_id",
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_authenticated(self) -> bool:
        """Always, for a loaded user: the loaders refuse disabled accounts. Reading no column,
        it does not reload the row a commit expired (every response asks it)."""
        return True

    @property
    def roles(self) -> set[str]:
        return {row.role for row in self.role_rows}

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)

    @property
    def is_verified_alumnus(self) -> bool:
        profile = self.alumni_profile
        return profile is not None and profile.status == VerificationStatus.VERIFIED

    @property
    def first_name(self) -> str:
        return self.full_name.split(" ")[0]


class UserRole(db.Model):
    """One staff role held by one user."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(back_populates="role_rows", foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<UserRole {self.user_id} {self.role}>"


class AlumniProfile(db.Model):
    """What an alumnus declared, and the association's verification of it."""

    __tablename__ = "alumni_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    graduation_year: Mapped[int | None]
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    city: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[VerificationStatus] = mapped_column(
        Enum(VerificationStatus, native_enum=False, length=20, validate_strings=True),
        default=VerificationStatus.PENDING,
        index=True,
    )
    # When the file entered (or re-entered) the moderators' queue.
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    refusal_reason: Mapped[str | None] = mapped_column(String(40))
    moderator_message: Mapped[str | None] = mapped_column(Text)
    member_answer: Mapped[str | None] = mapped_column(Text)
    verified_by_roster: Mapped[bool] = mapped_column(default=False)
    evidence_filename: Mapped[str | None] = mapped_column(String(80))
    evidence_original_name: Mapped[str | None] = mapped_column(String(255))
    evidence_content_type: Mapped[str | None] = mapped_column(String(60))

    user: Mapped[User] = relationship(back_populates="alumni_profile", foreign_keys=[user_id])
    school: Mapped[School | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<AlumniProfile user={self.user_id} {self.status}>"


class AccountToken(db.Model):
    """A single-use, expiring token sent by e-mail (confirmation, password reset)."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<AccountToken {self.purpose} user={self.user_id}>"


class ApiToken(db.Model):
    """A bearer token for the JSON API, stored as its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user={self.user_id}>"


class RecoveryCode(db.Model):
    """A one-time two-factor recovery code, stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<RecoveryCode {self.id} user={self.user_id}>"


class RosterEntry(db.Model):
    """A graduate listed by a school, imported by staff; matching registrations verify at once."""

    __tablename__ = "roster_entries"
    __table_args__ = (UniqueConstraint("email", "school_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(160))
    email: Mapped[str] = mapped_column(String(254), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    graduation_year: Mapped[int | None]
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    matched_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    school: Mapped[School] = relationship()

    def __repr__(self) -> str:
        return f"<RosterEntry {self.email} school={self.school_id}>"
