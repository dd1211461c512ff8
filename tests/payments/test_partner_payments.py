"""Partner payments on the portal's billing pages, against the real localstripe: an annual
partnership (renewal extends), a featured placement (listed first until it ends), 3-D Secure,
one fulfilment however often the payment is synced or the webhook repeats, full refunds that
take back what was bought, another partner's ids answering 404, and who may download the
invoice."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import pytest
from babel.dates import format_date
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import document_series, documents, refunds, sync
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from offers import featured
from offers.models import FeaturedPlacement, Offer
from partners import billing
from partners.models import PartnerMember, PartnerPlan, PartnerPlanPeriod, PlanKind
from tests.einvoice import long_date, pdf_text
from tests.offers import conftest as offer_fixtures
from tests.partners import conftest as partner_fixtures
from tests.partners.conftest import Team
from tests.payments.conftest import THREE_D_SECURE, VISA, event, sign, stripe_api
from tests.payments.test_membership_api import confirm_setup

# Fixtures of the offer and partner tests, used here too.
create_offer = offer_fixtures.create_offer
create_partner = partner_fixtures.create_partner
add_member = partner_fixtures.add_member

EN = {"Accept-Language": "en"}
PAY_URL = re.compile(r"/partners/billing/pay/(\d+)$")


@pytest.fixture
def plans(app) -> dict[str, int]:
    """The demo's plans: an annual partnership (1,200 €), featured 7 days (49 €) and 30 (149 €)."""
    rows = {
        "annual": PartnerPlan(
            code="annual",
            kind=PlanKind.PARTNERSHIP,
            name_fr="Partenariat annuel",
            name_en="Annual partnership",
            amount=120000,
            currency="eur",
            days=365,
        ),
        "featured-7": PartnerPlan(
            code="featured-7",
            kind=PlanKind.FEATURED,
            name_fr="Mise en avant 7 jours",
            name_en="Featured 7 days",
            amount=4900,
            currency="eur",
            days=7,
        ),
        "featured-30": PartnerPlan(
            code="featured-30",
            kind=PlanKind.FEATURED,
            name_fr="Mise en avant 30 jours",
            name_en="Featured 30 days",
            amount=14900,
            currency="eur",
            days=30,
        ),
        "closed": PartnerPlan(
            code="closed",
            kind=PlanKind.PARTNERSHIP,
            name_fr="Ancien partenariat",
            amount=50000,
            currency="eur",
            days=365,
            active=False,
        ),
    }
    with app.app_context():
        db.session.add_all(rows.values())
        db.session.commit()
        return {code: row.id for code, row in rows.items()}


@pytest.fixture
def team(create_partner: Callable[..., Team]) -> Team:
    return create_partner("Librairie Test")


@pytest.fixture
def offer_of(create_offer) -> Callable[..., int]:
    """``offer_of(team, status="published")`` → the id of a new offer of that partner."""

    def make(team: Team, status: str = "published") -> int:
        partner = SimpleNamespace(id=team.partner_id, name="Librairie Test")
        return create_offer(partner, status=status).id

    return make


def buy(client, url: str) -> tuple[int, str]:
    """Press a buy button; the new payment's id and its card page."""
    response = client.post(url)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    match = PAY_URL.search(response.headers["Location"])
    assert match, response.headers["Location"]
    page = client.get(response.headers["Location"], headers=EN)
    assert page.status_code == 200
    return int(match.group(1)), page.get_data(as_text=True)


def setup_secret(text: str) -> str:
    return re.search(r'data-setup-secret="([^"]+)"', text).group(1)


def pay(client, localstripe: str, payment_id: int, text: str, number: str = VISA) -> dict:
    """What checkout.js does: confirm the card on the SetupIntent, then ask the server to pay."""
    method = confirm_setup(localstripe, setup_secret(text), number)
    answer = client.post(
        f"/partners/billing/pay/{payment_id}/confirm", json={"payment_method": method}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def periods(app, partner_id: int) -> list[tuple]:
    with app.app_context():
        return [
            (row.starts_on, row.ends_on, row.payment_id)
            for row in db.session.scalars(
                select(PartnerPlanPeriod)
                .where(PartnerPlanPeriod.partner_id == partner_id)
                .order_by(PartnerPlanPeriod.starts_on, PartnerPlanPeriod.id)
            )
        ]


def featured_until(app, offer_id: int):
    with app.app_context():
        return db.session.get(Offer, offer_id).featured_until


def placements(app, offer_id: int) -> list[tuple]:
    with app.app_context():
        return [
            (row.starts_at, row.ends_at, row.payment_id)
            for row in db.session.scalars(
                select(FeaturedPlacement)
                .where(FeaturedPlacement.offer_id == offer_id)
                .order_by(FeaturedPlacement.starts_at)
            )
        ]


def test_a_partner_buys_the_annual_partnership_and_renews_early(
    app, client, login, stripe_app, localstripe, plans, team, outbox
):
    login(client, team.owner)
    page = client.get("/partners/billing/", headers=EN).get_data(as_text=True)
    assert 'id="plan-annual"' in page
    assert 'id="plan-closed"' not in page  # a closed plan is not offered
    assert 'data-active="0"' in page
    payment_id, text = buy(client, "/partners/billing/partnership/annual")
    # The membership's card page: Stripe.js, the card element, checkout.js, this blueprint's URLs.
    assert 'id="card-element"' in text
    assert "js/checkout.js" in text
    assert f'data-confirm-url="/partners/billing/pay/{payment_id}/confirm"' in text
    assert "<script>" not in text
    assert pay(client, localstripe, payment_id, text)["status"] == "succeeded"
    today = utcnow().date()
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment.kind == PaymentKind.PARTNER_PLAN
        assert payment.partner_id == team.partner_id
        assert payment.amount == 120000
        # The plan's names as bought, in both languages (the receipt speaks the payer's).
        assert {key: payment.subject[key] for key in ("plan", "days")} == {
            "plan": "annual",
            "days": 365,
        }
        assert payment.subject["name_fr"]
        assert payment.subject["name_en"]
        assert payment.document_number is not None
    assert periods(app, team.partner_id) == [(today, today + timedelta(days=365), payment_id)]
    # Syncing again (the browser's return, reconciliation) fulfils nothing more.
    assert client.post(f"/partners/billing/pay/{payment_id}/sync").get_json()["status"] == (
        "succeeded"
    )
    with app.app_context():
        sync.sync_payment(payment_id)
    assert len(periods(app, team.partner_id)) == 1
    receipts = [m for m in outbox(to=team.owner.email) if m.template == "payments/receipt"]
    assert len(receipts) == 1

    # Renewing early: the new year starts where the current one ends.
    second, text = buy(client, "/partners/billing/partnership/annual")
    assert pay(client, localstripe, second, text)["status"] == "succeeded"
    end = today + timedelta(days=365)
    assert periods(app, team.partner_id) == [
        (today, end, payment_id),
        (end, end + timedelta(days=365), second),
    ]
    page = client.get("/partners/billing/", headers=EN).get_data(as_text=True)
    last_day = end + timedelta(days=364)
    assert f'data-until="{last_day.isoformat()}"' in page
    # Each period is listed with its last day (inclusive), as the invoices print it.
    with app.app_context():
        rows = db.session.scalars(
            select(PartnerPlanPeriod)
            .where(PartnerPlanPeriod.partner_id == team.partner_id)
            .order_by(PartnerPlanPeriod.starts_on)
        ).all()
        listed = [re.search(rf'data-period="{row.id}">([^<]*)<', page)[1] for row in rows]
    first, last = (format_date(day, "medium", locale="en") for day in (today, end - timedelta(1)))
    assert listed[0].startswith(f"{first} → {last}"), listed
    assert f"/documents/payments/{second}.pdf" in page
    assert f'id="payment-{second}" data-status="succeeded"' in page
    assert f"/documents/payments/{second}.pdf" in page
    with app.app_context():
        assert team.partner_id in billing.official_partner_ids()


def test_featured_placement_extends_and_lists_the_offer_first(
    app, client, login, stripe_app, localstripe, plans, team, offer_of, create_partner
):
    offer_id = offer_of(team)
    other_offer = offer_of(create_partner("Another shop"))
    login(client, team.owner)
    portal = client.get(f"/offers/manage/{offer_id}").get_data(as_text=True)
    assert f"/partners/billing/offers/{offer_id}/feature" in portal
    feature = client.get(f"/partners/billing/offers/{offer_id}/feature", headers=EN)
    assert feature.status_code == 200
    assert 'id="plan-featured-7"' in feature.get_data(as_text=True)

    before = utcnow()
    first, text = buy(client, f"/partners/billing/offers/{offer_id}/feature/featured-7")
    assert pay(client, localstripe, first, text)["status"] == "succeeded"
    after = utcnow()
    until = featured_until(app, offer_id)
    assert before + timedelta(days=7) <= until <= after + timedelta(days=7)
    with app.app_context():
        payment = db.session.get(Payment, first)
        assert payment.kind == PaymentKind.FEATURED
        assert {key: payment.subject[key] for key in ("plan", "offer_id", "days")} == {
            "plan": "featured-7",
            "offer_id": offer_id,
            "days": 7,
        }

    # Buying again queues the new days after the running placement.
    second, text = buy(client, f"/partners/billing/offers/{offer_id}/feature/featured-30")
    assert pay(client, localstripe, second, text)["status"] == "succeeded"
    assert featured_until(app, offer_id) == until + timedelta(days=30)
    rows = placements(app, offer_id)
    assert [row[2] for row in rows] == [first, second]
    assert rows[1][0] == rows[0][1] == until
    # The second invoice prints the queued days, in the association's time zone.
    with app.app_context():
        paid = db.session.get(Payment, second)
        start, end = featured.placement_paid_for(paid)
        body = pdf_text(documents.main_document(paid).pdf)
    assert start == until.astimezone(document_series.ACCOUNTING_ZONE).date()
    # The last day printed is the one the site names ("featured until ..."): the placement
    # runs into the day of its end, unless it ends at midnight.
    ends = featured_until(app, offer_id)
    last = (ends - timedelta(microseconds=1)).astimezone(document_series.ACCOUNTING_ZONE).date()
    assert last == end - timedelta(days=1)
    assert f"Period: {long_date(start)} to {long_date(last)} inclusive" in body

    # The public listing puts the featured offer first, with its badge.
    listing = client.get("/offers/", headers=EN).get_data(as_text=True)
    assert listing.index(f'id="offer-{offer_id}"') < listing.index(f'id="offer-{other_offer}"')
    card = listing[listing.index(f'id="offer-{offer_id}"') :]
    assert "data-featured" in card[: card.index("</article>")]
    other_card = listing[listing.index(f'id="offer-{other_offer}"') :]
    assert "data-featured" not in other_card[: other_card.index("</article>")]


def test_three_d_secure_then_the_placement(
    app, client, login, stripe_app, localstripe, plans, team, offer_of
):
    offer_id = offer_of(team)
    login(client, team.owner)
    payment_id, text = buy(client, f"/partners/billing/offers/{offer_id}/feature/featured-7")
    body = pay(client, localstripe, payment_id, text, THREE_D_SECURE)
    assert body["status"] == "requires_action"
    assert featured_until(app, offer_id) is None
    page = client.get(f"/partners/billing/pay/{payment_id}").get_data(as_text=True)
    assert "data-payment-secret=" in page  # "Confirm with my bank" after a reload
    secret = body["payment_intent_client_secret"]
    stripe_api(
        localstripe,
        "POST",
        f"/v1/payment_intents/{secret.split('_secret_')[0]}/_authenticate",
        client_secret=secret,
        success="true",
    )
    assert client.post(f"/partners/billing/pay/{payment_id}/sync").get_json()["status"] == (
        "succeeded"
    )
    assert featured_until(app, offer_id) is not None
    assert len(placements(app, offer_id)) == 1


def test_the_webhook_after_the_page_fulfils_nothing_more(
    app, client, login, stripe_app, localstripe, plans, team, offer_of, webhook_secret
):
    offer_id = offer_of(team)
    login(client, team.owner)
    plan_payment, text = buy(client, "/partners/billing/partnership/annual")
    assert pay(client, localstripe, plan_payment, text)["status"] == "succeeded"
    featured_payment, text = buy(client, f"/partners/billing/offers/{offer_id}/feature/featured-7")
    assert pay(client, localstripe, featured_payment, text)["status"] == "succeeded"
    until = featured_until(app, offer_id)
    for payment_id in (plan_payment, featured_payment, plan_payment, featured_payment):
        with app.app_context():
            intent_id = db.session.get(Payment, payment_id).stripe_payment_intent_id
        intent = stripe_api(localstripe, "GET", f"/v1/payment_intents/{intent_id}")
        body = event("payment_intent.succeeded", intent)
        response = client.post(
            "/payments/stripe/webhook",
            data=body,
            headers={"Stripe-Signature": sign(body, webhook_secret)},
        )
        assert response.status_code == 200
    assert len(periods(app, team.partner_id)) == 1
    assert len(placements(app, offer_id)) == 1
    assert featured_until(app, offer_id) == until


def test_full_refunds_take_back_the_partnership_and_the_placement(
    app, client, login, stripe_app, localstripe, plans, team, offer_of, create_user
):
    offer_id = offer_of(team)
    login(client, team.owner)
    plan_payment, text = buy(client, "/partners/billing/partnership/annual")
    pay(client, localstripe, plan_payment, text)
    renewal, text = buy(client, "/partners/billing/partnership/annual")
    pay(client, localstripe, renewal, text)
    first, text = buy(client, f"/partners/billing/offers/{offer_id}/feature/featured-7")
    pay(client, localstripe, first, text)
    second, text = buy(client, f"/partners/billing/offers/{offer_id}/feature/featured-30")
    pay(client, localstripe, second, text)
    first_end = placements(app, offer_id)[0][1]
    treasurer = create_user("treasurer-partners@example.org", roles=("treasurer",))
    today = utcnow().date()

    with app.app_context():
        # A partial refund changes nothing that was bought.
        refunds.refund_payment(renewal, amount=1000, reason="Goodwill", actor=treasurer)
    assert len(periods(app, team.partner_id)) == 2
    with app.app_context():
        refunds.refund_payment(plan_payment, amount=None, reason="Cancelled", actor=treasurer)
        assert db.session.get(Payment, plan_payment).status == PaymentStatus.REFUNDED
    # The refunded year ends today; the renewal moves up to start today.
    rows = periods(app, team.partner_id)
    assert rows[0][1] == today or rows[0][0] == rows[0][1]
    assert (rows[1][0], rows[1][1]) == (today, today + timedelta(days=365))

    with app.app_context():
        refunds.refund_payment(renewal, amount=None, reason="Cancelled", actor=treasurer)
        refunds.refund_payment(first, amount=None, reason="Cancelled", actor=treasurer)
    with app.app_context():
        assert billing.partnership_end(team.partner_id) is None
        assert team.partner_id not in billing.official_partner_ids()
    # The 30 days queued after the refunded 7 move up: they run from now.
    remaining = featured_until(app, offer_id)
    now = utcnow()
    assert remaining < first_end + timedelta(days=30)
    assert now + timedelta(days=30) - timedelta(minutes=5) < remaining <= now + timedelta(days=30)
    with app.app_context():
        refunds.refund_payment(second, amount=None, reason="Cancelled", actor=treasurer)
    assert featured_until(app, offer_id) is None
    listing = client.get("/offers/").get_data(as_text=True)
    assert "data-featured" not in listing


def test_another_partners_ids_answer_404(
    app, client, login, stripe_app, localstripe, plans, team, offer_of, create_partner
):
    offer_id = offer_of(team)
    draft_id = offer_of(team, status="draft")
    login(client, team.owner)
    payment_id, _text = buy(client, "/partners/billing/partnership/annual")
    other = create_partner("Rival")
    other_offer = offer_of(other)
    rival = login(app.test_client(), other.owner)
    for url in (
        f"/partners/billing/pay/{payment_id}",
        f"/partners/billing/offers/{offer_id}/feature",
        "/partners/billing/pay/999999999",
    ):
        assert rival.get(url).status_code == 404, url
    for url in (
        f"/partners/billing/pay/{payment_id}/confirm",
        f"/partners/billing/pay/{payment_id}/sync",
        f"/partners/billing/pay/{payment_id}/retry",
        f"/partners/billing/offers/{offer_id}/feature/featured-7",
    ):
        assert rival.post(url, json={"payment_method": "pm_x"}).status_code == 404, url
    rival_page = rival.get("/partners/billing/").get_data(as_text=True)
    assert f'id="payment-{payment_id}"' not in rival_page
    # Own ids that cannot be bought: another's offer, a draft, an unknown or closed plan, a
    # featured plan used as a partnership.
    for url in (
        f"/partners/billing/offers/{other_offer}/feature/featured-7",
        f"/partners/billing/offers/{draft_id}/feature/featured-7",
        f"/partners/billing/offers/{offer_id}/feature/annual",
        "/partners/billing/partnership/closed",
        "/partners/billing/partnership/featured-7",
        "/partners/billing/partnership/nope",
    ):
        assert client.post(url).status_code == 404, url
    assert client.get(f"/partners/billing/offers/{draft_id}/feature").status_code == 404
    # The membership pages do not serve a partner payment either.
    assert client.get(f"/membership/pay/{payment_id}").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 1


def test_every_active_team_member_and_the_treasurer_download_the_invoice(
    app,
    client,
    login,
    stripe_app,
    localstripe,
    plans,
    team,
    add_member,
    create_partner,
    create_user,
):
    login(client, team.owner)
    payment_id, text = buy(client, "/partners/billing/partnership/annual")
    pdf_url = f"/documents/payments/{payment_id}.pdf"
    assert client.get(pdf_url).status_code == 404  # no document before the payment succeeds
    pay(client, localstripe, payment_id, text)
    owner_pdf = client.get(pdf_url)
    assert owner_pdf.status_code == 200
    assert owner_pdf.data.startswith(b"%PDF")
    assert "facture" in owner_pdf.headers["Content-Disposition"]

    manager, _id = add_member(team, "manager")
    assert login(app.test_client(), manager).get(pdf_url).status_code == 200
    gone, gone_member = add_member(team, "manager")
    with app.app_context():
        db.session.get(PartnerMember, gone_member).disabled_at = utcnow()
        db.session.commit()
    assert login(app.test_client(), gone).get(pdf_url).status_code == 404
    rival = create_partner("Rival")
    assert login(app.test_client(), rival.owner).get(pdf_url).status_code == 404
    stranger = create_user("stranger@example.org", status="verified")
    assert login(app.test_client(), stranger).get(pdf_url).status_code == 404
    treasurer = create_user("tresorier@example.org", roles=("treasurer",))
    assert login(app.test_client(), treasurer, mfa=True).get(pdf_url).status_code == 200
    # The invoice says which days the partnership covers.
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        bought = billing.partnership_paid_for(payment)
        body = pdf_text(documents.main_document(payment).pdf)
    assert bought is not None
    last = bought[1] - timedelta(days=1)
    assert f"Period: {long_date(bought[0])} to {long_date(last)} inclusive" in body


def test_a_manager_pays_too(app, client, login, stripe_app, localstripe, plans, team, add_member):
    manager, _id = add_member(team, "manager")
    login(client, manager)
    payment_id, text = buy(client, "/partners/billing/partnership/annual")
    assert pay(client, localstripe, payment_id, text)["status"] == "succeeded"
    with app.app_context():
        assert db.session.get(Payment, payment_id).payer_id == manager.id
    assert len(periods(app, team.partner_id)) == 1
    owner = login(app.test_client(), team.owner)
    assert f'id="payment-{payment_id}" data-status="succeeded"' in owner.get(
        "/partners/billing/"
    ).get_data(as_text=True)


def test_pending_partners_and_strangers_cannot_buy(
    app, client, login, plans, create_partner, create_user
):
    pending = create_partner("Waiting", status="pending")
    login(client, pending.owner)
    assert client.get("/partners/billing/").status_code in (302, 403)
    assert client.post("/partners/billing/partnership/annual").status_code in (302, 403)
    stranger = login(app.test_client(), create_user("nobody@example.org", status="verified"))
    assert stranger.get("/partners/billing/").status_code == 403
    assert stranger.post("/partners/billing/partnership/annual").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 0
    assert isinstance(pending.owner, User)
