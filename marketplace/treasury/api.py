"""Treasury API: the payment ledger, refunds and period sums (treasurers and admins)."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from flask_smorest.pagination import PaginationParameters
from sqlalchemy.orm import selectinload

from marketplace.api import Blueprint, auth_required
from marketplace.extensions import db
from marketplace.payments import refunds as payment_refunds
from marketplace.payments.models import Payment, Refund
from marketplace.treasury import payouts, services
from marketplace.treasury.models import Payout
from marketplace.treasury.schemas import (
    PaymentQuerySchema,
    PayoutQuerySchema,
    PayoutSchema,
    RefundRequestSchema,
    RefundSchema,
    TreasuryPaymentSchema,
)

bp = Blueprint("treasury_api", __name__, url_prefix="/treasury", description="Treasury")

MAX_PAGE_SIZE = 100


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
