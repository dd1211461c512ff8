"""Offer moderation API: the moderators' decisions on submitted offers (bearer token)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from marketplace.api import Blueprint, auth_required
from marketplace.extensions import db
from offers import services
from offers.access import get_offer_or_404
from offers.models import Offer
from offers.schemas import ModeratorOfferSchema, OfferDecisionSchema

bp = Blueprint(
    "offer_moderation_api",
    __name__,
    url_prefix="/moderation/offers",
    description="Offer moderation",
)

# Applied above @bp.arguments: the caller is checked before the body (anonymous → 401).
MODERATOR = auth_required(roles=("moderator",))
ERRORS = (
    (401, "Not signed in (send a bearer token)."),
    (403, "Not a moderator."),
    (404, "No such offer."),
    (409, "The offer is not waiting for review."),
    (422, "A reason (refusal) or a message (changes) is required."),
)


def documented(view: Any) -> Any:
    """Bearer security and the error answers every decision endpoint may give."""
    for status, description in ERRORS:
        view = bp.alt_response(status, description=description)(view)
    return bp.doc(security=[{"bearer": []}])(view)


@bp.post("/<int:offer_id>/approve")
@MODERATOR
@documented
@bp.arguments(OfferDecisionSchema, required=False)
@bp.response(200, ModeratorOfferSchema)
def approve_offer(data: dict[str, Any], offer_id: int) -> Offer:
    """Publish a submitted offer, or apply a live offer's pending changes."""
    offer = get_offer_or_404(offer_id)
    services.approve_offer(offer, actor=current_user)
    db.session.commit()
    return offer


@bp.post("/<int:offer_id>/reject")
@MODERATOR
@documented
@bp.arguments(OfferDecisionSchema)
@bp.response(200, ModeratorOfferSchema)
def reject_offer(data: dict[str, Any], offer_id: int) -> Offer:
    """Refuse a submitted offer (or a live offer's changes) with a reason."""
    offer = get_offer_or_404(offer_id)
    services.reject_offer(offer, actor=current_user, reason=data["reason"] or data["message"])
    db.session.commit()
    return offer


@bp.post("/<int:offer_id>/request-changes")
@MODERATOR
@documented
@bp.arguments(OfferDecisionSchema)
@bp.response(200, ModeratorOfferSchema)
def request_offer_changes(data: dict[str, Any], offer_id: int) -> Offer:
    """Send an offer back to its partner with a message (``message`` or ``reason``)."""
    offer = get_offer_or_404(offer_id)
    services.request_offer_changes(
        offer, actor=current_user, message=data["message"] or data["reason"]
    )
    db.session.commit()
    return offer
