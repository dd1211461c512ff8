"""Documents in the API: the frozen PDF (Factur-X for invoices and credit notes) and the CII
XML of a payment's documents, for the same bearer token that reads the payment
(``GET /payments/{id}`` lists them with these URLs)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint, abort

from marketplace.api import auth_required
from marketplace.extensions import db
from marketplace.payments import documents
from marketplace.payments.document_models import Document
from marketplace.payments.document_views import document_response, reader_kind
from marketplace.payments.models import Payment
from marketplace.routing import absolute_url

bp = Blueprint("documents_api", __name__, url_prefix="/documents", description="Documents")

BEARER = [{"bearer": []}]


def document_links(payment: Payment) -> list[dict[str, Any]]:
    """``[{kind, number, issued_at, pdf_url, xml_url?}]`` of a payment, oldest first.

    Absolute URLs on ``SITE_URL`` (never the request's Host); the API serves them to the
    same token.
    """
    links = []
    for document, has_xml in documents.documents_with_xml(payment):
        link: dict[str, Any] = {
            "kind": document.kind.value,
            "number": document.number,
            "issued_at": document.issued_at,
            "pdf_url": absolute_url("documents_api.pdf", document_id=document.id),
        }
        if has_xml:
            link["xml_url"] = absolute_url("documents_api.xml", document_id=document.id)
        links.append(link)
    return links


def _readable(document_id: int) -> Document:
    document = db.session.get(Document, document_id)
    if document is None or reader_kind(document.payment) not in ("owner", "treasury"):
        abort(404, message="No such document.")
    return document


@bp.get("/<int:document_id>/pdf")
@auth_required()
@bp.response(200, content_type="application/pdf", description="the frozen PDF")
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
@bp.doc(security=BEARER)
def pdf(document_id: int) -> Response:
    """The document's PDF (Factur-X PDF/A-3 for invoices and credit notes), as issued."""
    return document_response(_readable(document_id))


@bp.get("/<int:document_id>/xml")
@auth_required()
@bp.response(200, content_type="application/xml", description="the CII XML (Factur-X)")
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
@bp.doc(security=BEARER)
def xml(document_id: int) -> Response:
    """The Cross-Industry-Invoice XML of an invoice or credit note (404 for an attestation)."""
    return document_response(_readable(document_id), xml=True)
