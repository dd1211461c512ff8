"""Treasury API: the payment ledger, refunds and period sums (treasurers and admins)."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from flask_smorest.pagination import PaginationParameters
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy.orm import selectinload

from marketplace.api import REASONABLE_DATE, Blueprint, auth_required
from marketplace.extensions import db
from marketplace.payments import refunds as payment_refunds
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, Refund
from marketplace.treasury import payouts, services
from marketplace.treasury.models import Payout

bp = Blueprint("treasury_api", __name__, url_prefix="/treasury", description="Treasury")

MAX_PAGE_SIZE = 100


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


@bp.get("/payments")
@auth_required(roles=("treasurer",))
@bp.arguments(PaymentQuerySchema, location="query")
@bp.response(200, TreasuryPaymentSchema(many=True))
@bp.paginate(page_size=50, max_page_size=MAX_PAGE_SIZE)
def list_payments(args: dict[str, Any], pagination_parameters: PaginationParameters):
    """The payment ledger filtered by creation day, kind, status and a search, sorted."""
    page = db.paginate(
        services.payments_query(**args),
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        error_out=False,
    )
    pagination_parameters.item_count = page.total or 0
    return list(page.items)


@bp.get("/payments/<int:payment_id>")
@auth_required(roles=("treasurer",))
@bp.response(200, TreasuryPaymentSchema)
@bp.alt_response(404, description="No such payment.")
def get_payment(payment_id: int) -> Payment:
    """One payment of the ledger with its refunds."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        abort(404)
    return payment


@bp.get("/payouts")
@auth_required(roles=("treasurer",))
@bp.arguments(PayoutQuerySchema, location="query")
@bp.response(200, PayoutSchema(many=True))
@bp.paginate(page_size=20, max_page_size=MAX_PAGE_SIZE)
def list_payouts(args: dict[str, Any], pagination_parameters: PaginationParameters):
    """Stripe payouts, latest arrival first, each with its balance transactions."""
    query = payouts.payouts_query(flagged=args["flagged"]).options(selectinload(Payout.lines))
    page = db.paginate(
        query,
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        error_out=False,
    )
    pagination_parameters.item_count = page.total or 0
    return list(page.items)


@bp.post("/payments/<int:payment_id>/refunds")
@auth_required(roles=("treasurer",))
@bp.arguments(RefundRequestSchema)
@bp.response(201, RefundSchema)
@bp.alt_response(404, description="No such payment.")
@bp.alt_response(409, description="Nothing (or less than asked) is left to refund.")
def create_refund(data: dict[str, Any], payment_id: int) -> Refund:
    """Refund a payment in full (no amount) or in part; the refund is recorded and audited."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        abort(404)
    refundable = services.refundable_amount(payment)
    if refundable <= 0 or (data["amount"] or 0) > refundable:
        # Checked again under the row lock by the service; this answer says how much is left.
        abort(409, description=f"At most {refundable} (minor units) can be refunded.")
    return payment_refunds.refund_payment(
        payment_id, amount=data["amount"], reason=data["reason"].strip(), actor=current_user
    )
