"""GET /api/v1/membership/tiers."""

from __future__ import annotations

from flask_smorest import Blueprint
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.membership.models import MembershipTier
from marketplace.membership.schemas import TierSchema

bp = Blueprint("membership_api", __name__, url_prefix="/membership", description="Membership tiers")


@bp.get("/tiers")
@bp.response(200, TierSchema(many=True))
def list_tiers():
    """The tiers open to new members."""
    return db.session.scalars(
        select(MembershipTier)
        .where(MembershipTier.active.is_(True))
        .order_by(MembershipTier.position, MembershipTier.amount)
    ).all()
