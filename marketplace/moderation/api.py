"""Moderation API: decisions on alumni registrations, for staff scripts and tools."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from marketplace.accounts.models import AlumniProfile
from marketplace.api import auth_required
from marketplace.extensions import db
from marketplace.moderation import services
from marketplace.moderation.access import get_profile_or_404
from marketplace.moderation.schemas import (
    ChangesRequestSchema,
    DecisionSchema,
    MemberDecisionSchema,
    RejectionSchema,
)

bp = Blueprint("moderation_api", __name__, url_prefix="/moderation", description="Moderation")

# Applied above @bp.arguments: the caller is checked before the body (anonymous → 401).
MODERATOR = auth_required(roles=("moderator",))
ERRORS = (
    (401, "Not signed in (send a bearer token)."),
    (403, "Not a moderator."),
    (404, "No such member."),
    (409, "The member's status does not allow this decision."),
)


def documented(view: Any) -> Any:
    """Bearer security and the error answers every decision endpoint may give."""
    for status, description in ERRORS:
        view = bp.alt_response(status, description=description)(view)
    return bp.doc(security=[{"bearer": []}])(view)


@bp.post("/members/<int:profile_id>/approve")
@MODERATOR
@documented
@bp.arguments(DecisionSchema, required=False)
@bp.response(200, MemberDecisionSchema)
def approve_member(data: dict[str, Any], profile_id: int) -> AlumniProfile:
    """Verify an alumnus (pending, information requested or refused)."""
    profile = get_profile_or_404(profile_id)
    services.approve_member(profile, actor=current_user)
    db.session.commit()
    return profile


@bp.post("/members/<int:profile_id>/reject")
@MODERATOR
@documented
@bp.arguments(RejectionSchema)
@bp.response(200, MemberDecisionSchema)
def reject_member(data: dict[str, Any], profile_id: int) -> AlumniProfile:
    """Refuse an alumnus with a reason from the list and an optional message."""
    profile = get_profile_or_404(profile_id)
    services.refuse_member(
        profile, actor=current_user, reason=data["reason"], message=data.get("message")
    )
    db.session.commit()
    return profile


@bp.post("/members/<int:profile_id>/request-changes")
@MODERATOR
@documented
@bp.arguments(ChangesRequestSchema)
@bp.response(200, MemberDecisionSchema)
def request_member_changes(data: dict[str, Any], profile_id: int) -> AlumniProfile:
    """Ask a pending alumnus for more information."""
    profile = get_profile_or_404(profile_id)
    services.request_member_info(profile, actor=current_user, message=data["message"])
    db.session.commit()
    return profile
