"""POST /api/v1/offers/{id}/redemptions, GET /me/redemptions and the partner's voucher API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.services import grant_membership
from offers import redemption as services
from offers.models import Redemption


@pytest.fixture
def partner(create_partner):
    return create_partner()


@pytest.fixture
def member(create_user):
    return create_user(alumni=True, status="verified", locale="en")


def redeem_directly(app, offer_id: int, user: User) -> Redemption:
    with app.app_context():
        redemption = services.redeem_offer(offer_id, user=db.session.get(User, user.id))
        db.session.commit()
        return redemption


def test_redeem_unique_code(app, client, partner, member, create_offer, api_headers):
    offer = create_offer(partner, method="unique_codes", codes=["ONE", "TWO"])
    response = client.post(f"/api/v1/offers/{offer.id}/redemptions", headers=api_headers(member))
    assert response.status_code == 201
    body = response.json
    assert body["offer_id"] == offer.id
    assert body["code"] == "ONE"
    assert "voucher_url" not in body
    assert "link" not in body
    assert body["redeemed_at"]
    with app.app_context():
        assert db.session.get(Redemption, body["id"]).user_id == member.id


def test_redeem_voucher_and_link(client, partner, member, create_offer, api_headers):
    headers = api_headers(member)
    voucher = create_offer(partner, method="voucher")
    body = client.post(f"/api/v1/offers/{voucher.id}/redemptions", headers=headers).json
    assert body["voucher_url"].startswith("http://localhost/offers/wallet/check/")
    assert "code" not in body
    link = create_offer(partner, method="link", link_url="https://shop.example/a")
    body = client.post(f"/api/v1/offers/{link.id}/redemptions", headers=headers).json
    assert body["link"] == "https://shop.example/a"


def test_redeem_errors(app, client, partner, member, create_user, create_offer, api_headers):
    offer = create_offer(partner, total_limit=1)
    url = f"/api/v1/offers/{offer.id}/redemptions"
    assert client.post(url).status_code == 401
    pending = create_user(alumni=True, status="pending")
    refused = client.post(url, headers=api_headers(pending))
    assert refused.status_code == 403
    assert refused.json["errors"]["reason"] == "not_verified"
    headers = api_headers(member)
    assert client.post(url, headers=headers).status_code == 201
    again = client.post(url, headers=headers)
    assert again.status_code == 409
    assert again.json["errors"]["reason"] == "limit_reached"
    assert again.json["code"] == 409
    assert again.json["message"]
    other = client.post(url, headers=api_headers(create_user(alumni=True, status="verified")))
    assert other.status_code == 409
    assert other.json["errors"]["reason"] == "sold_out"

    draft = create_offer(partner, status="draft")
    assert client.post(f"/api/v1/offers/{draft.id}/redemptions", headers=headers).status_code == 404
    assert client.post("/api/v1/offers/999999/redemptions", headers=headers).status_code == 404
    ended = create_offer(partner, ends_at=utcnow() - timedelta(days=1))
    gone = client.post(f"/api/v1/offers/{ended.id}/redemptions", headers=headers)
    assert gone.status_code == 410
    assert gone.json["errors"]["reason"] == "ended"


def test_members_only_offer(app, client, partner, member, create_offer, api_headers):
    offer = create_offer(partner, audience="members")
    url = f"/api/v1/offers/{offer.id}/redemptions"
    headers = api_headers(member)
    refused = client.post(url, headers=headers)
    assert refused.status_code == 403
    assert refused.json["errors"]["reason"] == "members_only"
    with app.app_context():
        grant_membership(db.session.get(User, member.id), actor=None)
        db.session.commit()
    assert client.post(url, headers=headers).status_code == 201


def test_session_cookie_cannot_redeem(client, login, partner, member, create_offer):
    offer = create_offer(partner)
    login(client, member)
    assert client.post(f"/api/v1/offers/{offer.id}/redemptions").status_code == 401


def test_my_redemptions_are_mine_and_paginated(
    app, client, partner, member, create_user, create_offer, api_headers
):
    for _ in range(3):
        redeem_directly(app, create_offer(partner, method="generated_codes").id, member)
    redeem_directly(app, create_offer(partner).id, create_user(alumni=True, status="verified"))
    headers = api_headers(member)
    assert client.get("/api/v1/me/redemptions").status_code == 401
    response = client.get("/api/v1/me/redemptions?page_size=2", headers=headers)
    assert response.status_code == 200
    assert len(response.json) == 2
    assert '"total": 3' in response.headers["X-Pagination"]
    second = client.get("/api/v1/me/redemptions?page=2&page_size=2", headers=headers).json
    with app.app_context():
        mine = set(db.session.scalars(select(Redemption.id).where(Redemption.user_id == member.id)))
    assert {row["id"] for row in response.json + second} == mine
    assert client.get("/api/v1/me/redemptions?page_size=101", headers=headers).status_code == 422


def test_partner_redemptions_and_vouchers(
    app, client, create_partner, member, create_offer, api_headers
):
    mine, theirs = create_partner(), create_partner()
    my_offer = create_offer(mine, method="voucher")
    their_offer = create_offer(theirs, method="voucher")
    my_pass = redeem_directly(app, my_offer.id, member)
    their_pass = redeem_directly(app, their_offer.id, member)
    headers = api_headers(mine.owner)

    listing = client.get(f"/api/v1/partner/offers/{my_offer.id}/redemptions", headers=headers)
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json] == [my_pass.id]
    assert listing.json[0]["state"] == "valid"
    assert (
        client.get(
            f"/api/v1/partner/offers/{their_offer.id}/redemptions", headers=headers
        ).status_code
        == 404
    )

    url = f"/api/v1/partner/vouchers/{their_pass.voucher_token}/validate"
    assert client.post(url, headers=headers).status_code == 404
    with app.app_context():
        assert db.session.get(Redemption, their_pass.id).validated_at is None

    url = f"/api/v1/partner/vouchers/{my_pass.voucher_token}/validate"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=api_headers(member)).status_code == 403
    done = client.post(url, headers=headers)
    assert done.status_code == 200
    assert done.json["state"] == "used"
    again = client.post(url, headers=headers)
    assert again.status_code == 409
    assert again.json["errors"]["reason"] == "already_used"


def test_redemption_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "post" in paths["/api/v1/offers/{offer_id}/redemptions"]
    assert "get" in paths["/api/v1/me/redemptions"]
    assert "get" in paths["/api/v1/partner/offers/{offer_id}/redemptions"]
    assert "post" in paths["/api/v1/partner/vouchers/{token}/validate"]
