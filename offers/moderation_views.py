"""The staff's offer review queue (endpoints ``offers.moderation.*``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Select, String, and_, cast, or_, select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.markdown import render_markdown
from marketplace.security import moderator_required
from offers import services
from offers.access import get_offer_or_404
from offers.forms import ActionForm, RejectForm, RequestChangesForm
from offers.models import Audience, Offer, OfferStatus
from offers.portal_views import history, offer_helpers, pool_counts
from offers.reader_state import OfferReading, Reader, ReaderState

logger = logging.getLogger(__name__)

bp = Blueprint("moderation", __name__, url_prefix="/moderation")
bp.context_processor(offer_helpers)


def in_review_clause() -> Any:
    """Submitted offers, and live ones whose proposed changes wait for a moderator."""
    # A cleared JSON column may hold JSON null rather than SQL NULL: both mean "no changes".
    has_changes = and_(
        Offer.pending_changes.is_not(None), cast(Offer.pending_changes, String) != "null"
    )
    return or_(
        Offer.status == OfferStatus.SUBMITTED,
        and_(
            Offer.status.in_(tuple(services.LIVE)),
            has_changes,
            Offer.moderator_message.is_(None),
        ),
    )


def queue_query() -> Select[tuple[Offer]]:
    """The review queue, oldest submission first, partners and categories eager."""
    return (
        select(Offer)
        .where(in_review_clause())
        .options(joinedload(Offer.partner), joinedload(Offer.category))
        .order_by(Offer.submitted_at.asc().nulls_first(), Offer.id)
    )


@bp.get("/")
@moderator_required
def queue() -> str:
    offers = list(db.session.scalars(queue_query()))
    return render_template("offers/moderation/queue.html", offers=offers)


@bp.get("/<int:offer_id>")
@moderator_required
def review(offer_id: int) -> str:
    offer = get_offer_or_404(offer_id)
    return render_template(
        "offers/moderation/review.html",
        offer=offer,
        diff=services.pending_diff(offer),
        history=history(offer),
        pool=pool_counts(offer),
        in_review=services.needs_review(offer),
        approve_form=ActionForm(),
        reject_form=RejectForm(),
        changes_form=RequestChangesForm(),
    )


@bp.get("/<int:offer_id>/preview")
@moderator_required
def preview(offer_id: int) -> str:
    """The offer page (and its card) exactly as a verified alumnus will see it once approved."""
    offer = services.preview_offer(get_offer_or_404(offer_id))
    return render_template(
        "offers/detail.html",
        offer=offer,
        ended=False,
        description=render_markdown(offer.description),
        reader=Reader(),
        reading=OfferReading(ReaderState.CAN_REDEEM),
        States=ReaderState,
        preview=True,
        back_url=url_for("offers.moderation.review", offer_id=offer_id),
        MEMBERS=Audience.MEMBERS,
    )


def _decide(offer_id: int, form: FlaskForm, call: Callable[[Offer], None], done: str) -> Any:
    offer = get_offer_or_404(offer_id)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("offers.moderation.review", offer_id=offer.id))
    try:
        call(offer)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("offers.moderation.review", offer_id=offer.id))
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("offers.moderation.queue"))


@bp.post("/<int:offer_id>/approve")
@moderator_required
def approve(offer_id: int) -> Response:
    return _decide(
        offer_id,
        ActionForm(),
        lambda offer: services.approve_offer(offer, actor=current_user),
        _("The offer was approved."),
    )


@bp.post("/<int:offer_id>/reject")
@moderator_required
def reject(offer_id: int) -> Response:
    form = RejectForm()
    return _decide(
        offer_id,
        form,
        lambda offer: services.reject_offer(offer, actor=current_user, reason=form.reason.data),
        _("The offer was refused."),
    )


@bp.post("/<int:offer_id>/request-changes")
@moderator_required
def request_changes(offer_id: int) -> Response:
    form = RequestChangesForm()
    return _decide(
        offer_id,
        form,
        lambda offer: services.request_offer_changes(
            offer, actor=current_user, message=form.message.data
        ),
        _("The partner was asked for changes."),
    )
