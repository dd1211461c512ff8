"""Partner payments fulfilled once when the browser's return and Stripe's signed webhooks race,
against a live server (gunicorn, its own database, real commits) and the real localstripe."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.notifications.models import OutboxMessage
from marketplace.payments import documents
from marketplace.payments import sync as payment_sync
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from offers.models import FeaturedPlacement, Offer, OfferStatus
from partners.models import Partner, PartnerMember, PartnerPlanPeriod, PartnerStatus, TeamRole
from tests.conftest import test_config as base_config
from tests.payments import test_webhook_storm as storm
from tests.payments.conftest import event

server = storm.server  # the module's live server (fixture)


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """The rolled-back transaction of tests/conftest.py would hide the races: not here."""


def _partner_with_offer(session: Session) -> tuple[int, int, int]:
    """A new approved partner, its owner and a published offer: (partner, owner, offer) ids."""
    suffix = uuid.uuid4().hex[:8]
    owner = User(
        email=f"race-{suffix}@example.org", password_hash="x", full_name="Race Owner", locale="en"
    )
    partner = Partner(
        name=f"Race {suffix}",
        slug=f"race-{suffix}",
        country="FR",
        contact_name="Race Owner",
        contact_email=owner.email,
        status=PartnerStatus.APPROVED,
    )
    session.add_all([owner, partner])
    session.flush()
    session.add(PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER))
    offer = Offer(
        partner_id=partner.id,
        status=OfferStatus.PUBLISHED,
        title_fr="Offre en course",
        summary_fr="Une offre.",
        description_fr="Une offre.",
        shared_code="RACE",
    )
    session.add(offer)
    session.commit()
    return partner.id, owner.id, offer.id


def _payment(session: Session, kind: PaymentKind, partner_id: int, owner_id: int, subject) -> int:
    owner = session.get(User, owner_id)
    payment = Payment(
        kind=kind,
        status=PaymentStatus.PENDING,
        amount=4000,
        currency="eur",
        payer_id=owner.id,
        payer_name=owner.full_name,
        payer_email=owner.email,
        partner_id=partner_id,
        subject=subject,
        description="Race",
    )
    session.add(payment)
    session.commit()
    return payment.id


def test_browser_return_and_webhooks_racing_fulfil_partner_payments_once(
    server, localstripe, tmp_path
):
    with Session(server.engine) as session:
        partner_id, owner_id, offer_id = _partner_with_offer(session)
        plan_payment = _payment(
            session,
            PaymentKind.PARTNER_PLAN,
            partner_id,
            owner_id,
            {"plan": "annual", "days": 365},
        )
        featured_payment = _payment(
            session,
            PaymentKind.FEATURED,
            partner_id,
            owner_id,
            {"plan": "featured-7", "offer_id": offer_id, "days": 7},
        )
    intents = {}
    for payment_id in (plan_payment, featured_payment):
        intents[payment_id] = storm._intent(localstripe, payment_id)
        with Session(server.engine) as session:
            session.get(Payment, payment_id).stripe_payment_intent_id = intents[payment_id]["id"]
            session.commit()

    database_url = server.engine.url.render_as_string(hide_password=False)
    racer = create_app(
        {
            **base_config(database_url, tmp_path),
            "STRIPE_API_BASE": localstripe,
            "STRIPE_WEBHOOK_SECRET": storm.SECRET,
        }
    )

    def browser_return(payment_id: int) -> str:
        with racer.app_context():
            status = str(payment_sync.sync_payment(payment_id).status)
            documents.issue_due_documents()  # what the page's request does after its commit
            return status

    def webhook(payment_id: int) -> int:
        return storm._deliver(server, event("payment_intent.succeeded", intents[payment_id]))

    with ThreadPoolExecutor(max_workers=16) as pool:
        jobs = []
        for _round in range(4):
            for payment_id in (plan_payment, featured_payment):
                jobs.append(("return", pool.submit(browser_return, payment_id)))
                jobs.append(("hook", pool.submit(webhook, payment_id)))
        results = {(kind, future.result()) for kind, future in jobs}
    assert results == {("return", "succeeded"), ("hook", 200)}
    with racer.app_context():
        from marketplace.extensions import db

        db.engine.dispose()

    with Session(server.engine) as session:
        periods = session.scalars(
            select(PartnerPlanPeriod).where(PartnerPlanPeriod.partner_id == partner_id)
        ).all()
        assert len(periods) == 1
        assert periods[0].payment_id == plan_payment
        assert periods[0].ends_on - periods[0].starts_on == timedelta(days=365)
        placements = session.scalars(
            select(FeaturedPlacement).where(FeaturedPlacement.offer_id == offer_id)
        ).all()
        assert len(placements) == 1
        assert placements[0].ends_at - placements[0].starts_at == timedelta(days=7)
        offer = session.get(Offer, offer_id)
        assert offer.featured_until == placements[0].ends_at
        receipts = session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.template == "payments/receipt",
                OutboxMessage.recipient == session.get(User, owner_id).email,
            )
        )
        assert receipts == 2  # one per payment
        for payment_id in (plan_payment, featured_payment):
            payment = session.get(Payment, payment_id)
            assert payment.status == PaymentStatus.SUCCEEDED
            assert payment.document_number is not None
