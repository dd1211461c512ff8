"""Offers for the reader-state journeys, written into the live app's database through the
services (``python -m tests.e2e.reader_data`` with the live app's environment); prints the
offer ids by state as JSON. Run after ``seed demo``: bruno@example.org (France, verified,
no membership) and alice@example.org (United Kingdom, paying member) read them."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from offers.models import OfferStatus
from offers.redemption import redeem_offer
from offers.services import approve_offer, create_offer, submit_offer
from partners.models import Partner

PARTNER = "CodeCamp Lisboa"
BRUNO = "bruno@example.org"
OWNER_FIELDS = {
    "title_fr": "Offre du parcours {name}",
    "title_en": "Journey offer {name}",
    "summary_fr": "Une offre pour voir ce que chaque lecteur peut faire.",
    "summary_en": "An offer to see what each reader can do.",
    "description_fr": "Valable **partout** où l'offre s'applique.",
    "description_en": "Valid **wherever** the offer applies.",
    "category": "training",
    "online": True,
    "redemption_method": "shared_code",
    "shared_code": "PARCOURS-{code}",
}


def _publish(partner: Partner, name: str, *, staff: User, **terms) -> int:
    data = {
        key: value.format(name=name, code=name.upper())
        for key, value in OWNER_FIELDS.items()
        if isinstance(value, str)
    }
    data.update(online=True, **terms)
    owner = partner.members[0].user
    offer = create_offer(partner, actor=owner, data=data)
    submit_offer(offer, actor=owner)
    approve_offer(offer, actor=staff)
    db.session.flush()
    return offer.id


def main() -> None:
    app = create_app()
    with app.test_request_context():
        partner = db.session.scalar(select(Partner).where(Partner.name == PARTNER))
        staff = db.session.scalar(select(User).where(User.email == "moderator@example.org"))
        bruno = db.session.scalar(select(User).where(User.email == BRUNO))
        soon = (utcnow() + timedelta(days=12)).replace(microsecond=0)
        ids = {
            "can_redeem": _publish(partner, "open", staff=staff),
            "members_only": _publish(partner, "members", staff=staff, audience="members"),
            "not_in_country": _publish(partner, "france", staff=staff, countries=["FR"]),
            "already_redeemed": _publish(partner, "redeemed", staff=staff, limit_period="month"),
            "limit_reached": _publish(partner, "used", staff=staff, reveal_ttl_minutes=5),
            "sold_out": _publish(partner, "soldout", staff=staff, total_limit=1),
            "not_started": _publish(partner, "soon", staff=staff, starts_at=soon.isoformat()),
            "ended": _publish(partner, "ended", staff=staff),
        }
        redeem_offer(ids["already_redeemed"], user=bruno)
        redeem_offer(ids["limit_reached"], user=bruno, now=utcnow() - timedelta(hours=2))
        alice = db.session.scalar(select(User).where(User.email == "alice@example.org"))
        redeem_offer(ids["sold_out"], user=alice)
        from offers.models import Offer

        ended = db.session.get(Offer, ids["ended"])
        ended.status = OfferStatus.EXPIRED
        ended.ends_at = utcnow() - timedelta(days=1)
        db.session.commit()
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
