"""Fixtures of the hardening tests: a small world of every role with bearer tokens.

The partner, offer, job and application factories come from the offers and jobs suites;
``world`` builds one verified alumnus, a pending member, staff of each role and a partner
with an offer (a code pool), a job and an application, and gives a bearer token for each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from marketplace.accounts.models import AlumniProfile, User
from marketplace.accounts.services import issue_api_token
from marketplace.extensions import db
from tests.jobs.conftest import create_application, create_job, minimal_pdf  # noqa: F401
from tests.offers.conftest import (  # noqa: F401
    add_partner_member,
    api_headers,
    create_offer,
    create_partner,
)
from tests.payments.conftest import stripe_app  # noqa: F401


@dataclass
class World:
    """Ids and bearer headers of the people and objects of one test."""

    users: dict[str, User] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    partner: Any = None


def bearer_for(app: Flask, user: User) -> dict[str, str]:
    """A fresh API token for ``user`` (what ``POST /api/v1/tokens`` gives, minus the TOTP)."""
    with app.app_context():
        token, _row = issue_api_token(db.session.get(User, user.id))
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(
    app: Flask,
    seed_reference: None,
    create_user: Callable[..., User],
    create_partner: Callable[..., object],  # noqa: F811
    create_offer: Callable[..., object],  # noqa: F811
    create_job: Callable[..., object],  # noqa: F811
    create_application: Callable[..., object],  # noqa: F811
) -> World:
    world = World()
    world.users["verified"] = create_user(
        "alumna@example.org", alumni=True, status="verified", locale="en"
    )
    world.users["pending"] = create_user(
        "pending@example.org", alumni=True, status="pending", locale="en"
    )
    world.users["moderator"] = create_user(
        "moderator@example.org", roles=("moderator",), locale="en"
    )
    world.users["treasurer"] = create_user(
        "treasurer@example.org", roles=("treasurer",), locale="en"
    )
    world.users["admin"] = create_user("admin@example.org", roles=("admin",), locale="en")
    world.users["partner"] = create_user("owner@partner.example", locale="en")
    partner = create_partner("Acme Travel", owner=world.users["partner"])
    world.partner = partner
    offer = create_offer(partner, method="unique_codes", codes=("CODE-1", "CODE-2", "CODE-3"))
    draft = create_offer(partner, status="draft")
    job = create_job(partner)
    application = create_application(job, world.users["verified"])
    world.ids.update(
        partner_id=partner.id,
        offer_id=offer.id,
        draft_offer_id=draft.id,
        job_id=job.id,
        application_id=application.id,
    )
    with app.app_context():
        world.ids["profile_id"] = db.session.scalar(
            select(AlumniProfile.id).where(AlumniProfile.user_id == world.users["pending"].id)
        )
    for role, user in world.users.items():
        world.headers[role] = bearer_for(app, user)
    return world
