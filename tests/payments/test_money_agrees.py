"""Issues 12 and 14 end to end: the ledger, the treasury dashboard, the issued documents and the
FEC agree to the cent with what Stripe's balance says.

A live app (gunicorn, a fresh database of its own) receives the strict Stripe's real signed
webhooks. Against it: a membership paid by card, a featured placement paid with a 3-D Secure
card after a declined one, a partial refund of the placement made directly against Stripe
("in Stripe's dashboard", not through our refund service) and a lost dispute of the
membership. The expected money is read from Stripe's own balance transactions, not written
here.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from flask import Flask
from lxml import etree
from sqlalchemy import select

from marketplace import create_app
from marketplace.accounts.models import AlumniProfile, User, VerificationStatus
from marketplace.catalog.models import School
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership import services as membership_services
from marketplace.membership.models import Membership, MembershipTier
from marketplace.payments import checkout, documents, refunds, sync
from marketplace.payments.document_models import Document, DocumentKind
from marketplace.payments.models import (
    AssociationDetails,
    Dispute,
    Payment,
    PaymentStatus,
    Refund,
)
from marketplace.treasury import accounting, dashboard, exports, fec
from offers.models import (
    Audience,
    FeaturedPlacement,
    LimitPeriod,
    Offer,
    OfferStatus,
    RedemptionMethod,
)
from partners import billing
from partners.models import (
    Partner,
    PartnerBillingIdentity,
    PartnerMember,
    PartnerPlan,
    PartnerStatus,
    PlanKind,
    TeamRole,
)
from tests.conftest import free_port
from tests.conftest import test_config as base_config
from tests.live_server import serve
from tests.payments.conftest import DECLINED, THREE_D_SECURE, VISA, stripe_api
from tests.payments.test_card_attempts import _authenticate
from tests.payments.test_membership_api import confirm_setup

SECRET = "whsec_money_agrees"
HOOK = "money-agrees"
CII = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """The live server commits for real in its own database: no rolled-back transaction."""


@pytest.fixture(scope="module")
def live(make_database, tmp_path_factory, localstripe: str) -> Iterator[tuple[str, Flask]]:
    """The served app receiving the strict Stripe's webhooks, and an app on the same database
    for the test to play the member, the partner and the treasurer."""
    folder = tmp_path_factory.mktemp("money")
    with serve(
        make_database,
        folder,
        STRIPE_API_BASE=localstripe,
        STRIPE_SECRET_KEY="sk_test_localstripe",
        STRIPE_WEBHOOK_SECRET=SECRET,
        RATELIMIT_ENABLED="false",
    ) as server:
        requests.post(
            f"{localstripe}/_config/webhooks/{HOOK}",
            data={"url": f"{server.url}/payments/stripe/webhook", "secret": SECRET},
            timeout=10,
        ).raise_for_status()
        database_url = server.engine.url.render_as_string(hide_password=False)
        player = create_app(
            {
                **base_config(database_url, folder / "player"),
                "STRIPE_API_BASE": localstripe,
                "STRIPE_WEBHOOK_SECRET": SECRET,
            }
        )
        try:
            yield server.url, player
        finally:
            # Later tests' events must not go to a server that is gone.
            requests.post(
                f"{localstripe}/_config/webhooks/{HOOK}",
                data={"url": f"http://127.0.0.1:{free_port()}/", "secret": SECRET},
                timeout=10,
            )
            with player.app_context():
                db.engine.dispose()


def _world(app: Flask) -> dict[str, int]:
    """The association, a tier, a featured plan, a verified alumnus, a French partner with its
    billing identity and a published offer."""
    suffix = uuid.uuid4().hex[:6]
    with app.app_context():
        db.session.add(
            AssociationDetails(
                name="Amicale des lycées français (test)",
                address="3 rue de l'Essai",
                postal_code="75001",
                city="Paris",
                country="FR",
                siret="12345678200010",
                rna="W751234567",
                email="tresor@example.org",
                vat_regime="franchise",
            )
        )
        tier = MembershipTier(
            code=f"standard-{suffix}", name_fr="Standard", name_en="Standard", amount=4000
        )
        plan = PartnerPlan(
            code=f"featured-7-{suffix}",
            kind=PlanKind.FEATURED,
            name_fr="Mise en avant 7 jours",
            name_en="Featured 7 days",
            amount=4900,
            currency="eur",
            days=7,
        )
        school = School(name=f"Lycée Test {suffix}", city="Lisbonne", country="PT")
        member = User(
            email=f"member-{suffix}@example.org",
            password_hash="x",
            full_name="Marie Membre",
            locale="fr",
            email_confirmed_at=utcnow(),
        )
        owner = User(
            email=f"owner-{suffix}@example.org",
            password_hash="x",
            full_name="Olga Owner",
            locale="fr",
            email_confirmed_at=utcnow(),
        )
        db.session.add_all([tier, plan, school, member, owner])
        db.session.flush()
        db.session.add(
            AlumniProfile(
                user=member,
                school_id=school.id,
                graduation_year=2010,
                country="PT",
                city="Lisbonne",
                status=VerificationStatus.VERIFIED,
            )
        )
        partner = Partner(
            name="Voyages Éclair",
            slug=f"voyages-eclair-{suffix}",
            country="FR",
            contact_name="Olga Owner",
            contact_email=owner.email,
            status=PartnerStatus.APPROVED,
        )
        db.session.add(partner)
        db.session.flush()
        db.session.add(PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER))
        db.session.add(
            PartnerBillingIdentity(
                partner_id=partner.id,
                legal_name="Voyages Éclair SAS",
                address="8 avenue du Départ",
                postal_code="69002",
                city="Lyon",
                country="FR",
                siren="732829320",
                siret="73282932000074",
                vat_number="FR44732829320",
            )
        )
        offer = Offer(
            partner_id=partner.id,
            status=OfferStatus.PUBLISHED,
            title_fr="Réduction de 10 % sur les voyages",
            title_en="10% off travel",
            summary_fr="Pour les anciens élèves.",
            description_fr="Valable sur tous les billets.",
            online=True,
            audience=Audience.ALUMNI,
            redemption_method=RedemptionMethod.SHARED_CODE,
            shared_code="ALUMNI10",
            per_member_limit=1,
            limit_period=LimitPeriod.EVER,
            submitted_at=utcnow(),
            published_at=utcnow(),
        )
        db.session.add(offer)
        db.session.commit()
        return {
            "member": member.id,
            "owner": owner.id,
            "partner": partner.id,
            "offer": offer.id,
            "tier": tier.code,
            "plan": plan.code,
        }


def _pay_membership(app: Flask, localstripe: str, world: dict) -> int:
    """The member pays the tier with a card that needs nothing more."""
    with app.app_context():
        member = db.session.get(User, world["member"])
        payment, setup = membership_services.start_checkout(member, tier_code=world["tier"])
        db.session.commit()
        payment_id = payment.id
    method = confirm_setup(localstripe, setup.client_secret, VISA)
    with app.app_context():
        assert checkout.confirm_payment(payment_id, payment_method=method).status == "succeeded"
        documents.issue_due_documents()
    return payment_id


def _pay_featured(app: Flask, localstripe: str, world: dict) -> int:
    """The partner's owner features the offer: a declined card, then a 3-D Secure one."""
    with app.app_context():
        partner = db.session.get(Partner, world["partner"])
        owner = db.session.get(User, world["owner"])
        payment, setup = billing.buy_featured(
            partner, user=owner, plan_code=world["plan"], offer_id=world["offer"]
        )
        db.session.commit()
        payment_id = payment.id
    declined = confirm_setup(localstripe, setup.client_secret, DECLINED)
    with app.app_context(), pytest.raises(checkout.CardRefused):
        checkout.confirm_payment(payment_id, payment_method=declined)
    with app.app_context():
        setup = checkout.retry_card_setup(
            db.session.get(Payment, payment_id), user=db.session.get(User, world["owner"])
        )
        db.session.commit()
    secure = confirm_setup(localstripe, setup.client_secret, THREE_D_SECURE)
    with app.app_context():
        payment = checkout.confirm_payment(payment_id, payment_method=secure)
        assert payment.status == PaymentStatus.REQUIRES_ACTION
        secret = sync.payment_intent_client_secret(payment)
        intent_id = payment.stripe_payment_intent_id
    _authenticate(localstripe, intent_id, secret)
    with app.app_context():
        attempt = checkout.finish_card_payment(db.session.get(Payment, payment_id))
        assert attempt.status == "succeeded"
        documents.issue_due_documents()
    return payment_id


def _wait(app: Flask, strict_stripe, done, what: str, timeout: float = 20.0) -> None:
    """Until the webhooks delivered to the live app have had their effect."""
    deadline = time.monotonic() + timeout
    while True:
        strict_stripe.webhooks.wait_idle()
        with app.app_context():
            if done():
                return
        assert time.monotonic() < deadline, f"webhooks did not bring {what}"
        time.sleep(0.2)


def _stripe_balance(localstripe: str, charges: list[str], dispute_id: str) -> dict[str, int]:
    """What Stripe's balance transactions say of these charges: gross, fees, refunds,
    dispute withdrawals and fees, and the net left in the Stripe balance (euro cents)."""
    money = {"gross": 0, "fees": 0, "refunds": 0, "disputes": 0, "dispute_fees": 0, "net": 0}
    for charge_id in charges:
        charge = stripe_api(
            localstripe, "GET", f"/v1/charges/{charge_id}", expand=["balance_transaction"]
        )
        transaction = charge["balance_transaction"]
        assert transaction["currency"] == "eur"
        money["gross"] += transaction["amount"]
        money["fees"] += transaction["fee"]
        money["net"] += transaction["net"]
        listed = stripe_api(
            localstripe,
            "GET",
            "/v1/refunds",
            charge=charge_id,
            expand=["data.balance_transaction"],
        )
        for refund in listed["data"]:
            if refund["status"] == "succeeded":
                money["refunds"] -= refund["balance_transaction"]["amount"]
                money["net"] += refund["balance_transaction"]["net"]
    dispute = stripe_api(localstripe, "GET", f"/v1/disputes/{dispute_id}")
    for transaction in dispute["balance_transactions"]:
        money["disputes"] -= transaction["amount"]
        money["dispute_fees"] += transaction["fee"]
        money["net"] += transaction["net"]
    return money


def _cents(text: str) -> int:
    return int(Decimal(text.replace(",", ".")) * 100) if text else 0


def _xml_total(xml: bytes, name: str) -> int:
    found = etree.fromstring(xml).find(f".//{CII}{name}")
    assert found is not None, name
    return int(Decimal(found.text) * 100)


def test_ledger_dashboard_documents_and_fec_agree_to_the_cent(
    live, localstripe, strict_stripe, tmp_path: Path
):
    _url, app = live
    strict_stripe.reset()
    world = _world(app)

    membership_id = _pay_membership(app, localstripe, world)
    featured_id = _pay_featured(app, localstripe, world)
    with app.app_context():
        membership_charge = db.session.get(Payment, membership_id).stripe_charge_id
        featured = db.session.get(Payment, featured_id)
        featured_charge = featured.stripe_charge_id
        featured_intent = featured.stripe_payment_intent_id
    assert membership_charge
    assert featured_charge

    # A partial refund made in Stripe's dashboard: only Stripe's webhooks tell the site.
    made = stripe_api(
        localstripe, "POST", "/v1/refunds", payment_intent=featured_intent, amount=1500
    )
    _wait(
        app,
        strict_stripe,
        lambda: (
            db.session.scalar(select(Refund).where(Refund.stripe_refund_id == made["id"]))
            is not None
            and db.session.get(Payment, featured_id).refunded_amount == 1500
        ),
        "the dashboard refund",
    )

    # The member's bank takes the dues back, and the association loses the dispute.
    dispute = strict_stripe.open_dispute(membership_charge)
    strict_stripe.close_dispute(dispute["id"], won=False)
    _wait(
        app,
        strict_stripe,
        lambda: (
            db.session.scalar(
                select(Dispute.status).where(Dispute.stripe_dispute_id == dispute["id"])
            )
            == "lost"
        ),
        "the lost dispute",
    )

    # The nightly work: the refund sweep and the documents a stopped process left.
    with app.app_context():
        refunds.sweep_refunds(utcnow())
        documents.issue_missing_documents(utcnow())
        db.session.commit()

    stripe_money = _stripe_balance(localstripe, [membership_charge, featured_charge], dispute["id"])
    year = date.today().year

    with app.app_context():
        # -- the ledger
        membership = db.session.get(Payment, membership_id)
        featured = db.session.get(Payment, featured_id)
        rows = db.session.scalars(select(Refund).where(Refund.payment_id == featured_id)).all()
        assert [(row.status, row.amount, row.settled_amount) for row in rows] == [
            ("succeeded", 1500, 1500)
        ]
        assert featured.status == PaymentStatus.PARTIALLY_REFUNDED
        assert featured.refunded_amount == 1500
        assert membership.status == PaymentStatus.DISPUTED
        [lost] = membership.disputes
        ledger = {
            "gross": membership.settled_amount + featured.settled_amount,
            "fees": membership.stripe_fee + featured.stripe_fee,
            "refunds": sum(row.settled_amount for row in rows),
            "disputes": lost.withdrawn_amount - lost.reinstated_amount,
            "dispute_fees": lost.withdrawn_fee + lost.reinstated_fee,
        }
        ledger["net"] = (
            ledger["gross"]
            - ledger["fees"]
            - ledger["refunds"]
            - ledger["disputes"]
            - ledger["dispute_fees"]
        )
        assert ledger == stripe_money
        assert ledger["gross"] == 4000 + 4900

        # The lost dispute ended the membership it paid for; the placement still runs.
        period = db.session.scalar(select(Membership).where(Membership.payment_id == membership_id))
        assert period is None or period.ends_on <= date.today()
        placement = db.session.scalar(
            select(FeaturedPlacement).where(FeaturedPlacement.payment_id == featured_id)
        )
        assert placement is not None
        assert placement.ends_at > utcnow()

        # -- the treasury dashboard
        [figures] = dashboard.period_figures(start=date(year, 1, 1), end=date(year, 12, 31))
        assert figures.currency == "EUR"
        sums = figures.total
        assert {
            "gross": sums.gross,
            "fees": sums.fees,
            "refunds": sums.refunds,
            "disputes": sums.disputes,
            "dispute_fees": sums.dispute_fees,
            "net": sums.net,
        } == stripe_money

        # -- the documents
        issued = db.session.scalars(select(Document).order_by(Document.id)).all()
        by_kind: dict[DocumentKind, list[Document]] = {}
        for document in issued:
            by_kind.setdefault(document.kind, []).append(document)
        [invoice] = by_kind[DocumentKind.INVOICE]
        [credit_note] = by_kind[DocumentKind.CREDIT_NOTE]
        attestations = by_kind[DocumentKind.ATTESTATION]
        assert invoice.payment_id == featured_id
        assert invoice.total == featured.amount
        assert _xml_total(invoice.xml, "GrandTotalAmount") == featured.amount
        assert credit_note.corrects_id == invoice.id
        assert credit_note.total == 1500
        assert _xml_total(credit_note.xml, "GrandTotalAmount") == 1500
        assert attestations[0].payment_id == membership_id
        assert attestations[0].total == membership.amount
        # Invoiced less credited is what the partner finally paid.
        assert invoice.total - credit_note.total == featured.amount - featured.refunded_amount

        # -- the FEC: every entry balanced, the clearing account moves as the Stripe balance
        lines = list(fec.fec_lines(year))
        header, body = lines[0], lines[1:]
        column = {name: index for index, name in enumerate(header)}
        chart = accounting.chart()
        balances: dict[str, int] = {}
        by_piece: dict[str, int] = {}
        entries: dict[str, int] = {}
        for line in body:
            amount = _cents(line[column["Debit"]]) - _cents(line[column["Credit"]])
            balances[line[column["CompteNum"]]] = (
                balances.get(line[column["CompteNum"]], 0) + amount
            )
            entries[line[column["EcritureNum"]]] = (
                entries.get(line[column["EcritureNum"]], 0) + amount
            )
            if line[column["CompteNum"]] == chart[accounting.STRIPE_CLEARING].number:
                piece = line[column["PieceRef"]]
                by_piece[piece] = by_piece.get(piece, 0) + amount
        assert set(entries.values()) == {0}
        assert balances[chart[accounting.STRIPE_CLEARING].number] == stripe_money["net"]
        assert balances[chart[accounting.STRIPE_FEES].number] == (
            stripe_money["fees"] + stripe_money["dispute_fees"]
        )
        assert balances[chart[accounting.DISPUTES].number] == stripe_money["disputes"]
        assert -balances[chart["featured"].number] == invoice.total - credit_note.total
        assert -balances[chart["membership"].number] == attestations[0].total
        # The invoice's and the credit note's numbers are the pieces of their sale and refund.
        assert by_piece[invoice.number] == invoice.total - featured.stripe_fee
        assert by_piece[credit_note.number] == -credit_note.total

        # -- the payments CSV carries the same euros, disputes included
        text = b"".join(
            exports.stream_csv(exports.payment_csv_lines(start=date(year, 1, 1)))
        ).decode("utf-8-sig")
        table = list(csv.DictReader(io.StringIO(text), delimiter=";"))
        euros = [int(row["amount_eur_minor"] or 0) for row in table]
        assert sum(euros) == stripe_money["net"]
        [refunded] = [row for row in table if row["line"] == "refund"]
        assert (refunded["document"], refunded["amount_eur_minor"]) == (credit_note.number, "-1500")
        lines = {row["line"]: int(row["amount_eur_minor"]) for row in table}
        assert lines["dispute"] == -stripe_money["disputes"]
        assert lines["dispute_fee"] == -stripe_money["dispute_fees"]
