"""Payment wording in the reader's language (issue 12, finding 11): a French payer reads
"Paiement reçu", "Adhésion Jeune diplômé, 12 mois" and "15,00 €", never the ledger's English
description or Stripe's English messages; the treasurer reads a refund's outcome and a
refused refund's reason in French too."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.membership.services import start_checkout
from marketplace.payments import checkout, wording
from marketplace.payments.models import Payment, PaymentStatus
from tests.payments.conftest import DECLINED, card, reload


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def french_member(create_user, seed_reference):
    return create_user("francoise@example.org", alumni=True, status="verified", locale="fr")


def _membership(app, user: User, tier: str = "young") -> int:
    with app.app_context():
        payment, _setup = start_checkout(db.session.get(User, user.id), tier_code=tier)
        db.session.commit()
        return payment.id


def test_a_french_payer_reads_the_receipt_in_french(stripe_app, localstripe, french_member, outbox):
    payment_id = _membership(stripe_app, french_member)
    with stripe_app.app_context():
        payment = checkout.confirm_payment(payment_id, payment_method=card(localstripe))
        assert payment.status == PaymentStatus.SUCCEEDED
    [receipt] = [m for m in outbox(to="francoise@example.org") if m.template == "payments/receipt"]
    assert receipt.subject == "Paiement reçu"
    body = plain(receipt.body_text)
    assert "15,00 €" in body
    assert "Adhésion Jeune diplômé, 12 mois" in body
    assert "Membership young" not in body
    assert "15.00 EUR" not in body


def test_the_payment_page_and_a_decline_speak_french(
    stripe_app, client, login, localstripe, french_member
):
    payment_id = _membership(stripe_app, french_member)
    with stripe_app.app_context(), pytest.raises(checkout.CardRefused) as refused:
        checkout.confirm_payment(payment_id, payment_method=card(localstripe, DECLINED))
    assert refused.value.message == "Votre carte a été refusée."
    login(client, french_member)
    html = plain(client.get(f"/payments/{payment_id}").get_data(as_text=True))
    assert "Adhésion Jeune diplômé, 12 mois" in html
    assert 'id="payment-failure">Votre carte a été refusée.' in html
    assert "Your card was declined" not in html
    assert "15,00 €" in html
    assert reload(stripe_app, payment_id).failure_code == "card_declined"


def test_refunds_in_french_for_the_payer_and_the_treasurer(
    stripe_app, localstripe, french_member, client, login, create_user, outbox
):
    payment_id = _membership(stripe_app, french_member, tier="standard")
    with stripe_app.app_context():
        checkout.confirm_payment(payment_id, payment_method=card(localstripe))
    treasurer = create_user("tresoriere-fr@example.org", roles=("treasurer",), locale="fr")
    login(client, treasurer)
    response = client.post(
        f"/treasury/payments/{payment_id}/refunds",
        data={"amount": "10", "reason": "Geste", "confirm": "1"},
        follow_redirects=True,
    )
    html = plain(response.get_data(as_text=True))
    assert "Remboursement de 10,00 € effectué." in html
    assert "(succeeded)" not in html
    [mail] = [m for m in outbox(to="francoise@example.org") if m.template == "payments/refund"]
    assert mail.subject == "Votre paiement a été remboursé"
    assert "10,00 €" in plain(mail.body_text)
    assert "Adhésion Standard, 12 mois" in plain(mail.body_text)


def test_a_refused_refund_is_explained_to_the_treasurer(app):
    with app.test_request_context("/"), force_locale("fr"):
        assert wording.refund_failure_text("charge_disputed") == (
            "Le paiement est contesté : Stripe refuse les remboursements jusqu’à la clôture "
            "du litige."
        )
        assert wording.flag_text("dispute_lost").startswith("Le litige est perdu")
        assert (
            wording.decline_text("insufficient_funds") == "Le solde de votre carte est insuffisant."
        )
        # Unknown codes still read as a sentence, never as Stripe's raw message.
        assert wording.refund_failure_text("something_new") == "Stripe a refusé le remboursement."


def test_labels_of_every_kind(app):
    payment = Payment(kind="featured", subject={"days": 7, "name_fr": "Une semaine"})
    with app.test_request_context("/"), force_locale("fr"):
        assert wording.payment_label(payment) == "Mise en avant Une semaine, 7 jours"
    with app.test_request_context("/"), force_locale("en"):
        assert re.fullmatch(
            r"Featured placement Une semaine, 7 days", wording.payment_label(payment)
        )
