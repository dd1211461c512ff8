"""Treasury pages: the payment ledger, one payment with its timeline and refund form, payouts."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.money import amount_error, format_money, to_minor
from marketplace.payments import documents
from marketplace.payments import refunds as payment_refunds
from marketplace.payments.document_views import pdf_response
from marketplace.payments.models import Payment
from marketplace.security import treasurer_required
from marketplace.treasury import forms, services
from marketplace.treasury import payouts as payout_records
from marketplace.treasury.models import Payout

bp = Blueprint("treasury", __name__, url_prefix="/treasury")


FILTER_NAMES = ("start", "end", "kind", "status", "q", "sort")


@bp.get("/payments")
@treasurer_required
def payments():
    form = forms.PaymentFilterForm(formdata=request.args)
    filters = forms.ledger_filter_values(form)
    q = (form.q.data or "").strip()[:200] if not form.q.errors else ""
    sort = form.sort.data if form.sort.data in services.SORTS else services.DEFAULT_SORT
    page = services.search_payments(
        **filters, q=q, sort=sort, page=max(request.args.get("page", 1, type=int), 1)
    )
    # The pager keeps the filters as they were typed.
    kept = {name: request.args.get(name, "") for name in FILTER_NAMES}
    kept = {name: value for name, value in kept.items() if value}
    csv_args = {name: kept[name] for name in ("start", "end", "kind", "status") if name in kept}
    return render_template(
        "treasury/payments.html",
        form=form,
        page=page,
        filters=kept,
        csv_args=csv_args,
        sort=sort,
        kind_labels=forms.kind_labels(),
        status_labels=forms.status_labels(),
    )


def _render_detail(payment: Payment, form: forms.RefundForm, *, confirming: int | None = None):
    return render_template(
        "treasury/payment.html",
        payment=payment,
        form=form,
        confirming=confirming,
        refundable=services.refundable_amount(payment),
        has_document=documents.has_document(payment),
        # Credit notes and corrected attestations issued for the payment's refunds.
        later_documents=documents.documents_of(payment)[1:],
        timeline=services.timeline(payment),
        kind_labels=forms.kind_labels(),
        status_labels=forms.status_labels(),
    )


@bp.get("/payments/<int:payment_id>")
@treasurer_required
def payment(payment_id: int):
    record = db.get_or_404(Payment, payment_id)
    return _render_detail(record, forms.RefundForm(formdata=None))


@bp.get("/payments/<int:payment_id>/document.pdf")
@treasurer_required
def document(payment_id: int):
    return pdf_response(db.get_or_404(Payment, payment_id))


@bp.post("/payments/<int:payment_id>/refunds")
@treasurer_required
def refund(payment_id: int):
    record = db.get_or_404(Payment, payment_id)
    form = forms.RefundForm()
    if not form.validate():
        return _render_detail(record, form), 422
    refundable = services.refundable_amount(record)
    if refundable <= 0:
        flash(_("Nothing is left to refund on this payment."), "error")
        return redirect(url_for("treasury.payment", payment_id=record.id))
    # Whole minor units of the payment's currency only (12.345 € or 1.5 ¥ is refused).
    message = amount_error(form.amount.data, record.currency)
    if message:
        form.amount.errors = [message]
        return _render_detail(record, form), 422
    amount = to_minor(form.amount.data, record.currency) if form.amount.data is not None else None
    if amount is not None and amount > refundable:
        form.amount.errors = [
            _(
                "At most %(amount)s can be refunded.",
                amount=format_money(refundable, record.currency),
            )
        ]
        return _render_detail(record, form), 422
    if form.confirm.data != "1":
        # First step: show what will be refunded and ask again.
        return _render_detail(record, form, confirming=amount or refundable)
    try:
        refund_row = payment_refunds.refund_payment(
            record.id, amount=amount, reason=form.reason.data.strip(), actor=current_user
        )
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("treasury.payment", payment_id=record.id))
    # refund_payment commits its own work (the Stripe call sits between two transactions).
    amount_text = format_money(refund_row.amount, record.currency)
    if refund_row.status == "succeeded":
        flash(_("Refund of %(amount)s done.", amount=amount_text), "success")
    elif refund_row.stripe_refund_id is None:
        flash(
            _(
                "Stripe did not answer. The refund of %(amount)s is pending: it is checked "
                "with Stripe (with the same key, so it cannot happen twice) before any other "
                "refund of this payment.",
                amount=amount_text,
            ),
            "warning",
        )
    else:
        flash(
            _("Refund of %(amount)s asked: Stripe is processing it.", amount=amount_text), "success"
        )
    return redirect(url_for("treasury.payment", payment_id=record.id))


@bp.get("/payouts")
@treasurer_required
def payouts():
    flagged = request.args.get("flagged") == "1"
    page = services.paginate(
        payout_records.payouts_query(flagged=flagged),
        page=max(request.args.get("page", 1, type=int), 1),
        per_page=payout_records.PAYOUTS_PER_PAGE,
    )
    return render_template(
        "treasury/payouts.html",
        page=page,
        flagged=flagged,
        filters={"flagged": "1"} if flagged else {},
        counts=payout_records.line_counts([payout.id for payout in page.items]),
    )


@bp.get("/payouts/<int:payout_id>")
@treasurer_required
def payout(payout_id: int):
    record = db.get_or_404(Payout, payout_id)
    return render_template(
        "treasury/payout.html",
        payout=record,
        lines=payout_records.payout_lines(record.id),
    )


# Routes of the dashboard and of the exports live in their own modules, on this blueprint.
