"""What partners pay for: partnership periods and featured placements, and their payments.

A PARTNER_PLAN payment's subject is ``{"plan": code, "days": n}``: once paid, the partner gets a
period of ``n`` days that starts where its current one ends (early renewal extends), one per
payment (``partner_plan_periods.payment_id`` is unique). FEATURED payments are fulfilled by
offers/featured.py. Both fulfilments run inside the payment's success transaction, so the
browser return, the webhook and the reconciliation job together fulfil a payment once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db
from marketplace.i18n import localized
from marketplace.money import HOME_CURRENCY
from marketplace.payments.checkout import prepare_card_setup
from marketplace.payments.gateway import SetupIntentInfo
from marketplace.payments.identifiers import digits_only, normalise_vat_number
from marketplace.payments.models import Payment, PaymentKind
from marketplace.payments.services import (
    create_payment,
)
from marketplace.payments.wording import subject_names
from partners.access import active_members
from partners.models import (
    Partner,
    PartnerBillingIdentity,
    PartnerPlan,
    PartnerPlanPeriod,
    PlanKind,
)

logger = logging.getLogger(__name__)

PARTNER_KINDS = (PaymentKind.PARTNER_PLAN, PaymentKind.FEATURED)
PAYMENTS_SHOWN = 100


# ---------------------------------------------------------------- plans


def _on_sale() -> Any:
    """Offered plans: active, and in euros (a plan left in another currency from before plans
    were euros only is not sold: its invoice would not be a French invoice in euros)."""
    return and_(PartnerPlan.active.is_(True), func.upper(PartnerPlan.currency) == HOME_CURRENCY)


def offered_plans(kind: PlanKind | None = None) -> list[PartnerPlan]:
    """The plans partners can buy now, in display order."""
    query = select(PartnerPlan).where(_on_sale())
    if kind is not None:
        query = query.where(PartnerPlan.kind == kind)
    return list(
        db.session.scalars(
            query.order_by(PartnerPlan.kind, PartnerPlan.position, PartnerPlan.amount)
        )
    )


def plan_kind(code: str) -> PlanKind | None:
    """The kind of the offered plan ``code``, or None when no such plan is offered."""
    return db.session.scalar(select(PartnerPlan.kind).where(PartnerPlan.code == code, _on_sale()))


def offered_plan_or_404(code: str, kind: PlanKind) -> PartnerPlan:
    plan = db.session.scalar(
        select(PartnerPlan).where(PartnerPlan.code == code, PartnerPlan.kind == kind, _on_sale())
    )
    if plan is None:
        raise NotFound(_("This plan is not offered."))
    return plan


# ---------------------------------------------------------------- partnership periods


def partnership_end(partner_id: int, *, today: date | None = None) -> date | None:
    """The exclusive end of the partnership covering ``today`` and the periods chained after it."""
    day = today or utcnow().date()
    periods = db.session.scalars(
        select(PartnerPlanPeriod)
        .where(PartnerPlanPeriod.partner_id == partner_id, PartnerPlanPeriod.ends_on > day)
        .order_by(PartnerPlanPeriod.starts_on, PartnerPlanPeriod.id)
    ).all()
    end: date | None = None
    for period in periods:
        if end is None:
            if period.starts_on > day:
                return None  # only a future period: nothing covers today
            end = period.ends_on
        elif period.starts_on <= end:
            end = max(end, period.ends_on)
        else:
            break
    return end


def partnership_last_day(partner_id: int, *, today: date | None = None) -> date | None:
    """The last day the partnership covers (``ends_on`` is exclusive), or None."""
    end = partnership_end(partner_id, today=today)
    return end - timedelta(days=1) if end is not None else None


def official_partner_ids(
    *, among: Iterable[int] | None = None, today: date | None = None
) -> frozenset[int]:
    """Partners with a partnership period covering today, out of ``among`` when given (one
    query; a listing asks only about the partners of the offers it shows)."""
    day = today or utcnow().date()
    query = select(PartnerPlanPeriod.partner_id).where(
        PartnerPlanPeriod.starts_on <= day, PartnerPlanPeriod.ends_on > day
    )
    if among is not None:
        wanted = {int(partner_id) for partner_id in among}
        if not wanted:
            return frozenset()
        query = query.where(PartnerPlanPeriod.partner_id.in_(wanted))
    return frozenset(db.session.scalars(query.distinct()))


def fulfil_partner_plan_payment(payment: Payment) -> None:
    """Fulfilment of a PARTNER_PLAN payment: ``days`` days from the end of the current period."""
    if db.session.scalar(
        select(PartnerPlanPeriod.id).where(PartnerPlanPeriod.payment_id == payment.id)
    ):
        return
    if payment.partner_id is None:
        logger.warning("partner plan payment %s has no partner: nothing to fulfil", payment.id)
        return
    subject = payment.subject or {}
    plan = db.session.scalar(select(PartnerPlan).where(PartnerPlan.code == subject.get("plan")))
    days = int(subject.get("days") or (plan.days if plan is not None else 0))
    if days < 1:
        logger.warning("partner plan payment %s: no length in %s", payment.id, subject)
        return
    today = utcnow().date()
    start = partnership_end(payment.partner_id, today=today) or today
    period = PartnerPlanPeriod(
        partner_id=payment.partner_id,
        plan_id=plan.id if plan is not None else None,
        starts_on=start,
        ends_on=start + timedelta(days=days),
        payment_id=payment.id,
    )
    db.session.add(period)
    db.session.flush()
    logger.info(
        "partner %s: partnership %s..%s paid by payment %s",
        payment.partner_id,
        period.starts_on,
        period.ends_on,
        payment.id,
    )


def reverse_partner_plan_payment(payment: Payment) -> None:
    """Reversal of a fully refunded PARTNER_PLAN payment: its unused days are taken back."""
    period = db.session.scalar(
        select(PartnerPlanPeriod).where(PartnerPlanPeriod.payment_id == payment.id)
    )
    if period is None:
        return
    today = utcnow().date()
    cut = max(period.starts_on, min(period.ends_on, today))
    unused = period.ends_on - cut
    if unused <= timedelta(0):
        return
    later = db.session.scalars(
        select(PartnerPlanPeriod).where(
            PartnerPlanPeriod.partner_id == period.partner_id,
            PartnerPlanPeriod.id != period.id,
            PartnerPlanPeriod.starts_on >= period.ends_on,
        )
    ).all()
    for queued in later:
        queued.starts_on -= unused
        queued.ends_on -= unused
    period.ends_on = cut  # kept (maybe empty, if it had not started) for the history
    db.session.flush()
    logger.info("partner %s: partnership of payment %s ended", payment.partner_id, payment.id)


def partnership_paid_for(payment: Payment) -> tuple[date, date] | None:
    """The days a PARTNER_PLAN payment bought (printed on its invoice)."""
    period = db.session.scalar(
        select(PartnerPlanPeriod).where(PartnerPlanPeriod.payment_id == payment.id)
    )
    return (period.starts_on, period.ends_on) if period is not None else None


def partnership_designation(payment: Payment) -> str:
    """What a PARTNER_PLAN payment bought, in the document's language (called under it)."""
    subject = payment.subject or {}
    plan = db.session.scalar(select(PartnerPlan).where(PartnerPlan.code == subject.get("plan")))
    name = localized(plan, "name") if plan is not None else str(subject.get("plan") or "")
    days = int(subject.get("days") or (plan.days if plan is not None else 0))
    return _("Partnership: %(name)s (%(days)s days)", name=name, days=days)


# ---------------------------------------------------------------- billing identity

IDENTITY_FIELDS = (
    "legal_name",
    "address",
    "postal_code",
    "city",
    "country",
    "siren",
    "siret",
    "vat_number",
    "po_reference",
)


class BillingIdentityMissing(Conflict):
    code = "billing_identity_missing"
    message = _l("Enter the company's billing identity before the first payment.")


def billing_identity(partner: Partner) -> PartnerBillingIdentity | None:
    """The partner's billing identity, or None before it was entered."""
    return db.session.scalar(
        select(PartnerBillingIdentity).where(PartnerBillingIdentity.partner_id == partner.id)
    )


def require_billing_identity(partner: Partner) -> PartnerBillingIdentity:
    """The identity an invoice needs; ``BillingIdentityMissing`` (409) without one."""
    identity = billing_identity(partner)
    if identity is None:
        raise BillingIdentityMissing()
    return identity


def clean_identity(values: dict[str, Any]) -> dict[str, Any]:
    """The values as stored: trimmed, numbers without spaces, the SIREN taken from a SIRET."""
    cleaned = {name: (values.get(name) or None) for name in IDENTITY_FIELDS}
    for name in ("legal_name", "address", "postal_code", "city", "po_reference"):
        if cleaned[name] is not None:
            cleaned[name] = str(cleaned[name]).strip() or None
    cleaned["country"] = str(cleaned["country"] or "").upper()
    cleaned["siren"] = digits_only(cleaned["siren"]) or None
    cleaned["siret"] = digits_only(cleaned["siret"]) or None
    if cleaned["siret"] and not cleaned["siren"]:
        cleaned["siren"] = cleaned["siret"][:9]
    cleaned["vat_number"] = normalise_vat_number(cleaned["vat_number"]) or None
    return cleaned


def save_billing_identity(
    partner: Partner, *, values: dict[str, Any], actor: User
) -> PartnerBillingIdentity:
    """Create or change the partner's billing identity (checked by the form or the schema);
    audited. Invoices already issued keep the identity they were issued with."""
    cleaned = clean_identity(values)
    identity = billing_identity(partner)
    if identity is None:
        identity = PartnerBillingIdentity(partner_id=partner.id, **cleaned)
        db.session.add(identity)
        changes = {name: [None, value] for name, value in cleaned.items() if value is not None}
    else:
        changes = {
            name: [getattr(identity, name), value]
            for name, value in cleaned.items()
            if getattr(identity, name) != value
        }
        for name, (_old, new) in changes.items():
            setattr(identity, name, new)
    identity.updated_by_id = actor.id
    db.session.flush()
    if changes:
        audit.record(
            "partner.billing_identity",
            actor=actor,
            object_type="partner",
            object_id=partner.id,
            **changes,
        )
    logger.info("partner %s: billing identity saved by user %s", partner.id, actor.id)
    return identity


def billing_buyer(payment: Payment) -> dict[str, Any] | None:
    """The buyer printed on a partner payment's invoice: its billing identity (snapshotted)."""
    if payment.partner_id is None:
        return None
    partner = db.session.get(Partner, payment.partner_id)
    if partner is None:
        return None
    identity = billing_identity(partner)
    if identity is None:
        # Paid before billing identities existed: the company's name and country.
        return {"name": partner.name, "country": partner.country, "email": partner.contact_email}
    return {
        "name": identity.legal_name,
        "address_lines": [line.strip() for line in identity.address.splitlines() if line.strip()],
        "postal_code": identity.postal_code,
        "city": identity.city,
        "country": identity.country,
        "siren": identity.siren,
        "siret": identity.siret,
        "vat_number": identity.vat_number,
        "po_reference": identity.po_reference,
        "email": partner.contact_email,
    }


def billing_team(payment: Payment) -> list[tuple[str, str]]:
    """(e-mail, language) of the paying partner's active representatives."""
    if payment.partner_id is None:
        return []
    return [(user.email, user.locale or "fr") for user in active_members(payment.partner_id)]


# ---------------------------------------------------------------- buying


def buy_partnership(
    partner: Partner, *, user: User, plan_code: str
) -> tuple[Payment, SetupIntentInfo]:
    """Open a PARTNER_PLAN payment of an offered partnership plan and its card SetupIntent
    (the partner's billing identity first: ``BillingIdentityMissing`` without it)."""
    plan = offered_plan_or_404(plan_code, PlanKind.PARTNERSHIP)
    require_billing_identity(partner)
    payment = create_payment(
        kind=PaymentKind.PARTNER_PLAN,
        amount=plan.amount,
        currency=plan.currency,
        payer=user,
        partner_id=partner.id,
        subject={
            "plan": plan.code,
            "days": plan.days,
            **subject_names(name_fr=plan.name_fr, name_en=plan.name_en),
        },
        description=f"Partnership {plan.code}, {plan.days} days",
    )
    return payment, prepare_card_setup(payment, user=user)


def buy_featured(
    partner: Partner, *, user: User, plan_code: str, offer_id: int
) -> tuple[Payment, SetupIntentInfo]:
    """Open a FEATURED payment for one of the partner's published offers (the partner's billing
    identity first: ``BillingIdentityMissing`` without it)."""
    offer = featured_offers().featurable_or_404(partner, offer_id)
    plan = offered_plan_or_404(plan_code, PlanKind.FEATURED)
    require_billing_identity(partner)
    payment = create_payment(
        kind=PaymentKind.FEATURED,
        amount=plan.amount,
        currency=plan.currency,
        payer=user,
        partner_id=partner.id,
        subject={
            "plan": plan.code,
            "offer_id": offer.id,
            "days": plan.days,
            **subject_names(name_fr=plan.name_fr, name_en=plan.name_en),
        },
        description=f"Featured offer {offer.id} ({plan.code}), {plan.days} days",
    )
    return payment, prepare_card_setup(payment, user=user)


# ---------------------------------------------------------------- the billing page


def partner_payment_or_404(partner: Partner, payment_id: int) -> Payment:
    """A payment of ``partner`` (partner kinds only); another partner's id answers 404."""
    payment = db.session.scalar(
        select(Payment).where(
            Payment.id == payment_id,
            Payment.partner_id == partner.id,
            Payment.kind.in_(PARTNER_KINDS),
        )
    )
    if payment is None:
        raise NotFound()
    return payment


def partner_payments(partner: Partner) -> Sequence[Payment]:
    """The partner's payments, newest first (refunds come in one more query)."""
    return db.session.scalars(
        select(Payment)
        .where(Payment.partner_id == partner.id, Payment.kind.in_(PARTNER_KINDS))
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(PAYMENTS_SHOWN)
    ).all()


def partner_periods(partner: Partner) -> Sequence[PartnerPlanPeriod]:
    """Every partnership period of the partner, latest first."""
    return db.session.scalars(
        select(PartnerPlanPeriod)
        .where(PartnerPlanPeriod.partner_id == partner.id)
        .order_by(PartnerPlanPeriod.starts_on.desc(), PartnerPlanPeriod.id.desc())
    ).all()


def plan_names() -> dict[str, str]:
    """Every plan's name in the reader's language, by code (old payments name retired plans)."""
    return {
        plan.code: localized(plan, "name") or plan.code
        for plan in db.session.scalars(select(PartnerPlan))
    }


# ---------------------------------------------------------------- featured offers


@dataclass(frozen=True)
class FeaturedOffers:
    """What the billing pages need of the offers to sell a featured placement; the offers
    package registers it (``register_featured_offers`` in ``offers.init_app``), so partners
    never imports offers. Offers and placements are the offers package's rows."""

    # The partner's own published offer; any other id (or state) raises NotFound.
    featurable_or_404: Callable[[Partner, int], Any]
    # The partner's published offers (the ones that can be featured), newest first.
    published: Callable[[Partner], Sequence[Any]]
    # The placements of the partner's offers with their offer, latest first.
    placements: Callable[[Partner], list[tuple[Any, Any]]]
    # The offers that FEATURED payments were for, by id (one query).
    of_payments: Callable[[Sequence[Payment]], dict[int, Any]]
    # True while a paid placement of the offer runs (``now`` defaults to the current time).
    is_featured: Callable[..., bool]


_featured_offers: list[FeaturedOffers] = []


def register_featured_offers(featured: FeaturedOffers) -> None:
    """The offers package: how the billing pages find offers and their placements."""
    _featured_offers[:] = [featured]


def featured_offers() -> FeaturedOffers:
    """The registered featured offers (the offers package is part of every app)."""
    return _featured_offers[0]
