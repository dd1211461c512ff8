"""Redeeming offers, the member's wallet and the partner's pass check (``offers.wallet.*``)."""

from __future__ import annotations

import qrcode
import qrcode.image.svg
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from marketplace.accounts.models import User
from marketplace.errors import DomainError
from marketplace.extensions import db, limiter
from marketplace.routing import absolute_url
from marketplace.security import login_required, verified_alumnus_required
from offers import analytics
from offers import redemption as services
from offers.models import Offer, Redemption
from partners.access import current_partner, partner_required

bp = Blueprint("wallet", __name__, url_prefix="/wallet")

PAGE_SIZE = 30


def check_url(token: str) -> str:
    """The absolute address of the partner's check page of a pass: what its QR code holds."""
    return absolute_url("offers.wallet.check", token=token)


def qr_svg(data: str) -> Markup:
    """``data`` as an inline SVG QR code (server-side: no script, no external request)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage)
    return Markup(image.to_string(encoding="unicode"))  # noqa: S704 - our own SVG markup


def get_redemption_or_404(redemption_id: int) -> Redemption:
    """The caller's own redemption; another member's answers 404."""
    redemption = db.session.scalar(
        select(Redemption)
        .options(joinedload(Redemption.offer).joinedload(Offer.partner))
        .where(Redemption.id == redemption_id, Redemption.user_id == current_user.id)
    )
    if redemption is None:
        abort(404)
    return redemption


@bp.post("/redeem/<int:offer_id>")
@verified_alumnus_required
@limiter.limit("30/minute")
def redeem(offer_id: int):
    try:
        benefit = services.redeem(offer_id, user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("offers.detail", offer_id=offer_id))
    db.session.commit()
    flash(_("Here is your benefit. It stays in your wallet."), "success")
    return redirect(url_for("offers.wallet.show", redemption_id=benefit.id))


@bp.get("/")
@login_required
def index():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = (
        select(Redemption)
        .options(joinedload(Redemption.offer).joinedload(Offer.partner))
        .where(Redemption.user_id == current_user.id)
        .order_by(Redemption.redeemed_at.desc(), Redemption.id.desc())
    )
    pagination = db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)
    return render_template("offers/wallet/index.html", pagination=pagination, now=services.utcnow())


@bp.get("/<int:redemption_id>")
@login_required
def show(redemption_id: int):
    redemption = get_redemption_or_404(redemption_id)
    state = services.voucher_state(redemption)
    qr = None
    if redemption.voucher_token and state == "valid":
        qr = qr_svg(check_url(redemption.voucher_token))
    # Rendered before the commit below, which would expire the loaded rows and reload them.
    page = render_template(
        "offers/wallet/show.html", redemption=redemption, offer=redemption.offer, state=state, qr=qr
    )
    if state == "valid":
        # Analytics: the code, pass or link was shown to the member once more.
        analytics.count_reveal(offer_id=redemption.offer_id, day=services.utcnow().date())
        db.session.commit()
    return page


def _render_check(token: str):
    redemption = services.find_voucher(token, partner=current_partner())
    member = db.session.get(User, redemption.user_id) if redemption.user_id else None
    return render_template(
        "offers/wallet/check.html",
        redemption=redemption,
        member=member,
        token=token,
        state=services.voucher_state(redemption),
    )


@bp.get("/check/<token>")
@partner_required()
def check(token: str):
    return _render_check(token)


@bp.post("/check/<token>")
@partner_required()
def validate(token: str):
    try:
        services.validate_voucher(token, partner=current_partner(), actor=current_user)
    except services.VoucherNotFound:
        raise
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("offers.wallet.check", token=token))
    db.session.commit()
    flash(_("The pass is marked as redeemed."), "success")
    return redirect(url_for("offers.wallet.check", token=token))
