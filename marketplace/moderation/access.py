"""Loading a member's alumni profile for the moderators: one loader for pages and API."""

from __future__ import annotations

from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from marketplace.accounts.models import AlumniProfile
from marketplace.extensions import db


def get_profile_or_404(profile_id: int) -> AlumniProfile:
    """The alumni profile with its user (one query), or 404."""
    profile = db.session.scalar(
        select(AlumniProfile)
        .where(AlumniProfile.id == profile_id)
        .options(joinedload(AlumniProfile.user))
    )
    if profile is None:
        abort(404, message="No such member.")
    return profile
