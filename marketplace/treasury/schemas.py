"""Treasury API schemas: the ledger, refunds, payouts and the dashboard's figures."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from marketplace.api import REASONABLE_DATE
from marketplace.payments.models import PaymentKind, PaymentStatus
from marketplace.treasury import dashboard, services


class PeriodQuerySchema(Schema):
    """A period of days, both ends included."""

    class Meta:
        unknown = EXCLUDE

    start = fields.Date(
        data_key="from", load_default=None, allow_none=True, validate=REASONABLE_DATE
    )
    end = fields.Date(data_key="to", load_default=None, allow_none=True, validate=REASONABLE_DATE)


class PaymentQuerySchema(PeriodQuerySchema):
    """Filters of the ledger (the period is the creation day)."""

    kind = fields.Enum(PaymentKind, by_value=True, load_default=None, allow_none=True)
    status = fields.Enum(PaymentStatus, by_value=True, load_default=None, allow_none=True)
    q = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "payer name or e-mail, document number or Stripe id"},
    )
    sort = fields.String(
        load_default=services.DEFAULT_SORT,
        validate=validate.OneOf(services.SORTS),
        metadata={"description": "date, amount or status; a leading '-' sorts descending"},
    )


class RefundSchema(Schema):
    """A refund as the treasury sees it."""

    id = fields.Integer(dump_only=True)
    payment_id = fields.Integer(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    reason = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    stripe_refund_id = fields.String(dump_only=True, allow_none=True)
    failure_message = fields.String(dump_only=True, allow_none=True)
    created_by_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)


class TreasuryPaymentSchema(Schema):
    """A ledger line with what the treasurer needs."""

    id = fields.Integer(dump_only=True)
    kind = fields.Enum(PaymentKind, by_value=True, dump_only=True)
    status = fields.Enum(PaymentStatus, by_value=True, dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    currency = fields.String(dump_only=True)
    refunded_amount = fields.Integer(dump_only=True)
    stripe_fee = fields.Integer(dump_only=True, allow_none=True)
    payer_id = fields.Integer(dump_only=True, allow_none=True)
    payer_name = fields.String(dump_only=True)
    payer_email = fields.String(dump_only=True, allow_none=True)
    partner_id = fields.Integer(dump_only=True, allow_none=True)
    description = fields.String(dump_only=True)
    flag = fields.String(dump_only=True, allow_none=True)
    document_number = fields.String(dump_only=True, allow_none=True)
    stripe_payment_intent_id = fields.String(dump_only=True, allow_none=True)
    stripe_charge_id = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    succeeded_at = fields.DateTime(dump_only=True, allow_none=True)
    refunds = fields.List(fields.Nested(RefundSchema), dump_only=True)


class PayoutLineSchema(Schema):
    """A balance transaction of a payout and the ledger row it matched."""

    balance_transaction_id = fields.String(dump_only=True)
    type = fields.String(dump_only=True)
    source_id = fields.String(dump_only=True, allow_none=True)
    amount = fields.Integer(dump_only=True)
    fee = fields.Integer(dump_only=True)
    net = fields.Integer(dump_only=True)
    currency = fields.String(dump_only=True)
    payment_id = fields.Integer(dump_only=True, allow_none=True)
    refund_id = fields.Integer(dump_only=True, allow_none=True)


class PayoutSchema(Schema):
    """A Stripe payout with its lines; ``flag`` says why it does not reconcile."""

    id = fields.Integer(dump_only=True)
    stripe_payout_id = fields.String(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    currency = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    arrival_date = fields.DateTime(dump_only=True, allow_none=True)
    lines_total = fields.Integer(dump_only=True, allow_none=True)
    flag = fields.String(dump_only=True, allow_none=True)
    flag_detail = fields.String(dump_only=True, allow_none=True)
    lines = fields.List(fields.Nested(PayoutLineSchema), dump_only=True)


class PayoutQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    flagged = fields.Boolean(load_default=False)


class RefundRequestSchema(Schema):
    """``amount`` omitted: refund everything left."""

    class Meta:
        unknown = EXCLUDE

    # Whole minor units only: 1.5 is refused, never truncated to 1.
    amount = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "minor units of the payment's currency"},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255))


class SummaryQuerySchema(PeriodQuerySchema):
    """A period (days in Europe/Paris, both included) and, optionally, a monthly series."""

    months = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(dashboard.SERIES_MONTHS),
        metadata={"description": "add a monthly series of 12 or 24 months ending with `to`"},
    )

    @validates_schema
    def check_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("`from` must not be after `to`.", "from")


class KindSumsSchema(Schema):
    kind = fields.String(dump_only=True)
    currency = fields.String(dump_only=True)
    gross = fields.Integer(dump_only=True)
    fees = fields.Integer(dump_only=True)
    refunds = fields.Integer(dump_only=True)
    disputes = fields.Integer(dump_only=True)
    dispute_fees = fields.Integer(dump_only=True)
    net = fields.Integer(dump_only=True)
    count = fields.Integer(dump_only=True)


class SumsSchema(Schema):
    """Amounts in minor units of the enclosing currency (the euro, as Stripe settled it)."""

    gross = fields.Integer(dump_only=True)
    fees = fields.Integer(dump_only=True)
    refunds = fields.Integer(dump_only=True)
    disputes = fields.Integer(
        dump_only=True, metadata={"description": "funds withdrawn less funds reinstated"}
    )
    dispute_fees = fields.Integer(dump_only=True)
    net = fields.Integer(dump_only=True)
    count = fields.Integer(dump_only=True, metadata={"description": "payments that succeeded"})
    refund_count = fields.Integer(dump_only=True)


class OriginalSchema(Schema):
    """Payments charged in another currency: their own amount, what Stripe settled in euros."""

    currency = fields.String(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units of currency"})
    settled = fields.Integer(dump_only=True, metadata={"description": "euro cents"})
    count = fields.Integer(dump_only=True)
    unsettled = fields.Integer(dump_only=True)


class CurrencyTotalsSchema(SumsSchema):
    currency = fields.String(dump_only=True)
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(SumsSchema), dump_only=True)
    originals = fields.List(fields.Nested(OriginalSchema), dump_only=True)


class MonthSchema(Schema):
    month = fields.Method("month_key", dump_only=True, metadata={"description": "YYYY-MM"})
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(SumsSchema), dump_only=True)
    total = fields.Nested(SumsSchema, dump_only=True)

    def month_key(self, point: dashboard.MonthPoint) -> str:
        return point.month.strftime("%Y-%m")


class CurrencySeriesSchema(Schema):
    currency = fields.String(dump_only=True)
    months = fields.List(fields.Nested(MonthSchema), dump_only=True, attribute="points")


class MembershipCountsSchema(Schema):
    active = fields.Integer(dump_only=True)
    grace = fields.Integer(dump_only=True)
    lapsed = fields.Integer(dump_only=True)
    ending_soon = fields.Integer(
        dump_only=True, metadata={"description": "active, not covered 30 days from today"}
    )


class FailedSchema(Schema):
    count = fields.Integer(dump_only=True)


class DisputesSchema(Schema):
    open = fields.Integer(dump_only=True, metadata={"description": "not closed at Stripe"})
    in_period = fields.Integer(dump_only=True)
    payouts_failed = fields.Integer(
        dump_only=True, metadata={"description": "payouts the bank sent back"}
    )


class SummarySchema(Schema):
    start = fields.Date(data_key="from", dump_only=True, allow_none=True)
    end = fields.Date(data_key="to", dump_only=True, allow_none=True)
    by_kind = fields.List(fields.Nested(KindSumsSchema), dump_only=True)
    totals = fields.List(fields.Nested(CurrencyTotalsSchema), dump_only=True)
    series = fields.List(
        fields.Nested(CurrencySeriesSchema),
        dump_only=True,
        metadata={"description": "only with `months`"},
    )
    memberships = fields.Nested(MembershipCountsSchema, dump_only=True)
    failed = fields.Nested(FailedSchema, dump_only=True)
    disputes = fields.Nested(DisputesSchema, dump_only=True)
