"""Who acts for which partner: team membership, the guard of portal routes, and the one loader
of a partner by id (``get_partner_or_404``, for staff pages and the moderation API)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, TypeVar

import flask_smorest
from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import ColumnElement, select

from marketplace.accounts.loader import MISSING, reader_fact
from marketplace.accounts.models import User
from marketplace.extensions import db, login_manager
from partners.models import Partner, PartnerMember, PartnerStatus, TeamRole

F = TypeVar("F", bound=Callable[..., Any])


def active_membership_id(user_id: Any, today: date) -> ColumnElement[int | None]:
    """The id of the user's active membership of an approved partner, correlated to the user
    row: loaded with every signed-in user (marketplace/accounts/loader.py), so the nav and
    the portal guards know who is a partner without a query of their own."""
    return (
        select(PartnerMember.id)
        .join(Partner, Partner.id == PartnerMember.partner_id)
        .where(
            PartnerMember.user_id == user_id,
            PartnerMember.disabled_at.is_(None),
            Partner.status == PartnerStatus.APPROVED,
        )
        .order_by(PartnerMember.id)
        .limit(1)
        .scalar_subquery()
    )


def current_membership() -> PartnerMember | None:
    """The caller's active membership of an approved partner (cached for the request)."""
    if "partner_membership" in g:
        return g.partner_membership
    membership = None
    known = reader_fact(current_user, "partner_member_id")
    if known is None:
        pass  # loaded with the user: not a partner, and no query to say so
    elif known is not MISSING:
        membership = db.session.get(PartnerMember, known)
    elif current_user.is_authenticated:
        membership = db.session.scalar(
            select(PartnerMember)
            .join(Partner, Partner.id == PartnerMember.partner_id)
            .where(
                PartnerMember.user_id == current_user.id,
                PartnerMember.disabled_at.is_(None),
                Partner.status == PartnerStatus.APPROVED,
            )
            .order_by(PartnerMember.id)
            .limit(1)
        )
    g.partner_membership = membership
    return membership


def active_members(partner_id: int, *, role: TeamRole | None = None) -> list[User]:
    """The partner's active (not disabled) representatives, oldest membership first."""
    query = (
        select(User)
        .join(PartnerMember, PartnerMember.user_id == User.id)
        .where(PartnerMember.partner_id == partner_id, PartnerMember.disabled_at.is_(None))
        .order_by(PartnerMember.id)
    )
    if role is not None:
        query = query.where(PartnerMember.role == role)
    return list(db.session.scalars(query))


def get_partner_or_404(partner_id: int) -> Partner:
    """The partner ``partner_id`` (any status), or a 404 ("No such partner.")."""
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        flask_smorest.abort(404, message="No such partner.")
    return partner


def current_partner() -> Partner:
    """The caller's partner; only call behind ``partner_required``."""
    membership = current_membership()
    if membership is None:
        abort(403)
    return membership.partner


def partner_required(*, owner: bool = False) -> Callable[[F], F]:
    """A signed-in representative of an approved partner (an owner when ``owner``)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                if request.path.startswith("/api/"):
                    abort(401)
                return login_manager.unauthorized()
            if request.path.startswith("/api/"):
                from marketplace.api import api_caller

                if api_caller() is None:
                    abort(401)
            membership = current_membership()
            if membership is None or (owner and membership.role != TeamRole.OWNER):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
