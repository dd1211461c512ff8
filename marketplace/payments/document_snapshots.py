"""What a payment document says (its snapshot, frozen when issued) and how it is drawn.

- An **invoice** (Factur-X EN 16931) carries every mention of Code de commerce L441-9 /
  L441-10; a **payment attestation** of membership dues is never a *reçu fiscal*; a **credit
  note** references the invoice it corrects.
- Snapshots are built from today's association details and the payment; ``render`` draws the
  PDF (and the CII XML of invoices and credit notes).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from babel import Locale
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import document_pdf, facturx
from marketplace.payments.document_models import Document, DocumentKind
from marketplace.payments.document_registry import (
    Period,
    designation,
    partner_buyer,
    service_period,
)
from marketplace.payments.document_series import local_date
from marketplace.payments.models import AssociationDetails, Payment, PaymentKind, Refund

logger = logging.getLogger(__name__)

FRANCHISE_MENTION = "TVA non applicable, art. 293 B du CGI"
DEFAULT_VAT_RATE = 2000  # 20 %, the standard French rate (basis points)
LANGUAGES = ("fr", "en")


def association_details() -> AssociationDetails | None:
    """The association's identity (one row, edited by admins)."""
    return db.session.scalar(select(AssociationDetails).order_by(AssociationDetails.id).limit(1))


def _country_name(code: str | None, language: str) -> str | None:
    if not code:
        return None
    return Locale.parse(language).territories.get(code.upper(), code.upper())


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def seller(details: AssociationDetails | None, language: str) -> dict[str, Any]:
    if details is None:
        return {"name": "Association", "address_lines": [], "country": "FR"}
    digits = "".join(char for char in details.siret or "" if char.isdigit())
    return {
        "name": details.name,
        "address_lines": _lines(details.address),
        "postal_code": details.postal_code,
        "city": details.city,
        "country": (details.country or "FR").upper(),
        "country_name": _country_name(details.country, language),
        "siret": digits if len(digits) == 14 else None,
        "siren": digits[:9] if len(digits) >= 9 else None,
        "rna": details.rna,
        "email": details.email,
        "vat_number": details.vat_number,
    }


def _vat(kind: PaymentKind, details: AssociationDetails | None) -> dict[str, Any]:
    """The VAT of a sale of ``kind``: the franchise (exempt) or the kind's rate."""
    if details is None or details.vat_regime != "vat":
        return {"regime": "franchise", "category": "E", "rate_bp": 0, "mention": FRANCHISE_MENTION}
    rate = {
        PaymentKind.PARTNER_PLAN: details.vat_rate_partner_plan,
        PaymentKind.FEATURED: details.vat_rate_featured,
    }.get(kind)
    return {
        "regime": "vat",
        "category": "S",
        "rate_bp": DEFAULT_VAT_RATE if rate is None else rate,
        "mention": None,
    }


def split_gross(gross: int, rate_bp: int) -> tuple[int, int]:
    """(net, VAT) of an amount tax included: prices are shown and charged tax included."""
    net = (gross * 10000 * 2 + (10000 + rate_bp)) // ((10000 + rate_bp) * 2)
    return net, gross - net


def _buyer(payment: Payment, language: str) -> dict[str, Any]:
    found = partner_buyer(payment)
    buyer = dict(found) if found else {"name": payment.payer_name or "—", "country": "FR"}
    if payment.payer_email and not buyer.get("email"):
        buyer["email"] = payment.payer_email
    buyer["country_name"] = _country_name(buyer.get("country"), language)
    return buyer


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _inclusive(period: Period | None) -> list[str] | None:
    """A (start, end exclusive) period as the [first, last] days it covers."""
    if period is None:
        return None
    start, end = period
    return [start.isoformat(), max(start, end - timedelta(days=1)).isoformat()]


def _legal_notes(vat: dict[str, Any], buyer: dict[str, Any]) -> list[dict[str, Any]]:
    """The mentions of Code de commerce L441-9 / L441-10 and the VAT mention, with the subject
    codes the French CTC schematron asks for (PMD, PMT, AAB; BAR for the kind of buyer)."""
    notes = [
        {
            "code": "PMD",
            "text": _(
                "Late-payment penalties: the European Central Bank's rate for its latest "
                "refinancing operation plus 10 percentage points (art. L441-10 of the French "
                "Commercial Code); this invoice was paid when ordered."
            ),
        },
        {
            "code": "PMT",
            "text": _(
                "Fixed indemnity for recovery costs in case of late payment: 40 € (art. L441-10 "
                "and D441-5 of the French Commercial Code)."
            ),
        },
        {"code": "AAB", "text": _("No discount for early payment.")},
    ]
    if vat["mention"]:
        notes.append({"code": None, "text": vat["mention"]})
    notes.append(
        {
            "code": None,
            "text": _(
                "Sponsorship (parrainage): the visibility given to the partner is a service, "
                "this sum is not a donation and gives no tax receipt."
            ),
        }
    )
    scope = "B2B" if (buyer.get("country") or "FR") == "FR" and buyer.get("siren") else "B2BINT"
    notes.append({"code": "BAR", "text": scope, "hidden": True})
    return notes


def document_language(payment: Payment) -> str:
    payer = db.session.get(User, payment.payer_id) if payment.payer_id else None
    language = payer.locale if payer is not None else "fr"
    return language if language in LANGUAGES else "fr"


def invoice_snapshot(payment: Payment, *, number: str, issued_on: date, language: str) -> dict:
    """What an invoice says, in ``language``, from today's details and the payment."""
    details = association_details()
    with force_locale(language):
        vat = _vat(payment.kind, details)
        buyer = _buyer(payment, language)
        net, tax = split_gross(payment.amount, vat["rate_bp"])
        paid_on = local_date(payment.succeeded_at or utcnow())
        period = _inclusive(service_period(payment))
        return {
            "kind": DocumentKind.INVOICE.value,
            "title": _("Invoice"),
            "number": number,
            "issued_on": issued_on.isoformat(),
            "language": language,
            "currency": payment.currency.upper(),
            "seller": seller(details, language),
            "buyer": buyer,
            "lines": [
                {
                    "designation": designation(payment),
                    "quantity": "1",
                    "unit_net": net,
                    "net": net,
                    "vat_rate_bp": vat["rate_bp"],
                    "vat": tax,
                    "period": period,
                }
            ],
            "vat": vat,
            "totals": {
                "net": net,
                "vat": tax,
                "gross": payment.amount,
                "paid": payment.amount,
                "due": 0,
            },
            "period": period,
            "delivered_on": None if period else paid_on.isoformat(),
            "paid_on": paid_on.isoformat(),
            "due_on": paid_on.isoformat(),
            "payment_terms": _("Paid by bank card when ordered."),
            "notes": _legal_notes(vat, buyer),
        }


def credit_note_snapshot(
    refund: Refund, invoice: Document, *, number: str, issued_on: date
) -> dict:
    """A credit note for ``refund``, in the invoice's language, referencing the invoice."""
    payment = refund.payment
    details = association_details()
    source = invoice.snapshot or invoice_snapshot(
        payment,
        number=invoice.number,
        issued_on=local_date(invoice.issued_at),
        language=invoice.language,
    )
    language = source["language"]
    with force_locale(language):
        vat = source["vat"]
        net, tax = split_gross(refund.amount, vat["rate_bp"])
        refunded_on = local_date(refund.created_at or utcnow()).isoformat()
        full = refund.amount >= payment.amount
        what = source["lines"][0]["designation"]
        designation = (
            _("Refund of invoice %(number)s: %(what)s", number=invoice.number, what=what)
            if full
            else _(
                "Partial refund of invoice %(number)s: %(what)s", number=invoice.number, what=what
            )
        )
        return {
            "kind": DocumentKind.CREDIT_NOTE.value,
            "title": _("Credit note"),
            "number": number,
            "issued_on": issued_on.isoformat(),
            "language": language,
            "currency": source["currency"],
            "seller": seller(details, language),
            "buyer": source["buyer"],
            "lines": [
                {
                    "designation": designation,
                    "quantity": "1",
                    "unit_net": net,
                    "net": net,
                    "vat_rate_bp": vat["rate_bp"],
                    "vat": tax,
                    "period": None,
                }
            ],
            "vat": vat,
            "totals": {
                "net": net,
                "vat": tax,
                "gross": refund.amount,
                "paid": refund.amount,
                "due": 0,
            },
            "period": None,
            "delivered_on": source.get("delivered_on") or source["paid_on"],
            "paid_on": refunded_on,
            "due_on": refunded_on,
            "payment_terms": _("Refunded to the bank card used for the payment."),
            "corrects": {
                "number": invoice.number,
                "issued_on": local_date(invoice.issued_at).isoformat(),
            },
            "notes": _legal_notes(vat, source["buyer"]),
        }


def attestation_snapshot(
    payment: Payment,
    *,
    number: str,
    issued_on: date,
    language: str,
    corrects: Document | None = None,
) -> dict:
    """A payment attestation of membership dues (corrected after a refund when ``corrects``)."""
    details = association_details()
    with force_locale(language):
        period = service_period(payment)
        return {
            "kind": DocumentKind.ATTESTATION.value,
            "title": _("Corrected payment attestation") if corrects else _("Payment attestation"),
            "number": number,
            "issued_on": issued_on.isoformat(),
            "language": language,
            "currency": payment.currency.upper(),
            "seller": seller(details, language),
            "buyer": None,
            "payer": {"name": payment.payer_name or "—", "email": payment.payer_email},
            "attestation": {
                "tier_name": designation(payment),
                "period": _inclusive(period),
                "ended": period is None and payment.refunded_amount > 0,
                "paid": payment.amount,
                "refunded": payment.refunded_amount,
            },
            "paid_on": local_date(payment.succeeded_at or utcnow()).isoformat(),
            "corrects": (
                {"number": corrects.number, "issued_on": local_date(corrects.issued_at).isoformat()}
                if corrects is not None
                else None
            ),
            "notes": [
                {
                    "code": None,
                    "text": _(
                        "These dues bring a counterpart (members-only offers, partner "
                        "discounts): they are not a donation and are not eligible for a tax "
                        "receipt (reçu fiscal) nor for the tax reduction of articles 200 and "
                        "238 bis of the French tax code."
                    ),
                }
            ],
        }


def _visible(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot as printed: the notes meant only for the XML left out."""
    return {**snapshot, "notes": [n for n in snapshot.get("notes", []) if not n.get("hidden")]}


def render(snapshot: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """(PDF, XML) of a snapshot: invoices and credit notes are Factur-X (XML embedded).

    Factur-X identifies the seller by its SIREN: while the association's SIRET is not set
    (admin, association details), invoices are PDF/A without the XML, and a warning says so.
    """
    pdf = document_pdf.render(_visible(snapshot))
    if snapshot["kind"] == DocumentKind.ATTESTATION.value:
        return pdf, None
    if not snapshot["seller"].get("siren"):
        logger.warning(
            "%s issued without Factur-X XML: the association's SIRET is not set",
            snapshot["number"],
        )
        return pdf, None
    xml = facturx.build_xml(snapshot)
    return facturx.embed(pdf, xml, snapshot), xml
