"""Redemption, wallet and voucher API: redeem an offer, list one's redemptions, check a pass."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, fields, post_dump
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from marketplace.api import Blueprint, auth_required
from marketplace.extensions import db, limiter
from offers import redemption as services
from offers.access import get_offer_or_404
from offers.models import Redemption
from offers.wallet_views import check_url
from partners.access import current_partner, partner_required

bp = Blueprint("redemptions_api", __name__, url_prefix="", description="Redemptions")

BEARER = [{"bearer": []}]


class RedemptionSchema(Schema):
    """A member's redemption: the code, the pass address or the partner link they got."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(dump_only=True)
    offer_id = fields.Integer(dump_only=True)
    offer_title = fields.Method("_offer_title", dump_only=True)
    code = fields.Method("_code", dump_only=True, allow_none=True)
    voucher_url = fields.Method(
        "_voucher_url",
        dump_only=True,
        metadata={"description": "the partner's check page, the address the QR pass holds"},
    )
    link = fields.Method("_link", dump_only=True)
    redeemed_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True)
    validated_at = fields.DateTime(dump_only=True)

    def _offer_title(self, redemption: Redemption) -> str:
        return redemption.offer.title

    def _code(self, redemption: Redemption) -> str | None:
        if services.voucher_state(redemption) == "expired":
            return None
        return redemption.code

    def _voucher_url(self, redemption: Redemption) -> str | None:
        return check_url(redemption.voucher_token) if redemption.voucher_token else None

    def _link(self, redemption: Redemption) -> str | None:
        return redemption.offer.link_url

    @post_dump
    def _drop_empty(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """``code``, ``voucher_url`` and ``link`` appear only when the offer gives one."""
        for key in ("code", "voucher_url", "link", "expires_at", "validated_at"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class PartnerRedemptionSchema(Schema):
    """A redemption as the partner sees it: no member identity beyond a first name."""

    id = fields.Integer(dump_only=True)
    offer_id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True, allow_none=True)
    redeemed_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True, allow_none=True)
    validated_at = fields.DateTime(dump_only=True, allow_none=True)
    state = fields.Method("_state", dump_only=True)

    def _state(self, redemption: Redemption) -> str:
        return services.voucher_state(redemption)


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
