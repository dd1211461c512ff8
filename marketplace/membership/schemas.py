"""JSON in and out of the membership APIs (tiers, my membership)."""

from __future__ import annotations

from marshmallow import Schema, fields


class TierSchema(Schema):
    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    currency = fields.String(dump_only=True)
    months = fields.Integer(dump_only=True)


class MembershipStatusSchema(Schema):
    status = fields.String(dump_only=True, metadata={"enum": ["none", "active", "grace", "lapsed"]})
    tier = fields.String(dump_only=True, allow_none=True, metadata={"description": "tier code"})
    valid_until = fields.Date(
        dump_only=True, allow_none=True, metadata={"description": "the last day covered"}
    )


class CheckoutSchema(Schema):
    tier = fields.String(required=True, metadata={"description": "a tier code"})


class CheckoutResultSchema(Schema):
    payment_id = fields.Integer(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    currency = fields.String(dump_only=True)
    setup_intent_client_secret = fields.String(dump_only=True)
    publishable_key = fields.String(dump_only=True)
