"""Demo offers for ``flask seed demo`` (all companies and people are fictional).

Offers of the demo partners (``partners/demo.py``) of every code model in French and English
(some in French only, to show the fallback), and a few redemptions by the verified demo
alumni. Everything goes through the real services (moderation, code pools, ``redeem_offer``),
so the search text, histories, counters and audit log are what the site itself would have
written.

Each step looks its rows up by a natural key (partner name + offer French title, offer +
member) and creates only what is missing: running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select

from marketplace.accounts.models import User
from marketplace.accounts.services import find_user
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments.models import PaymentKind
from offers import code_pool
from offers import services as offers
from offers.models import Offer, OfferStatus, Redemption
from offers.redemption import redeem_offer
from partners.demo import demo_moderator, mail_links
from partners.models import Partner, PartnerMember, TeamRole


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


def _build_offer(demo: DemoOffer, partner: Partner, owner: User, moderator: User) -> Offer:
    offer = offers.create_offer(partner, actor=owner, data=demo.terms)
    if demo.codes:
        code_pool.add_codes(offer, actor=owner, codes=demo.codes)
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
    moderator = demo_moderator()
    created = 0
    with mail_links():
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
    with mail_links():
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


def featured_offer_of_payment(
    _payer: User, kind: PaymentKind, _amount: int, partner_id: int | None, subject: dict[str, Any]
) -> tuple[int | None, dict[str, Any]]:
    """A demo featured placement features its partner's first published offer."""
    if kind != PaymentKind.FEATURED or partner_id is None:
        return partner_id, subject
    offer_id = db.session.scalar(
        select(Offer.id)
        .where(Offer.partner_id == partner_id, Offer.status == OfferStatus.PUBLISHED)
        .order_by(Offer.id)
        .limit(1)
    )
    return partner_id, {**subject, "offer_id": offer_id}
