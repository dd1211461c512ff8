"""Demo partners for ``flask seed demo`` (all companies and people are fictional).

Three approved partners with an owner and a manager each, one pending application, the partner
plans and a staff-granted membership (the demo offers, in ``offers/demo.py``, use it).
Everything goes through the real services (applications, moderation), so the histories and
audit log are what the site itself would have written.

Each step looks its rows up by a natural key (e-mail, partner name, plan code) and creates only
what is missing: running it twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import has_request_context
from sqlalchemy import exists, select

from marketplace.accounts.models import User
from marketplace.accounts.services import find_user
from marketplace.extensions import db
from marketplace.membership.models import Membership, MembershipTier
from marketplace.membership.services import grant_membership
from marketplace.payments.models import PaymentKind
from marketplace.payments.wording import subject_names
from marketplace.seed import DEMO_PASSWORD, create_account
from marketplace.tasks import site_request_context
from partners.models import (
    Partner,
    PartnerBillingIdentity,
    PartnerMember,
    PartnerPlan,
    PlanKind,
    TeamRole,
)
from partners.services import Application, apply_as_user, approve_partner

logger = logging.getLogger(__name__)

MODERATOR = "moderator@example.org"


@dataclass(frozen=True)
class DemoPartner:
    """A fictional partner company, its representatives and whether it is approved yet."""

    name: str
    country: str
    website: str
    description: str
    owner: tuple[str, str]
    manager: tuple[str, str] | None = None
    approved: bool = True
    locale: str = "fr"
    # The billing identity its invoices are addressed to (fictional numbers whose check
    # digits are right: SIREN / SIRET Luhn key, French VAT key, Portuguese NIF key).
    billing: dict[str, str] | None = None


DEMO_PARTNERS: list[DemoPartner] = [
    DemoPartner(
        "Librairie Voltaire",
        "FR",
        "https://librairie-voltaire.example.org",
        "Librairie indépendante à Paris depuis 1962 : romans, essais, beaux livres.",
        owner=("partner-owner@example.org", "Isabelle Roux"),
        manager=("partner-manager@example.org", "Thomas Girard"),
        billing={
            "legal_name": "Librairie Voltaire SARL",
            "address": "27 quai Voltaire",
            "postal_code": "75007",
            "city": "Paris",
            "country": "FR",
            "siren": "987654324",
            "siret": "98765432400019",
            "vat_number": "FR14987654324",
        },
    ),
    DemoPartner(
        "Air Horizon",
        "FR",
        "https://air-horizon.example.org",
        "Compagnie aérienne régionale reliant l'Europe, l'Afrique et le Moyen-Orient.",
        owner=("horizon-owner@example.org", "Nadia Karim"),
        manager=("horizon-manager@example.org", "Louis Martin"),
        locale="en",
        billing={
            "legal_name": "Air Horizon SAS",
            "address": "Aéroport de Lyon-Saint-Exupéry\nZone de fret, bâtiment 4",
            "postal_code": "69125",
            "city": "Colombier-Saugnieu",
            "country": "FR",
            "siren": "912345675",
            "siret": "91234567500017",
            "vat_number": "FR65912345675",
            "po_reference": "AH-ACHATS-2026",
        },
    ),
    DemoPartner(
        "CodeCamp Lisboa",
        "PT",
        "https://codecamp-lisboa.example.org",
        "Bootcamps de développement web et de data à Lisbonne et en ligne.",
        owner=("codecamp-owner@example.org", "Rita Almeida"),
        manager=("codecamp-manager@example.org", "Pedro Santos"),
        locale="en",
        billing={
            "legal_name": "CodeCamp Lisboa Lda",
            "address": "Rua Augusta 100",
            "postal_code": "1100-053",
            "city": "Lisboa",
            "country": "PT",
            "vat_number": "PT501964843",
        },
    ),
    DemoPartner(
        "Atelier Céramique du Port",
        "FR",
        "https://atelier-ceramique.example.org",
        "Ateliers de poterie et de céramique à Nantes, pour débutants et confirmés.",
        owner=("partner-applicant@example.org", "Julie Bernard"),
        approved=False,
    ),
]


@contextmanager
def mail_links() -> Iterator[None]:
    """E-mails queued by the services build absolute links: give them the demo site's address."""
    if has_request_context():
        yield
        return
    with site_request_context():
        yield


def demo_moderator() -> User:
    """The demo moderator, who approves the demo partners and offers."""
    moderator = find_user(MODERATOR)
    if moderator is None:
        raise RuntimeError(
            f"The demo moderator {MODERATOR} is missing (the staff step runs first)."
        )
    return moderator


def _account(email: str, full_name: str, locale: str) -> tuple[User, int]:
    user = find_user(email)
    if user is not None:
        return user, 0
    user = create_account(email=email, password=DEMO_PASSWORD, full_name=full_name, locale=locale)
    return user, 1


def seed_partners() -> int:
    """Partner companies with their owner and manager accounts, and one pending application."""
    moderator = demo_moderator()
    created = 0
    with mail_links():
        for demo in DEMO_PARTNERS:
            owner, new = _account(*demo.owner, demo.locale)
            created += new
            partner = db.session.scalar(select(Partner).where(Partner.name == demo.name))
            if partner is None:
                partner = apply_as_user(
                    Application(
                        name=demo.name,
                        country=demo.country,
                        website=demo.website,
                        description=demo.description,
                        contact_name=owner.full_name,
                        contact_email=owner.email,
                    ),
                    user=owner,
                )
                if demo.approved:
                    approve_partner(partner, actor=moderator)
                created += 1
            created += _billing_identity(partner, demo)
            if demo.manager is None:
                continue
            manager, new = _account(*demo.manager, demo.locale)
            created += new
            is_member = db.session.scalar(
                select(
                    exists().where(
                        PartnerMember.partner_id == partner.id,
                        PartnerMember.user_id == manager.id,
                    )
                )
            )
            if not is_member:
                db.session.add(
                    PartnerMember(partner_id=partner.id, user_id=manager.id, role=TeamRole.MANAGER)
                )
                created += 1
        db.session.flush()
    return created


def _billing_identity(partner: Partner, demo: DemoPartner) -> int:
    """The partner's billing identity, if it has none yet (the demo's invoices need it)."""
    if demo.billing is None or db.session.scalar(
        select(exists().where(PartnerBillingIdentity.partner_id == partner.id))
    ):
        return 0
    db.session.add(PartnerBillingIdentity(partner_id=partner.id, **demo.billing))
    db.session.flush()
    return 1


def describe_partner_payment(
    payer: User, kind: PaymentKind, amount: int, _partner_id: int | None, subject: dict[str, Any]
) -> tuple[int | None, dict[str, Any]]:
    """The partner a demo owner pays for and what the payment bought (the demo plan of that
    kind and price; the offers package adds the offer a placement features)."""
    partner_id = db.session.scalar(
        select(PartnerMember.partner_id)
        .where(PartnerMember.user_id == payer.id, PartnerMember.role == TeamRole.OWNER)
        .order_by(PartnerMember.id)
        .limit(1)
    )
    plan_kind = PlanKind.FEATURED if kind == PaymentKind.FEATURED else PlanKind.PARTNERSHIP
    plan = db.session.scalar(
        select(PartnerPlan)
        .where(PartnerPlan.kind == plan_kind, PartnerPlan.amount == amount)
        .order_by(PartnerPlan.id)
        .limit(1)
    )
    if plan is None:
        return partner_id, subject
    subject = {
        **subject,
        "plan": plan.code,
        "days": plan.days,
        **subject_names(name_fr=plan.name_fr, name_en=plan.name_en),
    }
    return partner_id, subject


def seed_membership() -> int:
    """A staff-granted membership for Alice, so that she can use members-only offers."""
    alice = find_user("alice@example.org")
    if alice is None:
        return 0
    if db.session.scalar(select(exists().where(Membership.user_id == alice.id))):
        return 0
    tier = db.session.scalar(select(MembershipTier).where(MembershipTier.code == "standard"))
    grant_membership(alice, actor=find_user("admin@example.org"), months=12, tier=tier)
    return 1


# (code, kind, French name, English name, amount in cents, days): what partners can buy.
DEMO_PLANS = [
    (
        "partenariat-annuel",
        PlanKind.PARTNERSHIP,
        "Partenariat annuel",
        "Annual partnership",
        120000,
        365,
    ),
    ("mise-en-avant-7", PlanKind.FEATURED, "Mise en avant 7 jours", "Featured for 7 days", 4900, 7),
    (
        "mise-en-avant-30",
        PlanKind.FEATURED,
        "Mise en avant 30 jours",
        "Featured for 30 days",
        14900,
        30,
    ),
]
PLAN_DESCRIPTIONS = {
    PlanKind.PARTNERSHIP: (
        "Un an de partenariat : le badge « Partenaire officiel » sur toutes vos offres.",
        "A year of partnership: the “Official partner” badge on all your offers.",
    ),
    PlanKind.FEATURED: (
        "Votre offre en tête de la liste des offres, avec le badge « À la une ».",
        "Your offer at the top of the offers list, with the “Featured” badge.",
    ),
}


def seed_partner_plans() -> int:
    """The partner plans of the demo (annual partnership, featured 7 and 30 days), by code."""
    existing = set(db.session.scalars(select(PartnerPlan.code)))
    created = 0
    for position, (code, kind, name_fr, name_en, amount, days) in enumerate(DEMO_PLANS, start=1):
        if code in existing:
            continue
        description_fr, description_en = PLAN_DESCRIPTIONS[kind]
        db.session.add(
            PartnerPlan(
                code=code,
                kind=kind,
                name_fr=name_fr,
                name_en=name_en,
                description_fr=description_fr,
                description_en=description_en,
                amount=amount,
                currency="eur",
                days=days,
                position=position,
            )
        )
        created += 1
    db.session.flush()
    return created


# The partners' steps, in order (``partners.init_app`` registers them).
DEMO_PARTNER_STEPS: list[tuple[str, Callable[[], int]]] = [
    ("partners", seed_partners),
    ("partner plans", seed_partner_plans),
    ("memberships", seed_membership),
]
# The demo accounts ``seed demo`` lists, with what each shows.
DEMO_PARTNER_LOGINS: list[tuple[str, str]] = [
    ("partner-owner@example.org", "owner of the partner Librairie Voltaire"),
    ("partner-manager@example.org", "manager of the partner Librairie Voltaire"),
    ("horizon-owner@example.org", "owner of the partner Air Horizon"),
    ("partner-applicant@example.org", "partner application waiting for review"),
]
