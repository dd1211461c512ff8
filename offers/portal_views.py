"""The partner portal's offer pages (nested under offers: endpoints ``offers.portal.*``)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from marketplace.accounts.models import User
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.i18n import country_name
from marketplace.markdown import render_markdown
from offers import code_pool, pictures, services
from offers.access import get_offer_or_404
from offers.forms import (
    AUDIENCE_LABELS,
    METHOD_LABELS,
    PERIOD_LABELS,
    ActionForm,
    CodesForm,
    OfferForm,
    PictureForm,
)
from offers.models import Offer, OfferCode, OfferStatus, OfferStatusChange, RedemptionMethod
from partners.access import current_partner, partner_required

logger = logging.getLogger(__name__)

bp = Blueprint("portal", __name__, url_prefix="/manage")

# A code file larger than this is cut (about 100,000 codes).
MAX_UPLOAD = 2_000_000

STATUS_LABELS = {
    OfferStatus.DRAFT: _l("Draft"),
    OfferStatus.SUBMITTED: _l("Waiting for review"),
    OfferStatus.CHANGES_REQUESTED: _l("Changes requested"),
    OfferStatus.REJECTED: _l("Not accepted"),
    OfferStatus.PUBLISHED: _l("Published"),
    OfferStatus.PAUSED: _l("Paused"),
    OfferStatus.EXPIRED: _l("Expired"),
    OfferStatus.ARCHIVED: _l("Archived"),
}
FIELD_LABELS = {
    "title_fr": _l("Title (French)"),
    "title_en": _l("Title (English)"),
    "summary_fr": _l("Summary (French)"),
    "summary_en": _l("Summary (English)"),
    "description_fr": _l("Description (French)"),
    "description_en": _l("Description (English)"),
    "city": _l("City"),
    "shared_code": _l("Shared code"),
    "link_url": _l("Link"),
    "category": _l("Category"),
    "countries": _l("Countries"),
    "online": _l("Online"),
    "starts_at": _l("Starts"),
    "ends_at": _l("Ends"),
    "audience": _l("Audience"),
    "redemption_method": _l("Redemption method"),
    "total_limit": _l("Total limit"),
    "per_member_limit": _l("Uses per member"),
    "limit_period": _l("Per member, counted"),
    "reveal_ttl_minutes": _l("Code valid for (minutes)"),
}
# Which buttons each status shows (the services check again).
ACTIONS = {
    "submit": services.EDITABLE,
    "pause": {OfferStatus.PUBLISHED},
    "resume": {OfferStatus.PAUSED},
    "archive": set(OfferStatus) - {OfferStatus.ARCHIVED},
}


def status_label(status: Any) -> str:
    """A status's name for people."""
    try:
        return str(STATUS_LABELS[OfferStatus(status)])
    except ValueError:
        return str(status)


@bp.context_processor
def offer_helpers() -> dict[str, Any]:
    return {
        "offer_status_label": status_label,
        "offer_field_label": lambda field: FIELD_LABELS.get(field, field),
        "offer_method_label": lambda value: METHOD_LABELS.get(value, value),
        "offer_audience_label": lambda value: AUDIENCE_LABELS.get(value, value),
        "offer_period_label": lambda value: PERIOD_LABELS.get(value, value),
        "render_markdown": render_markdown,
        "country_name": country_name,
    }


def pool_left_query(offer_ids: list[int]) -> dict[int, int]:
    """Unused codes per offer, in one query."""
    if not offer_ids:
        return {}
    rows = db.session.execute(
        select(OfferCode.offer_id, func.count(OfferCode.id))
        .where(OfferCode.offer_id.in_(offer_ids), OfferCode.redemption_id.is_(None))
        .group_by(OfferCode.offer_id)
    )
    return dict(rows.tuples().all())


def history(offer: Offer) -> list[tuple[OfferStatusChange, User | None]]:
    """The offer's status changes, newest first, with who made them."""
    return list(
        db.session.execute(
            select(OfferStatusChange, User)
            .outerjoin(User, User.id == OfferStatusChange.actor_id)
            .where(OfferStatusChange.offer_id == offer.id)
            .order_by(OfferStatusChange.created_at.desc(), OfferStatusChange.id.desc())
        ).tuples()
    )


def _flash_error(error: DomainError) -> None:
    flash(str(error.message), "error")


# ---------------------------------------------------------------- pages


@bp.get("/")
@partner_required()
def index() -> str:
    partner = current_partner()
    offers = list(
        db.session.scalars(
            select(Offer)
            .where(Offer.partner_id == partner.id)
            .options(selectinload(Offer.category))
            .order_by(Offer.created_at.desc(), Offer.id.desc())
        )
    )
    pool_left = pool_left_query(
        [o.id for o in offers if o.redemption_method == RedemptionMethod.UNIQUE_CODES]
    )
    return render_template(
        "offers/portal/index.html", partner=partner, offers=offers, pool_left=pool_left
    )


@bp.route("/new", methods=["GET", "POST"])
@partner_required()
def create() -> str | Response:
    partner = current_partner()
    form = OfferForm()
    if form.validate_on_submit():
        try:
            offer = services.create_offer(partner, actor=current_user, data=form.terms())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error.message))
        else:
            db.session.commit()
            flash(_("Your draft offer was saved."), "success")
            return redirect(url_for("offers.portal.detail", offer_id=offer.id))
    return render_template("offers/portal/form.html", form=form, offer=None, partner=partner)


@bp.get("/<int:offer_id>")
@partner_required()
def detail(offer_id: int) -> str:
    partner = current_partner()
    offer = get_offer_or_404(offer_id, partner=partner)
    pool = pool_counts(offer)
    return render_template(
        "offers/portal/detail.html",
        partner=partner,
        offer=offer,
        history=history(offer),
        diff=services.pending_diff(offer),
        pool=pool,
        codes_form=CodesForm(),
        picture_form=PictureForm(),
        action_form=ActionForm(),
        actions={name: offer.status in states for name, states in ACTIONS.items()},
        in_review=services.needs_review(offer),
        problems=services.completeness_problems(offer) if offer.status in services.EDITABLE else [],
    )


@bp.post("/<int:offer_id>/picture")
@partner_required()
def picture(offer_id: int) -> Response:
    """Set or remove the offer's picture (the button pressed says which)."""
    offer = get_offer_or_404(offer_id, partner=current_partner())
    form = PictureForm()
    back = redirect(url_for("offers.portal.detail", offer_id=offer.id) + "#picture")
    if not form.validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return back
    removing = "remove" in request.form
    upload = form.picture.data
    if not removing and not upload:
        flash(_("Choose a picture to send."), "error")
        return back
    try:
        data = None if removing else upload.read(pictures.MAX_UPLOAD_BYTES + 1)
        previous = pictures.set_offer_picture(offer, actor=current_user, data=data)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return back
    db.session.commit()
    pictures.delete_picture(previous)
    flash(_("The picture was removed.") if removing else _("The picture was saved."), "success")
    return back


def pool_counts(offer: Offer) -> dict[str, int]:
    """Total and unused codes of the offer's pool."""
    total, left = db.session.execute(
        select(
            func.count(OfferCode.id),
            func.count(OfferCode.id).filter(OfferCode.redemption_id.is_(None)),
        ).where(OfferCode.offer_id == offer.id)
    ).one()
    return {"total": total, "left": left}


@bp.route("/<int:offer_id>/edit", methods=["GET", "POST"])
@partner_required()
def edit(offer_id: int) -> str | Response:
    partner = current_partner()
    offer = get_offer_or_404(offer_id, partner=partner)
    if offer.status not in services.EDITABLE | services.LIVE:
        flash(_("This offer cannot be edited in its current state."), "error")
        return redirect(url_for("offers.portal.detail", offer_id=offer.id))
    current = {**services.snapshot(offer), **(offer.pending_changes or {})}
    form = OfferForm(data=OfferForm.initial(current))
    if form.validate_on_submit():
        try:
            queued = services.update_offer(offer, actor=current_user, data=form.terms())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error.message))
        else:
            db.session.commit()
            if queued:
                flash(
                    _("Your changes were sent for review; the approved version stays live."),
                    "success",
                )
            else:
                flash(_("Your offer was saved."), "success")
            return redirect(url_for("offers.portal.detail", offer_id=offer.id))
    return render_template("offers/portal/form.html", form=form, offer=offer, partner=partner)


def _action(offer_id: int, service: Any, message: str) -> Response:
    offer = get_offer_or_404(offer_id, partner=current_partner())
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("offers.portal.detail", offer_id=offer.id))
    try:
        service(offer, actor=current_user)
    except DomainError as error:
        db.session.rollback()
        _flash_error(error)
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("offers.portal.detail", offer_id=offer_id))


@bp.post("/<int:offer_id>/submit")
@partner_required()
def submit(offer_id: int) -> Response:
    return _action(offer_id, services.submit_offer, _("Your offer was sent for review."))


@bp.post("/<int:offer_id>/pause")
@partner_required()
def pause(offer_id: int) -> Response:
    return _action(offer_id, services.pause_offer, _("Your offer is paused."))


@bp.post("/<int:offer_id>/resume")
@partner_required()
def resume(offer_id: int) -> Response:
    return _action(offer_id, services.resume_offer, _("Your offer is published again."))


@bp.post("/<int:offer_id>/archive")
@partner_required()
def archive(offer_id: int) -> Response:
    return _action(offer_id, services.archive_offer, _("Your offer is archived."))


@bp.post("/<int:offer_id>/codes")
@partner_required()
def codes(offer_id: int) -> Response:
    offer = get_offer_or_404(offer_id, partner=current_partner())
    form = CodesForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("offers.portal.detail", offer_id=offer.id))
    uploaded = code_pool.parse_code_file(form.text.data or "")
    if form.file.data:
        try:
            uploaded += code_pool.parse_code_file(form.file.data.read(MAX_UPLOAD).decode("utf-8"))
        except UnicodeDecodeError:
            flash(_("The file must be UTF-8 text."), "error")
            return redirect(url_for("offers.portal.detail", offer_id=offer.id))
    if not any(code.strip() for code in uploaded):
        flash(_("Choose a file or paste at least one code."), "error")
        return redirect(url_for("offers.portal.detail", offer_id=offer.id))
    try:
        added, duplicates = code_pool.add_codes(offer, actor=current_user, codes=uploaded)
    except DomainError as error:
        db.session.rollback()
        _flash_error(error)
    else:
        db.session.commit()
        flash(
            _(
                "%(added)s code(s) added, %(duplicates)s duplicate(s) skipped.",
                added=added,
                duplicates=duplicates,
            ),
            "success",
        )
    return redirect(url_for("offers.portal.detail", offer_id=offer.id))
