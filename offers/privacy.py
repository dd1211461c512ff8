"""The personal data the offers hold about a person (registered by ``offers.init_app``).

On deletion redemptions stay (the partner's statistics), linked to the anonymised person.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.privacy.registry import row_dict
from offers.models import Offer, Redemption


def export_redemptions(user: User) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Redemption, Offer)
        .join(Offer, Offer.id == Redemption.offer_id)
        .where(Redemption.user_id == user.id)
        .order_by(Redemption.id)
    ).all()
    return [
        row_dict(redemption, exclude={"validated_by_id"})
        | {"offer": {"id": offer.id, "title_fr": offer.title_fr, "title_en": offer.title_en}}
        for redemption, offer in rows
    ]
