"""The redeem button, the member's wallet and the partner's phone-size pass check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from offers import redemption as services
from offers.models import Offer, Redemption

EN = {"Accept-Language": "en"}


@pytest.fixture
def partner(create_partner):
    return create_partner()


@pytest.fixture
def member(create_user):
    return create_user(alumni=True, status="verified", locale="en", full_name="Alice Dupont")


def redeem_directly(app, offer_id: int, user: User) -> Redemption:
    with app.app_context():
        redemption = services.redeem_offer(offer_id, user=db.session.get(User, user.id))
        db.session.commit()
        return redemption


def _redemptions(app, user: User) -> list[Redemption]:
    with app.app_context():
        return list(db.session.scalars(select(Redemption).where(Redemption.user_id == user.id)))


def test_redeem_button_gives_the_code(app, client, login, partner, member, create_offer):
    offer = create_offer(partner, method="shared_code", shared_code="HELLO20")
    login(client, member)
    response = client.post(f"/offers/wallet/redeem/{offer.id}")
    [redemption] = _redemptions(app, member)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/offers/wallet/{redemption.id}")
    page = client.get(f"/offers/wallet/{redemption.id}", headers=EN)
    assert page.status_code == 200
    assert 'id="benefit-code">HELLO20<' in page.text
    with app.app_context():
        assert db.session.get(Offer, offer.id).redeemed_count == 1


def test_refusal_is_flashed_and_changes_nothing(app, client, login, partner, member, create_offer):
    offer = create_offer(partner, method="shared_code")
    login(client, member)
    client.post(f"/offers/wallet/redeem/{offer.id}")
    response = client.post(f"/offers/wallet/redeem/{offer.id}", headers=EN)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/offers/{offer.id}")
    follow = client.get(response.headers["Location"], headers=EN)
    assert "You have already used this offer" in follow.text
    assert len(_redemptions(app, member)) == 1


def test_redeem_needs_a_verified_alumnus(app, client, login, partner, create_user, create_offer):
    offer = create_offer(partner)
    assert client.post(f"/offers/wallet/redeem/{offer.id}").status_code == 302
    pending = create_user(alumni=True, status="pending")
    login(client, pending)
    assert client.post(f"/offers/wallet/redeem/{offer.id}").status_code == 403
    assert _redemptions(app, pending) == []


def test_redeem_is_rate_limited_per_account(
    app, client, login, partner, member, create_offer, rate_limits
):
    offer = create_offer(partner, method="generated_codes", per_member_limit=1000)
    login(client, member)
    statuses = [client.post(f"/offers/wallet/redeem/{offer.id}").status_code for _ in range(31)]
    assert statuses[:30] == [302] * 30
    assert statuses[30] == 429
    assert len(_redemptions(app, member)) == 30


def test_wallet_lists_newest_first_with_empty_state(
    app, client, login, partner, member, create_offer
):
    login(client, member)
    empty = client.get("/offers/wallet/", headers=EN)
    assert empty.status_code == 200
    assert 'id="wallet-empty"' in empty.text
    first = create_offer(partner, method="shared_code", title_en="First deal")
    second = create_offer(partner, method="link", title_en="Second deal")
    old = redeem_directly(app, first.id, member)
    with app.app_context():
        db.session.get(Redemption, old.id).redeemed_at = utcnow() - timedelta(days=2)
        db.session.commit()
    new = redeem_directly(app, second.id, member)
    page = client.get("/offers/wallet/", headers=EN).text
    assert page.index(f'id="redemption-{new.id}"') < page.index(f'id="redemption-{old.id}"')
    assert "ALUMNI10" in page
    assert "https://example.com/deal" in page


def test_wallet_query_count_does_not_grow(
    app, client, login, partner, create_user, create_offer, count_queries
):
    def queries_for(rows: int) -> int:
        person = create_user(alumni=True, status="verified")
        for _ in range(rows):
            offer = create_offer(partner, method="generated_codes")
            redeem_directly(app, offer.id, person)
        login(client, person)
        with count_queries() as seen:
            page = client.get("/offers/wallet/")
        assert page.status_code == 200
        assert page.text.count('class="wallet-item"') == rows
        return len(seen)

    assert queries_for(1) == queries_for(30)


def test_another_members_redemption_is_404(
    app, client, login, partner, member, create_user, create_offer
):
    offer = create_offer(partner)
    redemption = redeem_directly(app, offer.id, member)
    login(client, create_user(alumni=True, status="verified"))
    assert client.get(f"/offers/wallet/{redemption.id}").status_code == 404


def test_voucher_pass_and_partner_check(
    app, client, login, partner, member, create_partner, create_user, create_offer
):
    offer = create_offer(partner, method="voucher", title_en="Free coffee")
    redemption = redeem_directly(app, offer.id, member)
    token = redemption.voucher_token
    login(client, member)
    page = client.get(f"/offers/wallet/{redemption.id}", headers=EN)
    assert 'id="voucher-qr"' in page.text
    assert "<svg" in page.text
    # The member cannot validate their own pass.
    assert client.get(f"/offers/wallet/check/{token}").status_code == 403
    assert client.post(f"/offers/wallet/check/{token}").status_code == 403

    # Another partner's representative: 404, nothing marked.
    other = create_partner()
    login(client, other.owner)
    assert client.get(f"/offers/wallet/check/{token}").status_code == 404
    assert client.post(f"/offers/wallet/check/{token}").status_code == 404
    with app.app_context():
        assert db.session.get(Redemption, redemption.id).validated_at is None

    login(client, partner.owner)
    check = client.get(f"/offers/wallet/check/{token}", headers=EN)
    assert check.status_code == 200
    assert 'id="voucher-valid"' in check.text
    assert "Alice" in check.text
    assert "Dupont" not in check.text
    assert "Free coffee" in check.text
    done = client.post(f"/offers/wallet/check/{token}", headers=EN)
    assert done.status_code == 302
    with app.app_context():
        row = db.session.get(Redemption, redemption.id)
        assert row.validated_at is not None
        assert row.validated_by_id == partner.owner.id
    again = client.post(f"/offers/wallet/check/{token}", headers=EN, follow_redirects=True)
    assert "This pass has already been used." in again.text
    assert 'id="voucher-used"' in again.text
    assert client.get("/offers/wallet/check/not-a-token").status_code == 404

    login(client, member)
    used = client.get(f"/offers/wallet/{redemption.id}", headers=EN)
    assert 'id="benefit-used"' in used.text
    assert 'id="voucher-qr"' not in used.text


def test_expired_code_is_hidden(app, client, login, partner, member, create_offer):
    offer = create_offer(partner, method="generated_codes", reveal_ttl_minutes=5)
    redemption = redeem_directly(app, offer.id, member)
    login(client, member)
    assert redemption.code in client.get(f"/offers/wallet/{redemption.id}").text
    with app.app_context():
        db.session.get(Redemption, redemption.id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    page = client.get(f"/offers/wallet/{redemption.id}", headers=EN)
    assert 'id="benefit-expired"' in page.text
    assert redemption.code not in page.text
