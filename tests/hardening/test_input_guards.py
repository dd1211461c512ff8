"""Input the database cannot hold answers 4xx, never 500 (found by schemathesis).

A NUL character (PostgreSQL refuses it in text), a lone UTF-16 surrogate in JSON (no driver
can encode it), an id past the database's integer range and a page number whose OFFSET
overflows used to reach the database and come back as 500s.
"""

from __future__ import annotations

import pytest

from tests.hardening.conftest import bearer_for

HUGE = "9" * 30


@pytest.mark.parametrize(
    "url",
    [
        "/offers?q=a%00b",
        "/jobs?city=%00",
        "/api/v1/offers?q=%00",
        "/api/v1/jobs?language=%00",
        "/api/v1/offers?%00=x",
    ],
)
def test_nul_in_the_query_string_answers_400_not_500(client, url: str) -> None:
    assert client.get(url).status_code == 400


def test_nul_in_a_form_field_answers_400_not_500(client) -> None:
    response = client.post("/login", data={"email": "a\x00@example.org", "password": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "a\\ud800@example.org", "password": "secret"}',
        b'{"email": "a@example.org", "password": "\\udc00"}',
        b'{"email": "a\\u0000@example.org", "password": "secret"}',
        b'{"\\ud800": 1, "email": "a@example.org", "password": "x"}',
    ],
)
def test_json_with_a_lone_surrogate_or_nul_answers_400_with_the_error_body(client, body) -> None:
    response = client.post(
        "/api/v1/tokens", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == 400


DEEP = 2000


@pytest.mark.parametrize(
    "body",
    [
        "[" * DEEP + "]" * DEEP,
        '{"a": ' * DEEP + "1" + "}" * DEEP,
        '{"email": "a@example.org", "password": "x", "otp": ' + "[" * DEEP + "]" * DEEP + "}",
    ],
)
def test_json_nested_thousands_deep_answers_400_with_the_error_body(client, body: str) -> None:
    """Signed in or not: the decoder's recursion never reaches a view (it was a 500)."""
    response = client.post(
        "/api/v1/tokens", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.get_json()) >= {"code", "status", "message"}


def test_deep_json_on_a_partner_write_answers_400_and_shallow_json_still_works(
    client, world
) -> None:
    headers = {**world.headers["partner"], "Content-Type": "application/json"}
    deep = '{"title": "x", "countries": ' + "[" * DEEP + "]" * DEEP + "}"
    response = client.post("/api/v1/partner/offers", data=deep, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["code"] == 400
    # Brackets inside strings are text, not nesting.
    brackets = '{"title": "' + "[" * DEEP + '", "countries": [[[]]]}'
    response = client.post("/api/v1/partner/offers", data=brackets, headers=headers)
    assert response.status_code == 422


def test_a_surrogate_pair_is_ordinary_text(client, create_user) -> None:
    create_user("emoji@example.org")
    response = client.post(
        "/api/v1/tokens",
        data=b'{"email": "emoji@example.org", "password": "\\ud83d\\ude00 wrong"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "url", [f"/offers/{HUGE}", f"/jobs/{HUGE}", f"/api/v1/offers/{HUGE}", f"/api/v1/jobs/{HUGE}"]
)
def test_an_id_past_the_integer_range_is_404_not_500(client, url: str) -> None:
    assert client.get(url).status_code == 404


def test_the_openapi_document_states_the_id_bound(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/offers/{offer_id}"]
    parameters = operation.get("parameters") or operation["get"]["parameters"]
    (offer_id,) = [p for p in parameters if p["name"] == "offer_id"]
    assert offer_id["schema"]["maximum"] == 2**31 - 1


@pytest.mark.parametrize("url", ["/api/v1/offers", "/api/v1/jobs"])
def test_a_page_number_past_the_bound_is_422_not_500(client, url: str) -> None:
    assert client.get(f"{url}?page={HUGE}").status_code == 422
    assert client.get(f"{url}?page=100000").status_code == 200


@pytest.mark.parametrize("url", ["/offers/", "/jobs/"])
@pytest.mark.parametrize("page", [str(10**20), str(2**63), str(2**63 - 1), HUGE])
def test_html_listings_bound_the_page_number(client, url: str, page: str) -> None:
    """The pages, like the API, never send an OFFSET past the database's integers."""
    response = client.get(f"{url}?page={page}")
    assert response.status_code == 200
    assert client.get(f"{url}?page=100000").status_code == 200


def test_the_openapi_document_states_the_page_bound(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = spec["paths"]["/api/v1/offers"]["get"]["parameters"]
    (page,) = [p for p in parameters if p["name"] == "page"]
    assert page["schema"]["maximum"] == 100_000


def test_a_multipart_field_with_an_odd_name_is_not_a_500(client) -> None:
    """A part whose name breaks on a raw CR has no name at all (werkzeug gives ``None``):
    schemathesis found the NUL guard itself raising on it."""
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="\r\x00x"\r\n\r\nfalse\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    response = client.post(
        "/api/v1/tokens", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code < 500


@pytest.mark.parametrize("query", ["to=0001-01-01", "from=9999-12-31", "to=0001-01-01&months=12"])
def test_a_period_at_the_ends_of_the_calendar_is_422_not_500(client, create_user, query) -> None:
    app = client.application
    treasurer = create_user(roles=("treasurer",))
    headers = bearer_for(app, treasurer)
    for path in ("/api/v1/treasury/summary", "/api/v1/treasury/payments"):
        assert client.get(f"{path}?{query}", headers=headers).status_code == 422, path


def test_a_datetime_at_the_ends_of_the_calendar_is_not_a_500(client, world) -> None:
    response = client.patch(
        f"/api/v1/partner/offers/{world.ids['draft_offer_id']}",
        json={"ends_at": "0001-01-01T00:00:00+05:00", "starts_at": "9999-12-31T23:59:59-05:00"},
        headers=world.headers["partner"],
    )
    assert response.status_code < 500


def test_an_offer_limit_past_the_integer_column_is_422_not_500(client, world) -> None:
    response = client.patch(
        f"/api/v1/partner/offers/{world.ids['draft_offer_id']}",
        json={"total_limit": 2_809_708_857},
        headers=world.headers["partner"],
    )
    assert response.status_code == 422
    assert "total_limit" in response.get_json()["errors"]["json"]
