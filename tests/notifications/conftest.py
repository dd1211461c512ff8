"""Fixtures of the saved-search alerts: partners, offers and jobs from the domain suites.

``create_search(user, kind="offers", criteria=None, frequency="instant", created_at=None)``
saves a search through the service and returns ``(search_id, token)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from flask import Flask

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.notifications import alerts
from marketplace.notifications.models import SavedSearch
from tests.jobs.conftest import create_job  # noqa: F401
from tests.offers.conftest import create_offer, create_partner  # noqa: F401


@pytest.fixture
def create_search(app: Flask) -> Callable[..., tuple[int, str]]:
    def make(
        user: User,
        *,
        kind: str = "offers",
        criteria: dict | None = None,
        frequency: str = "instant",
        created_at: datetime | None = None,
    ) -> tuple[int, str]:
        with app.app_context():
            search, _created = alerts.save_search(
                user=db.session.get(User, user.id),
                kind=kind,
                criteria=criteria or {},
                frequency=frequency,
            )
            if created_at is not None:
                search.created_at = created_at
            db.session.commit()
            return search.id, alerts.unsubscribe_token(search)

    return make


@pytest.fixture
def read_search(app: Flask) -> Callable[[int], SavedSearch | None]:
    def read(search_id: int) -> SavedSearch | None:
        with app.app_context():
            return db.session.get(SavedSearch, search_id)

    return read
