"""The OpenAPI document lists the API's paths, their schemas and error answers."""

from __future__ import annotations

import pytest


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_openapi_lists_the_paths(spec):
    for path, method in [
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/current", "delete"),
        ("/api/v1/me", "get"),
        ("/api/v1/categories", "get"),
        ("/api/v1/membership/tiers", "get"),
    ]:
        assert method in spec["paths"][path], path


def test_openapi_describes_the_token_exchange(spec):
    operation = spec["paths"]["/api/v1/tokens"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/TokenRequest"}
    assert set(operation["responses"]) >= {"201", "401", "403", "422", "429"}
    assert operation["security"] == []
    request = spec["components"]["schemas"]["TokenRequest"]
    assert set(request["properties"]) == {"email", "password", "otp"}
    assert set(request["required"]) == {"email", "password"}
    token = spec["components"]["schemas"]["Token"]
    assert set(token["properties"]) == {"token", "expires_at"}


def test_openapi_describes_me_and_the_error_body(spec):
    me = spec["components"]["schemas"]["Me"]
    assert set(me["properties"]) == {
        "id",
        "email",
        "full_name",
        "locale",
        "timezone",
        "roles",
        "email_confirmed",
        "alumni",
    }
    assert me["properties"]["roles"]["type"] == "array"
    update = spec["components"]["schemas"]["MeUpdate"]
    assert set(update["properties"]) == {"locale", "timezone", "country", "city"}
    assert "patch" in spec["paths"]["/api/v1/me"]
    offer = spec["components"]["schemas"]["ReadOffer"]
    assert "not_in_country" in offer["properties"]["reader_state"]["enum"]
    alumni = spec["components"]["schemas"]["Alumni"]
    assert set(alumni["properties"]) == {"status", "school", "graduation_year", "country", "city"}
    assert "verified" in alumni["properties"]["status"]["enum"]
    error = spec["components"]["schemas"]["Error"]
    assert {"code", "status", "message", "errors"} <= set(error["properties"])
    assert spec["paths"]["/api/v1/me"]["get"]["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
