"""What the ledger's codes say to people, in the reader's language.

The ledger keeps codes (a payment's kind and subject, Stripe's decline and refund failure
codes, flags); pages, mails and the exceptions queue turn them into sentences here, through
Flask-Babel, so a French reader never meets "Payment received", "Membership young, 12 months"
or Stripe's English error messages.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.payments.models import Payment, PaymentKind


def subject_names(*, name_fr: str | None, name_en: str | None) -> dict[str, str]:
    """The names a payment's subject keeps, in both languages (as they were when bought)."""
    names = {}
    if name_fr:
        names["name_fr"] = name_fr
    if name_en:
        names["name_en"] = name_en
    return names


def _subject_name(payment: Payment) -> str:
    subject = payment.subject or {}
    locale = get_locale()
    first, second = ("en", "fr") if locale is not None and locale.language == "en" else ("fr", "en")
    return str(
        subject.get(f"name_{first}")
        or subject.get(f"name_{second}")
        or subject.get("tier")
        or subject.get("plan")
        or ""
    )


def payment_label(payment: Payment) -> str:
    """What a payment paid for, in the reader's language: ``Adhésion Jeune diplômé, 12 mois``."""
    subject = payment.subject or {}
    name = _subject_name(payment)
    if payment.kind == PaymentKind.MEMBERSHIP:
        months = int(subject.get("months") or 12)
        return ngettext(
            "Membership %(name)s, %(num)d month",
            "Membership %(name)s, %(num)d months",
            months,
            name=name,
        )
    days = int(subject.get("days") or 0)
    if payment.kind == PaymentKind.PARTNER_PLAN:
        return ngettext(
            "Partner plan %(name)s, %(num)d day",
            "Partner plan %(name)s, %(num)d days",
            days,
            name=name,
        )
    if payment.kind == PaymentKind.FEATURED:
        return ngettext(
            "Featured placement %(name)s, %(num)d day",
            "Featured placement %(name)s, %(num)d days",
            days,
            name=name,
        )
    return payment.description


DECLINES = {
    "insufficient_funds": _l("Your card has insufficient funds."),
    "expired_card": _l("Your card has expired."),
    "incorrect_cvc": _l("Your card's security code is incorrect."),
    "incorrect_number": _l("Your card number is incorrect."),
    "processing_error": _l(
        "An error occurred while processing your card. Please try again in a moment."
    ),
    "authentication_required": _l("Your bank asks you to confirm this payment."),
    "payment_intent_authentication_failure": _l("Your bank did not confirm the payment."),
    "card_velocity_exceeded": _l("Your card's limit has been reached."),
}


def decline_text(code: str | None) -> str:
    """A card decline as the payer reads it (Stripe's codes, never its English message)."""
    return str(DECLINES.get(code or "", _l("Your card was declined.")))


REFUND_FAILURES = {
    "charge_already_refunded": _l("Stripe says this payment was already refunded."),
    "amount_too_large": _l("Stripe refuses: more than what is left of the charge."),
    "charge_disputed": _l("The payment is disputed: Stripe refuses refunds until it is closed."),
    "charge_for_pending_refund_disputed": _l(
        "The payer disputed the payment while the refund was pending."
    ),
    "expired_or_canceled_card": _l("The card can no longer receive money (expired or closed)."),
    "lost_or_stolen_card": _l("The card was reported lost or stolen."),
    "insufficient_funds": _l("The Stripe balance could not cover the refund."),
    "declined": _l("The card's bank refused the refund."),
    "unanswered": _l(
        "Stripe did not answer: the refund is checked with Stripe (with the same key) "
        "before any other refund."
    ),
}


def refund_failure_text(code: str | None) -> str:
    """Why Stripe refused a refund, explained to the treasurer."""
    return str(REFUND_FAILURES.get(code or "", _l("Stripe refused the refund.")))


FLAGS = {
    "amount_mismatch": _l("Stripe charged another amount than the ledger's: not delivered."),
    "currency_mismatch": _l("Stripe charged in another currency than the ledger's."),
    "unknown_intent": _l("A PaymentIntent names this payment but is not one of its attempts."),
    "duplicate_charge": _l("The payer was charged twice: refund one of the PaymentIntents."),
    "dispute": _l("The payer disputed the charge with their bank."),
    "dispute_lost": _l(
        "The dispute was lost: the funds and the fee are gone, the benefit was ended."
    ),
    "refund_failed": _l("Stripe refused a refund: the money was not returned."),
    "refund_unanswered": _l("A refund got no answer from Stripe: it is being checked."),
    "missing_at_stripe": _l("Stripe does not know this payment's PaymentIntent."),
}


def flag_text(code: str | None) -> str:
    """A flag of the exceptions queue as a sentence (the detail stays beside it)."""
    return str(FLAGS.get(code or "", _l("Needs a look.")))


def status_text(status: str) -> str:
    """A payment's status as its payer reads it."""
    labels = {
        "pending": _("Pending"),
        "requires_action": _("Waiting for your bank's confirmation"),
        "succeeded": _("Paid"),
        "failed": _("Failed"),
        "canceled": _("Canceled"),
        "partially_refunded": _("Partially refunded"),
        "refunded": _("Refunded"),
    }
    return labels.get(status, _("Under review"))


def refund_status_text(status: str) -> str:
    """A refund's status as people read it."""
    labels = {
        "pending": _("pending"),
        "succeeded": _("done"),
        "failed": _("refused"),
        "merged": _("merged"),
    }
    return labels.get(status, status)


def dispute_status_text(status: str) -> str:
    """A dispute's status at Stripe as the treasurer reads it."""
    labels = {
        "warning_needs_response": _("inquiry, answer needed"),
        "warning_under_review": _("inquiry under review"),
        "warning_closed": _("inquiry closed"),
        "needs_response": _("answer needed"),
        "under_review": _("under review"),
        "won": _("won"),
        "lost": _("lost"),
        "prevented": _("prevented"),
    }
    return labels.get(status, status)


def init_app(app: Flask) -> None:
    """The template helpers of payment wording."""
    app.add_template_global(payment_label, "payment_label")
    app.add_template_global(decline_text, "decline_text")
    app.add_template_global(refund_failure_text, "refund_failure_text")
    app.add_template_global(flag_text, "flag_text")
    app.add_template_global(status_text, "payment_status_text")
    app.add_template_global(refund_status_text, "refund_status_text")
    app.add_template_global(dispute_status_text, "dispute_status_text")
