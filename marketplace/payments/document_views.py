"""Download of a payment's document (attestation or invoice) by its payer, by the paying
partner's team (invoices), or by the treasury."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments import documents
from marketplace.payments.models import Payment
from marketplace.security import login_required

bp = Blueprint("documents", __name__, url_prefix="/documents")

TREASURY_ROLES = ("treasurer", "admin")


def pdf_response(payment: Payment) -> Response:
    """The document as an attachment; 404 while the payment has none."""
    if not documents.has_document(payment):
        abort(404)
    body = documents.render_document_pdf(payment)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"attachment; filename={documents.document_filename(payment)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _on_paying_team(payment: Payment, user_id: int) -> bool:
    """True when ``user_id`` is an active member of the partner that made ``payment``.

    Every representative of the team may download its invoices, not only the payer. The core
    does not import the partners package (dependencies point one way): the membership is read
    through the table that package registered on the shared metadata.
    """
    table = db.metadata.tables.get("partner_members")
    if payment.partner_id is None or table is None:
        return False
    return (
        db.session.scalar(
            select(table.c.id).where(
                table.c.partner_id == payment.partner_id,
                table.c.user_id == user_id,
                table.c.disabled_at.is_(None),
            )
        )
        is not None
    )


@bp.get("/payments/<int:payment_id>.pdf")
@login_required
def payment(payment_id: int):
    record = db.session.get(Payment, payment_id)
    if record is None:
        abort(404)
    if record.payer_id == current_user.id or _on_paying_team(record, current_user.id):
        return pdf_response(record)
    # Another person's payment: only the treasury sees it, after two-factor; others get 404.
    if not current_user.has_role(*TREASURY_ROLES):
        abort(404)
    if not session.get("mfa"):
        return redirect(url_for("accounts.two_factor", next=request.full_path))
    return pdf_response(record)
