"""Fixtures of the privacy tests: a person with data in every part of the service.

``person_with_data(label)`` makes a verified alumnus with an evidence file on disk, a
membership, a payment with a refund, a saved card, a redemption with its code, an application
with its CV on disk, a saved search, a consent, a partner membership (as a manager) and an
audit entry; every text carries ``label`` so a test can tell whose data it sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask

from marketplace import audit
from marketplace.accounts.models import AlumniProfile, ApiToken, User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.notifications import alerts
from marketplace.payments.models import Payment, PaymentKind, PaymentProfile, PaymentStatus, Refund
from marketplace.privacy import services
from offers.models import Redemption
from tests.jobs.conftest import create_application, create_job  # noqa: F401
from tests.notifications.conftest import create_search  # noqa: F401
from tests.offers.conftest import add_partner_member, create_offer, create_partner  # noqa: F401

EVIDENCE = b"%PDF-1.4 evidence of "


@dataclass
class Person:
    user: User
    label: str
    email: str
    code: str
    evidence: Path
    cv: Path
    payment_id: int
    application_id: int
    search_id: int
    partner_id: int


@pytest.fixture
def person_with_data(
    app: Flask, create_user, request: pytest.FixtureRequest
) -> Callable[..., Person]:
    fixture = request.getfixturevalue
    make_create_partner = fixture("create_partner")
    make_add_partner_member = fixture("add_partner_member")
    make_create_offer = fixture("create_offer")
    make_create_job = fixture("create_job")
    make_create_application = fixture("create_application")

    def make(label: str, *, locale: str = "fr") -> Person:
        email = f"{label.lower()}-{uuid.uuid4().hex[:6]}@example.org"
        user = create_user(
            email, full_name=f"{label} Person", alumni=True, status="verified", locale=locale
        )
        partner = make_create_partner(name=f"Employer of {label}")
        make_add_partner_member(partner, user)
        offer = make_create_offer(partner, title_en=f"Deal for {label}")
        job = make_create_job(partner, title_en=f"Job for {label}")
        application = make_create_application(job, user, cover_letter=f"Letter of {label}")
        folder = Path(app.config["UPLOAD_FOLDER"])
        cv = folder / "cvs" / application.cv_filename
        code = f"CODE-{label.upper()}-{uuid.uuid4().hex[:4]}"
        with app.app_context():
            user = db.session.get(User, user.id)
            evidence_name = f"{uuid.uuid4().hex}.pdf"
            (folder / "evidence").mkdir(parents=True, exist_ok=True)
            (folder / "evidence" / evidence_name).write_bytes(EVIDENCE + label.encode())
            profile = db.session.get(AlumniProfile, user.alumni_profile.id)
            profile.evidence_filename = evidence_name
            profile.evidence_original_name = f"diploma-{label}.pdf"
            profile.evidence_content_type = "application/pdf"
            profile.city = f"City of {label}"
            payment = Payment(
                kind=PaymentKind.MEMBERSHIP,
                status=PaymentStatus.PARTIALLY_REFUNDED,
                amount=4000,
                currency="eur",
                payer_id=user.id,
                payer_name=user.full_name,
                payer_email=user.email,
                description=f"Membership of {label}",
                refunded_amount=1000,
                succeeded_at=utcnow(),
            )
            db.session.add(payment)
            db.session.flush()
            db.session.add(Refund(payment_id=payment.id, amount=1000, reason=f"Refund {label}"))
            db.session.add(
                Membership(
                    user_id=user.id,
                    starts_on=date.today(),
                    ends_on=date.today() + timedelta(days=365),
                    source="payment",
                    payment_id=payment.id,
                )
            )
            db.session.add(
                PaymentProfile(
                    user_id=user.id, stripe_customer_id=f"cus_{label}", card_last4="4242"
                )
            )
            db.session.add(
                Redemption(
                    offer_id=offer.id, user_id=user.id, period_key="ever", sequence=1, code=code
                )
            )
            db.session.add(
                ApiToken(
                    user_id=user.id,
                    token_hash=uuid.uuid4().hex,
                    expires_at=utcnow() + timedelta(days=30),
                )
            )
            search, _created = alerts.save_search(
                user=user, kind="jobs", criteria={"q": f"search of {label}"}, frequency="weekly"
            )
            services.set_consent(
                user, services.NEWS, True, source="settings", ip_address="10.0.0.1"
            )
            audit.record(
                "member.verified",
                actor=None,
                object_type="user",
                object_id=user.id,
                note=f"verified {label}",
            )
            db.session.commit()
            return Person(
                user=user,
                label=label,
                email=email,
                code=code,
                evidence=folder / "evidence" / evidence_name,
                cv=cv,
                payment_id=payment.id,
                application_id=application.id,
                search_id=search.id,
                partner_id=partner.id,
            )

    return make
