"""Demo partners and offers for ``flask seed demo`` (all companies and people are fictional).

Three approved partners with an owner and a manager each, one pending application, offers of
every code model in French and English (some in French only, to show the fallback), a
staff-granted membership and a few redemptions by the verified demo alumni. Everything goes
through the real services (applications, moderation, code pools, ``redeem_offer``), so the
search text, histories, counters and audit log are what the site itself would have written.

Each step looks its rows up by a natural key (e-mail, partner name, offer French title,
redemption offer + member) and creates only what is missing: running it twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import has_request_context
from sqlalchemy import exists, select

from marketplace.accounts.models import User
from marketplace.accounts.services import find_user
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership, MembershipTier
from marketplace.membership.services import grant_membership
from marketplace.payments.models import PaymentKind
from marketplace.payments.wording import subject_names
from marketplace.seed import DEMO_PASSWORD, add_demo_login, add_demo_step, create_account
from marketplace.tasks import site_request_context
from marketplace.treasury.demo import register_demo_partner_payment
from offers import services as offers
from offers.models import Offer, OfferStatus, Redemption
from offers.redemption import redeem_offer
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


@dataclass(frozen=True)
class DemoOffer:
    """A fictional offer; ``status`` is where the demo leaves it (published by default)."""

    partner: str
    terms: dict[str, Any]
    status: OfferStatus = OfferStatus.PUBLISHED
    codes: list[str] = field(default_factory=list)
    redeemed_by: tuple[str, ...] = ()


def _days(days: int) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()


def demo_offers() -> list[DemoOffer]:
    """The demo offers (dates relative to today)."""
    return [
        DemoOffer(
            "Librairie Voltaire",
            {
                "title_fr": "10 % sur tous les livres",
                "title_en": "10% off every book",
                "summary_fr": "Une remise permanente en magasin sur présentation du code.",
                "summary_en": "A standing discount in the shop when you show the code.",
                "description_fr": "Valable sur **tous les livres** neufs, hors livres scolaires.",
                "description_en": "Valid on **all** new books, school books excepted.",
                "category": "culture",
                "countries": ["FR"],
                "city": "Paris",
                "redemption_method": "shared_code",
                "shared_code": "VOLTAIRE10",
                "per_member_limit": 1,
                "limit_period": "month",
            },
            redeemed_by=("bruno@example.org",),
        ),
        DemoOffer(
            "Librairie Voltaire",
            {
                "title_fr": "Un livre de poche offert",
                "summary_fr": "Un livre de poche au choix, offert sur présentation du pass.",
                "description_fr": "Montrez le pass QR en caisse : le libraire le valide.",
                "category": "culture",
                "countries": ["FR"],
                "city": "Paris",
                "redemption_method": "voucher",
                "total_limit": 50,
                "reveal_ttl_minutes": 60 * 24 * 30,
            },
            redeemed_by=("bruno@example.org",),
        ),
        DemoOffer(
            "Librairie Voltaire",
            {
                "title_fr": "Livres numériques à -30 %",
                "title_en": "30% off e-books",
                "summary_fr": "Pour les adhérents de l'association, sur la boutique en ligne.",
                "summary_en": "For members of the association, in the online shop.",
                "description_fr": "La remise s'applique automatiquement via le lien.",
                "description_en": "The discount applies automatically through the link.",
                "category": "culture",
                "online": True,
                "audience": "members",
                "redemption_method": "link",
                "link_url": "https://librairie-voltaire.example.org/alumni",
            },
            redeemed_by=("alice@example.org",),
        ),
        DemoOffer(
            "Librairie Voltaire",
            {
                "title_fr": "Club de lecture des anciens",
                "summary_fr": "Une soirée par mois autour d'un livre, boisson offerte.",
                "category": "culture",
                "countries": ["FR"],
                "city": "Paris",
                "redemption_method": "shared_code",
                "shared_code": "CLUB-VOLTAIRE",
            },
            status=OfferStatus.DRAFT,
        ),
        DemoOffer(
            "Air Horizon",
            {
                "title_fr": "15 % sur les vols",
                "title_en": "15% off flights",
                "summary_fr": "Un code unique par ancien élève, valable sur tout le réseau.",
                "summary_en": "One unique code per alumnus, valid on the whole network.",
                "description_fr": "Code à saisir lors de la réservation en ligne.",
                "description_en": "Enter the code when you book online.",
                "category": "travel",
                "redemption_method": "unique_codes",
                "ends_at": _days(180),
            },
            codes=[f"HORIZON-{number:03d}-ALU" for number in range(1, 31)],
            redeemed_by=("bruno@example.org", "david@example.org"),
        ),
        DemoOffer(
            "Air Horizon",
            {
                "title_fr": "Soldes d'hiver",
                "title_en": "Winter sale",
                "summary_fr": "Les vols d'hiver à prix réduits.",
                "summary_en": "Winter flights at reduced prices.",
                "category": "travel",
                "countries": ["FR", "MA", "SN"],
                "redemption_method": "shared_code",
                "shared_code": "HIVER",
                "starts_at": _days(-90),
                "ends_at": _days(-10),
            },
            status=OfferStatus.EXPIRED,
        ),
        DemoOffer(
            "Air Horizon",
            {
                "title_fr": "Surclassement offert",
                "title_en": "Free upgrade",
                "summary_fr": "Passez en classe affaires sur un vol long-courrier.",
                "summary_en": "Fly business class on a long-haul flight.",
                "category": "travel",
                "redemption_method": "shared_code",
                "shared_code": "UPGRADE-ALUMNI",
                "total_limit": 20,
            },
            status=OfferStatus.SUBMITTED,
        ),
        DemoOffer(
            "CodeCamp Lisboa",
            {
                "title_fr": "Bootcamp web à -20 %",
                "title_en": "20% off the web bootcamp",
                "summary_fr": (
                    "Douze semaines pour devenir développeur web, à Lisbonne ou à distance."
                ),
                "summary_en": "Twelve weeks to become a web developer, in Lisbon or remotely.",
                "description_fr": "Un code personnel est généré pour vous à chaque demande.",
                "description_en": "A personal code is generated for you on each request.",
                "category": "training",
                "city": "Lisboa",
                "redemption_method": "generated_codes",
                "per_member_limit": 1,
                "limit_period": "month",
            },
            redeemed_by=("alice@example.org", "chloe@example.org"),
        ),
        DemoOffer(
            "CodeCamp Lisboa",
            {
                "title_fr": "Cours de data en ligne offerts",
                "title_en": "Free online data courses",
                "summary_fr": "Trois modules d'introduction à la data, en ligne, à votre rythme.",
                "summary_en": "Three introductory data modules, online, at your own pace.",
                "category": "training",
                "online": True,
                "redemption_method": "link",
                "link_url": "https://codecamp-lisboa.example.org/alumni-data",
            },
            redeemed_by=("david@example.org",),
        ),
    ]


@contextmanager
def _mail_links() -> Iterator[None]:
    """E-mails queued by the services build absolute links: give them the demo site's address."""
    if has_request_context():
        yield
        return
    with site_request_context():
        yield


def _moderator() -> User:
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
    moderator = _moderator()
    created = 0
    with _mail_links():
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
    payer: User, kind: PaymentKind, amount: int
) -> tuple[int | None, dict[str, Any]]:
    """The partner a demo owner pays for and what the payment bought (the demo plan of that
    kind and price; a placement features the partner's first published offer)."""
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
        return partner_id, {}
    subject: dict[str, Any] = {
        "plan": plan.code,
        "days": plan.days,
        **subject_names(name_fr=plan.name_fr, name_en=plan.name_en),
    }
    if kind == PaymentKind.FEATURED and partner_id is not None:
        subject["offer_id"] = db.session.scalar(
            select(Offer.id)
            .where(Offer.partner_id == partner_id, Offer.status == OfferStatus.PUBLISHED)
            .order_by(Offer.id)
            .limit(1)
        )
    return partner_id, subject


register_demo_partner_payment(describe_partner_payment)


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


def _build_offer(demo: DemoOffer, partner: Partner, owner: User, moderator: User) -> Offer:
    offer = offers.create_offer(partner, actor=owner, data=demo.terms)
    if demo.codes:
        offers.add_codes(offer, actor=owner, codes=demo.codes)
    if demo.status == OfferStatus.DRAFT:
        return offer
    offers.submit_offer(offer, actor=owner)
    if demo.status == OfferStatus.SUBMITTED:
        return offer
    offers.approve_offer(offer, actor=moderator)
    if demo.status == OfferStatus.EXPIRED:
        # What the nightly task does to an offer whose end has passed.
        offers.expire_due_offers(utcnow())
    return offer


def seed_offers() -> int:
    """Offers of every code model and status, through the partner and moderator services."""
    moderator = _moderator()
    created = 0
    with _mail_links():
        for demo in demo_offers():
            partner = db.session.scalar(select(Partner).where(Partner.name == demo.partner))
            if partner is None:
                continue
            found = db.session.scalar(
                select(Offer.id).where(
                    Offer.partner_id == partner.id, Offer.title_fr == demo.terms["title_fr"]
                )
            )
            if found is not None:
                continue
            owner = db.session.scalar(
                select(User)
                .join(PartnerMember, PartnerMember.user_id == User.id)
                .where(PartnerMember.partner_id == partner.id, PartnerMember.role == TeamRole.OWNER)
                .order_by(PartnerMember.id)
                .limit(1)
            )
            _build_offer(demo, partner, owner, moderator)
            created += 1
    return created


def seed_redemptions() -> int:
    """A few redemptions by the verified demo alumni (each offer's counters stay right)."""
    created = 0
    with _mail_links():
        for demo in demo_offers():
            offer = db.session.scalar(
                select(Offer)
                .join(Partner, Partner.id == Offer.partner_id)
                .where(Partner.name == demo.partner, Offer.title_fr == demo.terms["title_fr"])
            )
            if offer is None or offer.status != OfferStatus.PUBLISHED:
                continue
            for email in demo.redeemed_by:
                user = find_user(email)
                if user is None or not user.is_verified_alumnus:
                    continue
                done = db.session.scalar(
                    select(
                        exists().where(
                            Redemption.offer_id == offer.id, Redemption.user_id == user.id
                        )
                    )
                )
                if not done:
                    redeem_offer(offer.id, user=user)
                    created += 1
    return created


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


DEMO_PARTNER_STEPS: list[tuple[str, Callable[[], int]]] = [
    ("partners", seed_partners),
    ("partner plans", seed_partner_plans),
    ("memberships", seed_membership),
    ("offers", seed_offers),
    ("redemptions", seed_redemptions),
]

for _name, _run in DEMO_PARTNER_STEPS:
    add_demo_step(_name, _run)
add_demo_login("partner-owner@example.org", "owner of the partner Librairie Voltaire")
add_demo_login("partner-manager@example.org", "manager of the partner Librairie Voltaire")
add_demo_login("horizon-owner@example.org", "owner of the partner Air Horizon")
add_demo_login("partner-applicant@example.org", "partner application waiting for review")
