"""Security headers, cookies and error pages (CHECKS.md "Headers")."""

from __future__ import annotations

import re

import pytest

from marketplace.extensions import db


def test_csp_allows_only_the_sites_script_files_and_has_strict_directives(client):
    first = client.get("/")
    second = client.get("/offers/")
    csp = first.headers["Content-Security-Policy"]
    # No per-response nonce: a visitor's page is the same bytes for everyone (page cache).
    assert csp == second.headers["Content-Security-Policy"]
    assert "nonce-" not in csp
    script_src = re.search(r"script-src ([^;]*)", csp).group(1).split()
    assert script_src[0] == "'self'"
    assert all(source.startswith("http") for source in script_src[1:])  # Stripe's origins
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    # Nothing inline for the CSP to allow: scripts are files, data blocks are JSON.
    for page in (first.text, second.text):
        assert re.findall(r"<script(?![^>]*(?:src=|application/json))", page) == []
        assert re.search(r"\son[a-z]+=", page) is None  # no inline event handler


def test_pages_send_the_protective_headers(client):
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # development: no HSTS


def test_production_sends_hsts_and_secure_cookies(tmp_path, database_url):
    from marketplace import create_app
    from tests.conftest import test_config

    config = test_config(database_url, tmp_path)
    config.update(
        ENV_NAME="production", PREFERRED_URL_SCHEME="https", SITE_URL="https://alumni.example.org"
    )
    production = create_app(config)
    response = production.test_client().get("/", base_url="https://alumni.example.org")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["REMEMBER_COOKIE_SECURE"] is True


def test_session_cookie_is_httponly_and_samesite_lax(client, csrf_enabled):
    client.get("/accounts/login")  # the form's CSRF token lives in the session
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_no_wildcard_cors_anywhere(client):
    for path in ("/", "/api/v1/categories", "/api/v1/openapi.json"):
        assert client.get(path).headers.get("Access-Control-Allow-Origin") != "*"


@pytest.mark.parametrize(("path", "status"), [("/no-such-page", 404), ("/api/v1/nothing", 404)])
def test_not_found_in_the_sites_look_or_as_json(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    if path.startswith("/api/"):
        assert response.json["code"] == 404
        assert response.json["status"] == "Not Found"
    else:
        assert b'class="error-page"' in response.data


def test_unexpected_error_shows_a_generic_page_without_details(app, client, monkeypatch):
    def broken():
        raise RuntimeError("secret detail sk_live_123 in the message")

    monkeypatch.setitem(app.view_functions, "main.health", broken)
    response = client.get("/healthz")
    assert response.status_code == 500
    assert b'class="error-page"' in response.data
    assert b"sk_live_123" not in response.data
    assert b"Traceback" not in response.data


def test_database_down_answers_503(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def lost_connection():
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setitem(app.view_functions, "main.health", lost_connection)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert b'class="error-page"' in response.data


def test_health_check_reaches_the_database(client):
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}
    assert db.session is not None
