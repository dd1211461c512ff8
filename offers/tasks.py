"""Periodic work of the offers, run by ``flask tasks run-due`` (registered by
``offers.init_app``): the services flush, these tasks commit."""

from __future__ import annotations

from datetime import datetime

from marketplace.extensions import db
from offers.services import expire_due_offers


def run_offer_expiry(now: datetime) -> str:
    """Expire the offers whose end has passed; commit."""
    count = expire_due_offers(now)
    db.session.commit()
    return f"{count} offer(s) expired"
