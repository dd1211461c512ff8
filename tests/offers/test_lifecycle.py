"""Offer lifecycle services: edit, submit, moderate, pause, archive, expire, code pool."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.audit import AuditLog
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.tasks import run_due
from offers import code_pool, services
from offers.models import Offer, OfferCode, OfferStatus, OfferStatusChange
from offers.services import InvalidOffer, OfferStateConflict

COMPLETE = {
    "title_fr": "Dix pour cent à l'Hôtel Étoile",
    "summary_fr": "Une nuit offerte.",
    "description_fr": "Réservez **vite**.",
    "city": "Lisbonne",
    "redemption_method": "shared_code",
    "shared_code": "ALUMNI",
    "countries": ["pt", "FR"],
}


@pytest.fixture
def team(create_partner, create_user):
    partner = create_partner(name="Hôtel Étoile")
    moderator = create_user(roles=("moderator",), locale="en")
    return partner, partner.owner, moderator


def history(offer_id: int) -> list[tuple[str | None, str, int | None, str | None]]:
    rows = db.session.scalars(
        select(OfferStatusChange)
        .where(OfferStatusChange.offer_id == offer_id)
        .order_by(OfferStatusChange.id)
    )
    return [(row.from_status, row.to_status, row.actor_id, row.message) for row in rows]


def test_full_lifecycle_with_requested_changes(app, team, outbox):
    partner, owner, moderator = team
    with app.test_request_context():
        actor = db.session.get(User, owner.id)
        staff = db.session.get(User, moderator.id)
        offer = services.create_offer(
            db.session.merge(partner), actor=actor, data={"title_fr": "Brouillon"}
        )
        assert offer.status == OfferStatus.DRAFT
        with pytest.raises(InvalidOffer):
            services.submit_offer(offer, actor=actor)  # no summary
        services.update_offer(offer, actor=actor, data=COMPLETE)
        assert offer.countries == ["FR", "PT"]
        services.submit_offer(offer, actor=actor)
        assert offer.status == OfferStatus.SUBMITTED
        assert offer.submitted_at is not None
        with pytest.raises(OfferStateConflict):
            services.update_offer(offer, actor=actor, data={"city": "Porto"})
        with pytest.raises(InvalidOffer):
            services.request_offer_changes(offer, actor=staff, message="  ")
        services.request_offer_changes(offer, actor=staff, message="Add an English version.")
        assert offer.status == OfferStatus.CHANGES_REQUESTED
        services.update_offer(
            offer, actor=actor, data={"title_en": "Ten percent", "summary_en": "One night."}
        )
        assert offer.title_en == "Ten percent"
        services.submit_offer(offer, actor=actor)
        services.approve_offer(offer, actor=staff)
        assert offer.status == OfferStatus.PUBLISHED
        assert offer.published_at is not None
        services.pause_offer(offer, actor=actor)
        with pytest.raises(OfferStateConflict):
            services.pause_offer(offer, actor=actor)
        services.resume_offer(offer, actor=actor)
        services.archive_offer(offer, actor=actor)
        db.session.commit()
        offer_id = offer.id
    with app.test_request_context():
        steps = history(offer_id)
        assert [(before, after) for before, after, _actor, _msg in steps] == [
            (None, "draft"),
            ("draft", "submitted"),
            ("submitted", "changes_requested"),
            ("changes_requested", "submitted"),
            ("submitted", "published"),
            ("published", "paused"),
            ("paused", "published"),
            ("published", "archived"),
        ]
        assert steps[2][2] == moderator.id
        assert steps[2][3] == "Add an English version."
        assert steps[1][2] == owner.id
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.object_id == offer_id).order_by(AuditLog.id)
        ).all()
        assert actions == ["offer.changes_requested", "offer.approved"]
    # The owner is the team: one mail per decision.
    mails = outbox(to=owner.email)
    assert [mail.template for mail in mails] == ["offers/offer_decision"] * 2
    assert "Add an English version." in mails[0].body_text


def test_live_edit_waits_for_review_and_keeps_the_approved_version(app, team, create_offer):
    partner, owner, moderator = team
    offer = create_offer(partner, title_fr="Ancien titre", city="Lisbonne")
    with app.test_request_context():
        row = db.session.get(Offer, offer.id)
        before_search = row.search_fr
        queued = services.update_offer(
            row,
            actor=db.session.get(User, owner.id),
            data={"title_fr": "Nouveau titre", "city": "Lisbonne", "countries": ["ES"]},
        )
        db.session.commit()
        assert queued
    with app.test_request_context():
        row = db.session.get(Offer, offer.id)
        assert row.status == OfferStatus.PUBLISHED
        assert row.title_fr == "Ancien titre"
        assert row.countries == []
        assert row.search_fr == before_search
        # Only the fields that differ are pending.
        assert row.pending_changes == {"title_fr": "Nouveau titre", "countries": ["ES"]}
        assert services.needs_review(row)
        services.approve_offer(row, actor=db.session.get(User, moderator.id))
        db.session.commit()
    with app.test_request_context():
        row = db.session.get(Offer, offer.id)
        assert row.title_fr == "Nouveau titre"
        assert row.countries == ["ES"]
        assert row.pending_changes is None
        assert "nouveau titre" in row.search_fr
        assert history(offer.id)[-1][3] == "changes approved"


def test_refused_live_changes_leave_the_offer_live(app, team, create_offer, outbox):
    partner, owner, moderator = team
    offer = create_offer(partner, title_fr="Titre approuvé")
    with app.test_request_context():
        row = db.session.get(Offer, offer.id)
        services.update_offer(row, actor=db.session.get(User, owner.id), data={"title_fr": "X"})
        with pytest.raises(InvalidOffer):
            services.reject_offer(row, actor=db.session.get(User, moderator.id), reason="")
        services.reject_offer(row, actor=db.session.get(User, moderator.id), reason="Misleading")
        db.session.commit()
    with app.test_request_context():
        row = db.session.get(Offer, offer.id)
        assert row.status == OfferStatus.PUBLISHED
        assert row.title_fr == "Titre approuvé"
        assert not row.pending_changes
        assert not services.needs_review(row)
    assert "Misleading" in outbox(to=owner.email)[-1].body_text


def test_requested_changes_on_a_live_offer_leave_the_queue_until_edited(app, team, create_offer):
    partner, owner, moderator = team
    offer = create_offer(partner)
    with app.test_request_context():
        row = db.session.get(Offer, offer.id)
        actor = db.session.get(User, owner.id)
        services.update_offer(row, actor=actor, data={"city": "Porto"})
        services.request_offer_changes(
            row, actor=db.session.get(User, moderator.id), message="Which street?"
        )
        assert not services.needs_review(row)
        with pytest.raises(OfferStateConflict):
            services.approve_offer(row, actor=db.session.get(User, moderator.id))
        services.update_offer(row, actor=actor, data={"city": "Porto, rua Augusta"})
        assert services.needs_review(row)
        assert row.pending_changes == {"city": "Porto, rua Augusta"}


def test_submit_checks_the_method_specific_fields(app, team):
    partner, owner, _moderator = team
    base = {"title_en": "Deal", "summary_en": "A deal."}
    with app.test_request_context():
        actor = db.session.get(User, owner.id)
        partner_row = db.session.merge(partner)
        with pytest.raises(InvalidOffer):
            services.create_offer(
                partner_row, actor=actor, data={**base, "link_url": "http://example.com"}
            )
        link = services.create_offer(
            partner_row, actor=actor, data={**base, "redemption_method": "link"}
        )
        with pytest.raises(InvalidOffer):
            services.submit_offer(link, actor=actor)
        services.update_offer(link, actor=actor, data={"link_url": "https://example.com/a"})
        services.submit_offer(link, actor=actor)

        pool = services.create_offer(
            partner_row, actor=actor, data={**base, "redemption_method": "unique_codes"}
        )
        with pytest.raises(InvalidOffer):
            services.submit_offer(pool, actor=actor)
        code_pool.add_codes(pool, actor=actor, codes=["ONE"])
        services.submit_offer(pool, actor=actor)

        shared = services.create_offer(partner_row, actor=actor, data=base)
        with pytest.raises(InvalidOffer):
            services.submit_offer(shared, actor=actor)
        assert link.status == pool.status == OfferStatus.SUBMITTED


@pytest.mark.parametrize(
    "data",
    [
        {"countries": ["XX"]},
        {"countries": ["FRA"]},
        {"category": "no-such-category"},
        {"per_member_limit": 0},
        {"audience": "everyone"},
        {"starts_at": "2030-02-01T00:00:00+00:00", "ends_at": "2030-01-01T00:00:00+00:00"},
    ],
)
def test_invalid_terms_are_refused(app, team, data):
    partner, owner, _moderator = team
    with app.test_request_context(), pytest.raises(InvalidOffer):
        services.create_offer(
            db.session.merge(partner), actor=db.session.get(User, owner.id), data=data
        )


def test_search_text_is_accent_folded_per_language(app, team):
    partner, owner, _moderator = team
    with app.test_request_context():
        offer = services.create_offer(
            db.session.merge(partner),
            actor=db.session.get(User, owner.id),
            data={
                "title_fr": "Séjour à Évora",
                "summary_en": "Stay in ÉVORA",
                "description_fr": "Crème brûlée",
                "city": "Évora",
            },
        )
        assert offer.search_fr == "sejour a evora creme brulee evora hotel etoile"
        assert offer.search_en == "stay in evora evora hotel etoile"


def test_codes_upload_counts_duplicates(app, team, create_offer):
    partner, owner, _moderator = team
    offer = create_offer(partner, method="unique_codes", codes=["A1", "A2"])
    text = "code\nA1\nB1\n\nB1\n  B2  \n"
    assert code_pool.parse_code_file(text) == ["A1", "B1", "", "B1", "B2"]
    assert code_pool.parse_code_file('"C1",first\nC2,second\n') == ["C1", "C2"]
    with app.test_request_context():
        row = db.session.get(Offer, offer.id)
        added, duplicates = code_pool.add_codes(
            row, actor=db.session.get(User, owner.id), codes=code_pool.parse_code_file(text)
        )
        db.session.commit()
        assert (added, duplicates) == (2, 2)
        total = db.session.scalar(
            select(func.count(OfferCode.id)).where(OfferCode.offer_id == offer.id)
        )
        assert total == 4


def test_codes_only_for_a_unique_codes_offer(app, team, create_offer):
    partner, owner, _moderator = team
    offer = create_offer(partner, method="shared_code")
    with app.test_request_context(), pytest.raises(OfferStateConflict):
        code_pool.add_codes(
            db.session.get(Offer, offer.id), actor=db.session.get(User, owner.id), codes=["A"]
        )


def test_expire_due_offers_with_a_moved_clock(app, team, create_offer):
    partner, _owner, _moderator = team
    now = utcnow()
    ending = create_offer(partner, ends_at=now + timedelta(days=2))
    paused = create_offer(partner, status="paused", ends_at=now + timedelta(days=1))
    later = create_offer(partner, ends_at=now + timedelta(days=30))
    draft = create_offer(partner, status="draft", ends_at=now + timedelta(days=1))
    with app.test_request_context():
        assert services.expire_due_offers(now) == 0
        lines = run_due(now + timedelta(days=3), echo=lambda line: None)
        assert "offer-expiry: 2 offer(s) expired" in lines
    with app.test_request_context():
        statuses = {
            offer.id: db.session.get(Offer, offer.id).status
            for offer in (ending, paused, later, draft)
        }
        assert statuses == {
            ending.id: OfferStatus.EXPIRED,
            paused.id: OfferStatus.EXPIRED,
            later.id: OfferStatus.PUBLISHED,
            draft.id: OfferStatus.DRAFT,
        }
        assert history(ending.id)[-1][:3] == ("published", "expired", None)
        # Idempotent: nothing more to do.
        assert services.expire_due_offers(now + timedelta(days=3)) == 0


def test_resume_refuses_an_ended_offer(app, team, create_offer):
    partner, owner, _moderator = team
    offer = create_offer(partner, status="paused", ends_at=utcnow() - timedelta(minutes=1))
    with app.test_request_context(), pytest.raises(OfferStateConflict):
        services.resume_offer(db.session.get(Offer, offer.id), actor=db.session.get(User, owner.id))
