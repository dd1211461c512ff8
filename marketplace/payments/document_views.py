"""Download of the frozen documents (invoice, credit note, attestation) by the payer, by the
paying partner's team, or by the treasury; every download returns the stored bytes.

``/documents/payments/<payment id>.pdf`` is the payment's own document (its invoice or
attestation); ``/documents/<document id>.pdf`` and ``.xml`` (the Factur-X CII XML) any
document. The API serves the same files to a bearer token (``document_api.py``).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments import documents
from marketplace.payments.document_models import Document
from marketplace.payments.models import Payment
from marketplace.security import login_required

bp = Blueprint("documents", __name__, url_prefix="/documents")

TREASURY_ROLES = ("treasurer", "admin")


def file_response(body: bytes, *, mimetype: str, filename: str) -> Response:
    """A stored file as an attachment that no browser runs or sniffs."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def document_response(document: Document, *, xml: bool = False) -> Response:
    """The frozen PDF of ``document``, or its CII XML (404 for an attestation)."""
    if xml:
        body = documents.document_xml_bytes(document)
        if body is None:
            abort(404)
        return file_response(
            body, mimetype="application/xml", filename=document.filename[:-4] + ".xml"
        )
    return file_response(
        documents.document_pdf_bytes(document),
        mimetype="application/pdf",
        filename=document.filename,
    )


def pdf_response(payment: Payment) -> Response:
    """The payment's own document (invoice or attestation); 404 while it has none."""
    document = documents.main_document(payment) if documents.has_document(payment) else None
    if document is None:
        abort(404)
    return document_response(document)


def on_paying_team(payment: Payment, user_id: int) -> bool:
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


def reader_kind(payment: Payment) -> str | None:
    """How the signed-in caller may read ``payment``'s documents: ``"owner"`` (payer or paying
    team), ``"treasury"``, ``"two_factor"`` (treasury without two-factor yet) or None."""
    if payment.payer_id == current_user.id or on_paying_team(payment, current_user.id):
        return "owner"
    if not current_user.has_role(*TREASURY_ROLES):
        return None
    if g.get("auth_by_token") or session.get("mfa"):
        return "treasury"
    return "two_factor"


def _guarded(payment: Payment, respond):
    """Answer with ``respond()`` for a reader of ``payment``; others get 404."""
    kind = reader_kind(payment)
    if kind is None:
        abort(404)
    if kind == "two_factor":
        return redirect(url_for("accounts.two_factor", next=request.full_path))
    return respond()


@bp.get("/payments/<int:payment_id>.pdf")
@login_required
def payment(payment_id: int):
    record = db.session.get(Payment, payment_id)
    if record is None:
        abort(404)
    return _guarded(record, lambda: pdf_response(record))


@bp.get("/<int:document_id>.pdf")
@login_required
def pdf(document_id: int):
    document = db.session.get(Document, document_id)
    if document is None:
        abort(404)
    return _guarded(document.payment, lambda: document_response(document))


@bp.get("/<int:document_id>.xml")
@login_required
def xml(document_id: int):
    document = db.session.get(Document, document_id)
    if document is None:
        abort(404)
    return _guarded(document.payment, lambda: document_response(document, xml=True))
