"""GET /api/v1/membership/tiers."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.membership.models import MembershipTier

bp = Blueprint("membership_api", __name__, url_prefix="/membership", description="Membership tiers")


class TierSchema(Schema):
    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    currency = fields.String(dump_only=True)
    months = fields.Integer(dump_only=True)


@bp.get("/tiers")
@bp.response(200, TierSchema(many=True))
def list_tiers():
    """The tiers open to new members."""
    return db.session.scalars(
        select(MembershipTier)
        .where(MembershipTier.active.is_(True))
        .order_by(MembershipTier.position, MembershipTier.amount)
    ).all()
