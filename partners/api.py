"""Partner moderation API: decisions on partner applications, for staff scripts and tools."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from marketplace.api import auth_required
from marketplace.extensions import db
from partners import services
from partners.access import get_partner_or_404
from partners.models import Partner
from partners.schemas import (
    PartnerChangesRequestSchema,
    PartnerDecisionBodySchema,
    PartnerDecisionSchema,
    PartnerRejectionSchema,
)

bp = Blueprint("partners_api", __name__, url_prefix="/moderation/partners", description="Partners")

# Applied above @bp.arguments: the caller is checked before the body (anonymous → 401).
MODERATOR = auth_required(roles=("moderator",))
ERRORS = (
    (401, "Not signed in (send a bearer token)."),
    (403, "Not a moderator."),
    (404, "No such partner."),
    (409, "The partner's status does not allow this decision."),
)


def documented(view: Any) -> Any:
    """Bearer security and the error answers every decision endpoint may give."""
    for status, description in ERRORS:
        view = bp.alt_response(status, description=description)(view)
    return bp.doc(security=[{"bearer": []}])(view)


@bp.post("/<int:partner_id>/approve")
@MODERATOR
@documented
@bp.arguments(PartnerDecisionBodySchema, required=False)
@bp.response(200, PartnerDecisionSchema)
def approve_partner(data: dict[str, Any], partner_id: int) -> Partner:
    """Approve a partner application (pending or refused)."""
    partner = get_partner_or_404(partner_id)
    services.approve_partner(partner, actor=current_user)
    db.session.commit()
    return partner


@bp.post("/<int:partner_id>/reject")
@MODERATOR
@documented
@bp.arguments(PartnerRejectionSchema)
@bp.response(200, PartnerDecisionSchema)
def reject_partner(data: dict[str, Any], partner_id: int) -> Partner:
    """Refuse a pending partner application with a reason."""
    partner = get_partner_or_404(partner_id)
    services.refuse_partner(partner, actor=current_user, reason=data["reason"])
    db.session.commit()
    return partner


@bp.post("/<int:partner_id>/request-changes")
@MODERATOR
@documented
@bp.arguments(PartnerChangesRequestSchema)
@bp.response(200, PartnerDecisionSchema)
def request_partner_changes(data: dict[str, Any], partner_id: int) -> Partner:
    """Ask a pending applicant for changes; the application stays pending."""
    partner = get_partner_or_404(partner_id)
    services.request_partner_changes(partner, actor=current_user, message=data["message"])
    db.session.commit()
    return partner
