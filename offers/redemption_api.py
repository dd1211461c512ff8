"""Redemption, wallet and voucher API: redeem an offer, list one's redemptions, check a pass."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from marketplace.api import Blueprint, auth_required
from marketplace.extensions import db, limiter
from offers import redemption as services
from offers.access import get_offer_or_404
from offers.models import Redemption
from offers.schemas import PartnerRedemptionSchema, RedemptionSchema
from partners.access import current_partner, partner_required

bp = Blueprint("redemptions_api", __name__, url_prefix="", description="Redemptions")

BEARER = [{"bearer": []}]


def _page(query, pagination_parameters) -> list[Redemption]:
    pagination_parameters.item_count = db.session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())
    )
    return list(
        db.session.scalars(
            query.limit(pagination_parameters.page_size).offset(
                (pagination_parameters.page - 1) * pagination_parameters.page_size
            )
        )
    )


@bp.post("/offers/<int:offer_id>/redemptions")
@auth_required()
@limiter.limit("30/minute", override_defaults=False)
@bp.response(201, RedemptionSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(410, response="DEFAULT_ERROR")
@bp.doc(security=BEARER)
def redeem(offer_id: int):
    """Redeem an offer (verified alumni; members-only offers need an active membership).

    409 carries ``errors.reason``: ``sold_out`` or ``limit_reached``.
    """
    benefit = services.redeem(offer_id, user=current_user)
    # The body ``RedemptionSchema`` documents, built from the statements' answers before the
    # commit expires what the session holds: no reload, no marshmallow on the hot path.
    body = benefit.as_json()
    db.session.commit()
    response = jsonify(body)
    response.status_code = 201
    return response


@bp.get("/me/redemptions")
@auth_required()
@bp.response(200, RedemptionSchema(many=True))
@bp.paginate(page_size=20, max_page_size=100)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.doc(security=BEARER)
def my_redemptions(pagination_parameters):
    """The caller's redemptions, newest first."""
    query = (
        select(Redemption)
        .options(joinedload(Redemption.offer))
        .where(Redemption.user_id == current_user.id)
        .order_by(Redemption.redeemed_at.desc(), Redemption.id.desc())
    )
    return _page(query, pagination_parameters)


@bp.get("/partner/offers/<int:offer_id>/redemptions")
@partner_required()
@bp.response(200, PartnerRedemptionSchema(many=True))
@bp.paginate(page_size=50, max_page_size=100)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
@bp.doc(security=BEARER)
def offer_redemptions(offer_id: int, pagination_parameters):
    """The redemptions of one of the caller's partner's offers (another partner's: 404)."""
    offer = get_offer_or_404(offer_id, partner=current_partner())
    query = (
        select(Redemption)
        .where(Redemption.offer_id == offer.id)
        .order_by(Redemption.redeemed_at.desc(), Redemption.id.desc())
    )
    return _page(query, pagination_parameters)


@bp.post("/partner/vouchers/<token>/validate")
@partner_required()
@bp.response(200, PartnerRedemptionSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.doc(security=BEARER)
def validate_voucher(token: str):
    """Mark a QR pass of one of the partner's offers as used; a second time answers 409."""
    redemption = services.validate_voucher(token, partner=current_partner(), actor=current_user)
    db.session.commit()
    return redemption
