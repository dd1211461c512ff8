"""API errors use flask-smorest's body; rate limits per account and per IP answer 429 in JSON."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

EN = {"Accept-Language": "en"}


def ask_token(client, email: str, password: str = PASSWORD, **kwargs):
    return client.post(
        "/api/v1/tokens", json={"email": email, "password": password}, headers=EN, **kwargs
    )


def assert_error_body(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == status
    assert isinstance(body["status"], str)
    assert body["status"]
    assert isinstance(body["message"], str)
    assert body["message"]
    assert set(body) <= {"code", "status", "message", "errors"}
    return body


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/api/v1/no-such-thing", 404),
        ("GET", "/api/v1/me", 401),
        ("DELETE", "/api/v1/tokens/current", 401),
        ("PUT", "/api/v1/me", 405),
        ("GET", "/api/v1/tokens", 405),
    ],
)
def test_api_errors_use_the_smorest_body(client, method, url, status):
    assert_error_body(client.open(url, method=method, headers=EN), status)


def test_a_body_that_is_not_json_is_a_422(client):
    response = client.post("/api/v1/tokens", data="email=x", headers=EN)
    assert_error_body(response, 422)


def test_a_json_list_is_a_422_not_a_crash(client, rate_limits):
    response = client.post("/api/v1/tokens", json=["a", "b"], headers=EN)
    assert_error_body(response, 422)


@pytest.mark.usefixtures("rate_limits")
def test_eleventh_token_request_for_one_account_is_429(client, create_user):
    create_user("target@example.org")
    create_user("bystander@example.org")
    for _attempt in range(10):
        assert ask_token(client, "target@example.org", "wrong password").status_code == 401
    # Right password or not: the account's budget is spent, whatever the case of the address.
    blocked = ask_token(client, "Target@Example.org")
    body = assert_error_body(blocked, 429)
    assert "wait a minute" in body["message"]
    assert "Retry-After" in blocked.headers
    # Other accounts from the same address still get through.
    assert ask_token(client, "bystander@example.org").status_code == 201


@pytest.mark.usefixtures("rate_limits")
def test_sixty_token_requests_from_one_address_then_429(client):
    for number in range(60):
        response = ask_token(client, f"nobody{number}@example.org")
        assert response.status_code == 401, number
    assert_error_body(ask_token(client, "someone-else@example.org"), 429)
    # Another address is counted apart.
    other = ask_token(client, "someone-else@example.org", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 401


@pytest.mark.usefixtures("rate_limits", "seed_reference")
def test_the_api_wide_budget_is_shared_by_all_api_routes(client, create_user):
    for number in range(300):
        url = "/api/v1/categories" if number % 2 else "/api/v1/membership/tiers"
        assert client.get(url).status_code == 200, number
    blocked = client.get("/api/v1/categories", headers=EN)
    assert_error_body(blocked, 429)
    assert blocked.headers["X-RateLimit-Limit"] == "300"
    # Pages are not part of the API budget.
    assert client.get("/").status_code == 200


@pytest.mark.usefixtures("rate_limits", "seed_reference")
def test_signed_in_callers_have_their_own_budget(client, create_user):
    create_user("busy@example.org")
    token = ask_token(client, "busy@example.org").get_json()["token"]
    for _call in range(299):
        assert client.get("/api/v1/categories").status_code == 200
    # The anonymous budget of this address is spent (the token request counted too) ...
    assert client.get("/api/v1/categories").status_code == 429
    # ... but the account's is not.
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
