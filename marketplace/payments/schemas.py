"""JSON in and out of the payments API."""

from __future__ import annotations

from marshmallow import Schema, fields


class ConfirmSchema(Schema):
    payment_method = fields.String(
        required=True, metadata={"description": "the payment method the SetupIntent confirmed"}
    )


class ConfirmResultSchema(Schema):
    status = fields.String(
        dump_only=True, metadata={"enum": ["succeeded", "requires_action", "failed", "pending"]}
    )
    payment_intent_client_secret = fields.String(
        dump_only=True, metadata={"description": "for confirmCardPayment (3-D Secure)"}
    )
    message = fields.String(dump_only=True)


class DocumentLinkSchema(Schema):
    kind = fields.String(
        dump_only=True, metadata={"enum": ["invoice", "credit_note", "attestation"]}
    )
    number = fields.String(dump_only=True)
    issued_at = fields.DateTime(dump_only=True)
    pdf_url = fields.String(dump_only=True, metadata={"description": "the frozen PDF"})
    xml_url = fields.String(
        dump_only=True, metadata={"description": "the Factur-X CII XML (not for attestations)"}
    )


class PaymentSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    currency = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    receipt_url = fields.String(dump_only=True, metadata={"description": "the PDF document"})
    documents = fields.List(fields.Nested(DocumentLinkSchema), dump_only=True)
