"""Shared offer fixtures: partners with teams, offers of every code model, API tokens.

``create_partner(name=..., approved=True, owner=None)`` returns a ``Partner`` whose ``owner``
attribute is the owner ``User`` (created when not given); ``add_partner_member(partner,
user=None, role="manager", disabled=False)`` returns the member ``User``;
``create_offer(partner, status="published", method="shared_code", ...)`` returns an ``Offer``
with its countries and code pool; ``api_headers(user)`` returns a bearer-token header.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.accounts.services import issue_api_token
from marketplace.catalog.models import Category
from marketplace.database import utcnow
from marketplace.extensions import db
from offers.models import (
    Audience,
    LimitPeriod,
    Offer,
    OfferCode,
    OfferCountry,
    OfferStatus,
    RedemptionMethod,
)
from offers.services import refresh_search_text
from partners.models import Partner, PartnerMember, PartnerStatus, TeamRole


@pytest.fixture
def create_partner(app: Flask, create_user: Callable[..., User]) -> Callable[..., Partner]:
    """``create_partner(name=None, approved=True, owner=None, country="FR")``."""

    def make(
        name: str | None = None,
        *,
        approved: bool = True,
        owner: User | None = None,
        country: str = "FR",
        status: str | None = None,
    ) -> Partner:
        owner = owner or create_user(full_name="Olivia Owner", locale="en")
        name = name or f"Partner {uuid.uuid4().hex[:6]}"
        with app.app_context():
            partner = Partner(
                name=name,
                slug=f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}",
                country=country,
                website="https://example.com",
                description="A partner of the network.",
                contact_name=owner.full_name,
                contact_email=f"contact-{uuid.uuid4().hex[:6]}@example.com",
                status=PartnerStatus(
                    status or (PartnerStatus.APPROVED if approved else PartnerStatus.PENDING)
                ),
                decided_at=utcnow() if approved else None,
            )
            db.session.add(partner)
            db.session.flush()
            db.session.add(
                PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER)
            )
            db.session.commit()
            partner.owner = owner
            return partner

    return make


@pytest.fixture
def add_partner_member(app: Flask, create_user: Callable[..., User]) -> Callable[..., User]:
    """``add_partner_member(partner, user=None, role="manager", disabled=False)`` → the user."""

    def make(
        partner: Partner,
        user: User | None = None,
        *,
        role: str = "manager",
        disabled: bool = False,
    ) -> User:
        user = user or create_user(full_name="Manon Manager", locale="en")
        with app.app_context():
            db.session.add(
                PartnerMember(
                    partner_id=partner.id,
                    user_id=user.id,
                    role=TeamRole(role),
                    disabled_at=utcnow() if disabled else None,
                )
            )
            db.session.commit()
        return user

    return make


@pytest.fixture
def create_offer(app: Flask) -> Callable[..., Offer]:
    """``create_offer(partner, status="published", method="shared_code", ...)`` → the offer.

    ``codes`` fills the pool, ``countries`` the ISO alpha-2 list (empty = worldwide),
    ``category`` is a slug (created when missing). ``search_fr``/``search_en`` are filled
    by the same function the services use.
    """

    def make(
        partner: Partner,
        *,
        status: str = "published",
        method: str = "shared_code",
        total_limit: int | None = None,
        per_member_limit: int = 1,
        limit_period: str = "ever",
        audience: str = "alumni",
        codes: Iterable[str] = (),
        countries: Iterable[str] = (),
        title_fr: str | None = "Réduction de 10 % sur les voyages",
        title_en: str | None = "10% off travel",
        summary_fr: str | None = "Pour les anciens élèves.",
        summary_en: str | None = "For alumni.",
        description_fr: str | None = "Valable sur **tous** les billets.",
        description_en: str | None = "Valid on **all** tickets.",
        category: str | None = None,
        city: str | None = None,
        online: bool = True,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        shared_code: str | None = None,
        link_url: str | None = None,
        reveal_ttl_minutes: int | None = None,
        redeemed_count: int = 0,
        published_at: datetime | None = None,
        created_by: User | None = None,
    ) -> Offer:
        method_enum = RedemptionMethod(method)
        status_enum = OfferStatus(status)
        with app.app_context():
            category_row = None
            if category:
                category_row = db.session.scalar(select(Category).where(Category.slug == category))
                if category_row is None:
                    category_row = Category(slug=category, name_fr=category, name_en=category)
                    db.session.add(category_row)
            live = status_enum in {OfferStatus.PUBLISHED, OfferStatus.PAUSED, OfferStatus.EXPIRED}
            offer = Offer(
                partner_id=partner.id,
                category=category_row,
                status=status_enum,
                title_fr=title_fr,
                title_en=title_en,
                summary_fr=summary_fr,
                summary_en=summary_en,
                description_fr=description_fr,
                description_en=description_en,
                city=city,
                online=online,
                starts_at=starts_at,
                ends_at=ends_at,
                audience=Audience(audience),
                redemption_method=method_enum,
                shared_code=shared_code
                or ("ALUMNI10" if method_enum == RedemptionMethod.SHARED_CODE else None),
                link_url=link_url
                or ("https://example.com/deal" if method_enum == RedemptionMethod.LINK else None),
                total_limit=total_limit,
                per_member_limit=per_member_limit,
                limit_period=LimitPeriod(limit_period),
                reveal_ttl_minutes=reveal_ttl_minutes,
                redeemed_count=redeemed_count,
                created_by_id=created_by.id if created_by else None,
                submitted_at=utcnow() if status_enum != OfferStatus.DRAFT else None,
                published_at=published_at or (utcnow() if live else None),
            )
            offer.country_rows = [OfferCountry(country=code.upper()) for code in countries]
            refresh_search_text(offer, partner_name=partner.name)
            db.session.add(offer)
            db.session.flush()
            db.session.add_all(OfferCode(offer_id=offer.id, code=code) for code in codes)
            db.session.commit()
            return offer

    return make


@pytest.fixture
def api_headers(app: Flask) -> Callable[[User], dict[str, str]]:
    """``api_headers(user)`` → ``{"Authorization": "Bearer <new token>"}``."""

    def make(user: User) -> dict[str, str]:
        with app.app_context():
            token, _row = issue_api_token(db.session.get(User, user.id))
            db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make
