"""The redemption service's rules, one by one, in process (concurrency: test_concurrency.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import NotVerified
from marketplace.extensions import db
from marketplace.membership.services import grant_membership
from offers import redemption as services
from offers.models import LimitPeriod, Offer, OfferCode, OfferDailyStat, Redemption

# A Wednesday: its ISO week is 2026-W48, its month 2026-11.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def partner(create_partner):
    return create_partner()


@pytest.fixture
def member(create_user):
    return create_user(alumni=True, status="verified", locale="en")


def redeem(app, offer_id: int, user: User, now: datetime = NOW) -> Redemption:
    """Redeem in a short app context and commit, as a view does."""
    with app.app_context():
        redemption = services.redeem_offer(offer_id, user=db.session.get(User, user.id), now=now)
        db.session.commit()
        return redemption


def refused(app, offer_id: int, user: User, now: datetime = NOW) -> services.DomainError:
    with app.app_context(), pytest.raises(services.DomainError) as caught:
        services.redeem_offer(offer_id, user=db.session.get(User, user.id), now=now)
    return caught.value


def test_period_keys():
    assert services.period_key(LimitPeriod.EVER, NOW) == "ever"
    assert services.period_key(LimitPeriod.WEEK, NOW) == "2026-W48"
    assert services.period_key(LimitPeriod.MONTH, NOW) == "2026-11"
    # 1 January 2027 is a Friday: still ISO week 53 of 2026.
    assert services.period_key(LimitPeriod.WEEK, datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"


def test_shared_code_redemption_counts_and_stats(app, partner, member, create_offer):
    offer = create_offer(partner, method="shared_code", shared_code="WELCOME5")
    redemption = redeem(app, offer.id, member)
    with app.app_context():
        row = db.session.get(Redemption, redemption.id)
        assert (row.code, row.period_key, row.sequence) == ("WELCOME5", "ever", 1)
        assert row.redeemed_at == NOW
        assert row.expires_at is None
        assert db.session.get(Offer, offer.id).redeemed_count == 1
        stat = db.session.scalar(select(OfferDailyStat).where(OfferDailyStat.offer_id == offer.id))
        assert (stat.day, stat.redemptions) == (NOW.date(), 1)


def test_daily_stat_row_is_reused_the_same_day(app, partner, create_user, create_offer):
    offer = create_offer(partner, method="generated_codes")
    for _ in range(3):
        redeem(app, offer.id, create_user(alumni=True, status="verified"))
    redeem(app, offer.id, create_user(alumni=True, status="verified"), now=NOW + timedelta(days=1))
    with app.app_context():
        rows = db.session.execute(
            select(OfferDailyStat.day, OfferDailyStat.redemptions)
            .where(OfferDailyStat.offer_id == offer.id)
            .order_by(OfferDailyStat.day)
        ).all()
    assert [tuple(row) for row in rows] == [(NOW.date(), 3), (NOW.date() + timedelta(days=1), 1)]


def test_generated_codes_are_readable_and_distinct(app, partner, create_user, create_offer):
    offer = create_offer(partner, method="generated_codes")
    codes = {
        redeem(app, offer.id, create_user(alumni=True, status="verified")).code for _ in range(5)
    }
    assert len(codes) == 5
    for code in codes:
        assert len(code) == services.GENERATED_CODE_LENGTH
        assert set(code) <= set(services.CODE_ALPHABET)


def test_link_offer_gives_no_code(app, partner, member, create_offer):
    offer = create_offer(partner, method="link", link_url="https://shop.example/alumni")
    redemption = redeem(app, offer.id, member)
    assert redemption.code is None
    assert redemption.voucher_token is None


def test_unpublished_offers_are_not_available(app, partner, member, create_offer):
    for status in ("draft", "submitted", "paused", "rejected", "archived"):
        offer = create_offer(partner, status=status)
        assert isinstance(refused(app, offer.id, member), services.OfferNotAvailable)
    assert isinstance(refused(app, 999_999, member), services.OfferNotAvailable)


def test_dates(app, partner, member, create_offer):
    future = create_offer(partner, starts_at=NOW + timedelta(hours=1))
    assert isinstance(refused(app, future.id, member), services.OfferNotAvailable)
    ended = create_offer(partner, ends_at=NOW - timedelta(seconds=1))
    error = refused(app, ended.id, member)
    assert isinstance(error, services.OfferEnded)
    assert error.status == 410
    expired = create_offer(partner, status="expired")
    assert isinstance(refused(app, expired.id, member), services.OfferEnded)
    running = create_offer(
        partner, starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=1)
    )
    assert redeem(app, running.id, member).id


@pytest.mark.parametrize("status", ["pending", "refused", "info_requested"])
def test_unverified_alumni_are_refused(app, partner, create_user, create_offer, status):
    offer = create_offer(partner)
    person = create_user(alumni=True, status=status)
    assert isinstance(refused(app, offer.id, person), NotVerified)
    non_alumnus = create_user()
    assert isinstance(refused(app, offer.id, non_alumnus), NotVerified)


def test_members_only_offer_needs_an_active_membership(app, partner, member, create_offer):
    offer = create_offer(partner, audience="members")
    error = refused(app, offer.id, member)
    assert isinstance(error, services.MembersOnly)
    assert error.status == 403
    with app.app_context():
        # A period that ended the day before does not count; one covering today does.
        grant_membership(
            db.session.get(User, member.id), actor=None, months=1, starts_on=date(2026, 10, 25)
        )
        db.session.commit()
    assert isinstance(refused(app, offer.id, member), services.MembersOnly)
    with app.app_context():
        grant_membership(
            db.session.get(User, member.id), actor=None, months=12, starts_on=NOW.date()
        )
        db.session.commit()
    assert redeem(app, offer.id, member).id


def test_once_per_member(app, partner, member, create_user, create_offer):
    offer = create_offer(partner, per_member_limit=1)
    redeem(app, offer.id, member)
    error = refused(app, offer.id, member)
    assert isinstance(error, services.RedemptionLimitReached)
    assert error.code == "limit_reached"
    # A refusal leaves nothing behind: the count did not move.
    with app.app_context():
        assert db.session.get(Offer, offer.id).redeemed_count == 1
    assert redeem(app, offer.id, create_user(alumni=True, status="verified")).sequence == 1


def test_per_week_limit_with_a_moved_clock(app, partner, member, create_offer):
    offer = create_offer(partner, per_member_limit=2, limit_period="week")
    assert redeem(app, offer.id, member).sequence == 1
    assert redeem(app, offer.id, member, now=NOW + timedelta(days=1)).sequence == 2
    # Sunday 29 November is still week 48.
    sunday = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    assert isinstance(refused(app, offer.id, member, now=sunday), services.RedemptionLimitReached)
    monday = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    nxt = redeem(app, offer.id, member, now=monday)
    assert (nxt.period_key, nxt.sequence) == ("2026-W49", 1)


def test_per_month_limit_with_a_moved_clock(app, partner, member, create_offer):
    offer = create_offer(partner, per_member_limit=1, limit_period="month")
    redeem(app, offer.id, member)
    later = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert isinstance(refused(app, offer.id, member, now=later), services.RedemptionLimitReached)
    december = redeem(app, offer.id, member, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert december.period_key == "2026-12"


def test_total_limit(app, partner, create_user, create_offer):
    offer = create_offer(partner, total_limit=2)
    for _ in range(2):
        redeem(app, offer.id, create_user(alumni=True, status="verified"))
    error = refused(app, offer.id, create_user(alumni=True, status="verified"))
    assert isinstance(error, services.OfferSoldOut)
    assert error.code == "sold_out"
    with app.app_context():
        assert db.session.get(Offer, offer.id).redeemed_count == 2


def test_reveal_ttl_sets_expiry(app, partner, member, create_offer):
    offer = create_offer(partner, method="generated_codes", reveal_ttl_minutes=30)
    redemption = redeem(app, offer.id, member)
    assert redemption.expires_at == NOW + timedelta(minutes=30)
    assert services.voucher_state(redemption, now=NOW + timedelta(minutes=29)) == "valid"
    assert services.voucher_state(redemption, now=NOW + timedelta(minutes=30)) == "expired"


def test_unique_codes_each_given_once_then_sold_out(app, partner, create_user, create_offer):
    offer = create_offer(partner, method="unique_codes", codes=["AAA1", "BBB2", "CCC3"])
    given = [
        redeem(app, offer.id, create_user(alumni=True, status="verified")).code for _ in range(3)
    ]
    assert sorted(given) == ["AAA1", "BBB2", "CCC3"]
    loser = create_user(alumni=True, status="verified")
    assert isinstance(refused(app, offer.id, loser), services.OfferSoldOut)
    with app.app_context():
        assert db.session.get(Offer, offer.id).redeemed_count == 3
        assert (
            db.session.scalar(
                select(func.count(Redemption.id)).where(Redemption.offer_id == offer.id)
            )
            == 3
        )
        free = db.session.scalar(
            select(func.count(OfferCode.id)).where(
                OfferCode.offer_id == offer.id, OfferCode.redemption_id.is_(None)
            )
        )
        assert free == 0


def test_pool_alerts_are_sent_once_each(
    app, partner, add_partner_member, create_user, create_offer, outbox
):
    manager = add_partner_member(partner)
    gone = add_partner_member(partner, disabled=True)
    offer = create_offer(partner, method="unique_codes", codes=[f"C{i:02d}" for i in range(20)])
    owner = partner.owner

    def alerts(template: str) -> list:
        return [m for m in outbox() if m.template == template]

    for _ in range(17):
        redeem(app, offer.id, create_user(alumni=True, status="verified"))
    assert alerts("offers/pool_low") == []
    redeem(app, offer.id, create_user(alumni=True, status="verified"))  # 2 of 20 left: 10 %
    low = alerts("offers/pool_low")
    assert sorted(m.recipient for m in low) == sorted([owner.email, manager.email])
    assert gone.email not in {m.recipient for m in outbox()}
    assert "2 of 20" in low[0].body_text
    redeem(app, offer.id, create_user(alumni=True, status="verified"))  # 1 left: no new mail
    assert len(alerts("offers/pool_low")) == 2
    assert alerts("offers/pool_empty") == []
    redeem(app, offer.id, create_user(alumni=True, status="verified"))  # empty
    assert len(alerts("offers/pool_empty")) == 2
    refused(app, offer.id, create_user(alumni=True, status="verified"))
    assert len(alerts("offers/pool_empty")) == 2
    with app.app_context():
        row = db.session.get(Offer, offer.id)
        assert row.low_stock_notified_at is not None
        assert row.sold_out_notified_at is not None


def test_pool_alert_skipped_when_already_claimed(app, partner, create_user, create_offer, outbox):
    offer = create_offer(partner, method="unique_codes", codes=["ONLY1", "ONLY2"])
    with app.app_context():
        db.session.get(Offer, offer.id).sold_out_notified_at = utcnow()
        db.session.commit()
    for _ in range(2):
        redeem(app, offer.id, create_user(alumni=True, status="verified"))
    assert [m for m in outbox() if m.template == "offers/pool_empty"] == []


def test_voucher_validated_once(app, partner, member, create_offer):
    offer = create_offer(partner, method="voucher")
    redemption = redeem(app, offer.id, member)
    token = redemption.voucher_token
    assert token
    assert len(token) >= 32
    with app.app_context():
        actor = db.session.get(User, partner.owner.id)
        done = services.validate_voucher(token, partner=partner, actor=actor, now=NOW)
        db.session.commit()
        assert done.validated_at == NOW
        assert done.validated_by_id == actor.id
    with app.app_context(), pytest.raises(services.VoucherAlreadyUsed) as caught:
        services.validate_voucher(token, partner=partner, actor=db.session.get(User, actor.id))
    assert caught.value.status == 409


def test_voucher_of_another_partner_is_not_found(app, create_partner, member, create_offer):
    mine, theirs = create_partner(), create_partner()
    redemption = redeem(app, create_offer(theirs, method="voucher").id, member)
    with app.app_context():
        actor = db.session.get(User, mine.owner.id)
        with pytest.raises(services.VoucherNotFound) as caught:
            services.validate_voucher(redemption.voucher_token, partner=mine, actor=actor)
        assert caught.value.status == 404
        assert db.session.get(Redemption, redemption.id).validated_at is None
        with pytest.raises(services.VoucherNotFound):
            services.validate_voucher("no-such-token", partner=mine, actor=actor)


def test_expired_voucher_is_refused(app, partner, member, create_offer):
    offer = create_offer(partner, method="voucher", reveal_ttl_minutes=10)
    redemption = redeem(app, offer.id, member)
    with app.app_context(), pytest.raises(services.VoucherExpired):
        services.validate_voucher(
            redemption.voucher_token,
            partner=partner,
            actor=db.session.get(User, partner.owner.id),
            now=NOW + timedelta(minutes=11),
        )
