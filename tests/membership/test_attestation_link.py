"""The membership page links each paid period to its payment attestation."""

from datetime import timedelta

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus


def test_paid_period_links_to_its_attestation(app, client, login, create_user):
    member = create_user(alumni=True, status="verified")
    with app.app_context():
        payment = Payment(
            kind=PaymentKind.MEMBERSHIP,
            status=PaymentStatus.SUCCEEDED,
            amount=4000,
            currency="EUR",
            payer_id=member.id,
            payer_name=member.full_name,
            description="Adhésion",
            document_number="AT-2026-000001",
        )
        db.session.add(payment)
        db.session.flush()
        today = utcnow().date()
        db.session.add(
            Membership(
                user_id=member.id,
                starts_on=today,
                ends_on=today + timedelta(days=365),
                source="payment",
                payment_id=payment.id,
            )
        )
        db.session.commit()
        payment_id = payment.id
    login(client, member)
    page = client.get("/membership/")
    assert f'id="attestation-{payment_id}"' in page.text
    assert f"/documents/payments/{payment_id}.pdf" in page.text
