"""Helpers of the payment document tests: the year they number in, the association's details,
a refund recorded as the Stripe sync does, a payment's main document."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments import documents
from marketplace.payments.document_models import Document
from marketplace.payments.models import (
    Payment,
    Refund,
)

# Years no other test uses, so exact numbers can be asserted.
YEAR = 2091
ASSOCIATION = {
    "name": "Amicale des lycées français (test)",
    "address": "3 rue de l'Essai",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
    "siret": "12345678200010",
    "rna": "W751234567",
    "email": "tresor@example.org",
    "vat_regime": "franchise",
}


def refund(app, payment_id: int, amount: int) -> Document:
    """Record a succeeded refund as the Stripe sync does; the document it issued."""
    from marketplace.payments import gateway, refunds

    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        row = Refund(payment_id=payment_id, amount=amount, reason="test", status="pending")
        db.session.add(row)
        db.session.flush()
        info = gateway.RefundInfo(
            id=f"re_doc_{uuid.uuid4().hex[:10]}",
            amount=amount,
            status="succeeded",
            charge=None,
            payment_intent=payment.stripe_payment_intent_id,
        )
        refunds.record_stripe_refund(payment, info, row)
        db.session.commit()
        # The document is issued after the commit, in a transaction of its own.
        assert documents.issue_due_documents() == 1
        document = db.session.scalar(select(Document).where(Document.refund_id == row.id))
        db.session.expunge(document)
        return document


def main(app, payment_id: int) -> Document:
    """The payment's invoice or attestation, its stored files loaded."""
    with app.app_context():
        document = documents.main_document(db.session.get(Payment, payment_id))
        db.session.refresh(document, ["pdf", "xml", "snapshot"])  # the deferred files
        db.session.expunge(document)
        return document
