"""Every state-changing route refuses a request without a CSRF token (CHECKS.md).

The test walks ``app.url_map``, so a new route cannot slip through: page routes answer 400
without a token; API routes are exempt from CSRF because they refuse a session cookie on
writes (only a bearer token changes state), which is checked here as well.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter

from marketplace.extensions import db

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Writes that need no session: they authenticate with what they carry in the body or header.
SESSIONLESS_WRITES = {
    "/api/v1/tokens",  # credentials in the body
    "/payments/stripe/webhook",  # Stripe signature
    # RFC 8058 one-click unsubscribe: mail clients POST it with no cookie; the token is in the URL
    "/notifications/unsubscribe/x",
}


def _url_for(rule: Rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = 1 if isinstance(converter, NumberConverter) else "x"
    return rule.build(values)[1]


def _write_routes(app) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            routes.append((method, _url_for(rule)))
    return sorted(set(routes))


def test_there_are_write_routes_to_check(app):
    assert len(_write_routes(app)) >= 10


def test_every_page_write_refuses_a_missing_csrf_token(
    app, client, create_user, login, csrf_enabled
):
    admin = create_user(roles=("admin", "moderator", "treasurer"), alumni=True, status="verified")
    login(client, admin)
    unprotected = []
    for method, url in _write_routes(app):
        if url.startswith("/api/") or url in SESSIONLESS_WRITES:
            continue
        response = client.open(url, method=method, data={"x": "1"})
        if response.status_code != 400 or b'data-error="csrf"' not in response.data:
            unprotected.append((method, url, response.status_code))
        db.session.rollback()
    assert unprotected == []


def test_api_writes_refuse_a_session_cookie_alone(app, client, create_user, login):
    admin = create_user(roles=("admin", "moderator", "treasurer"), alumni=True, status="verified")
    login(client, admin)
    accepted = []
    for method, url in _write_routes(app):
        if not url.startswith("/api/") or url in SESSIONLESS_WRITES:
            continue
        response = client.open(url, method=method, json={})
        if response.status_code != 401:
            accepted.append((method, url, response.status_code))
    assert accepted == []


@pytest.mark.parametrize("url", sorted(SESSIONLESS_WRITES))
def test_sessionless_writes_are_listed_routes_or_future_ones(app, url):
    known = {rule.rule for rule in app.url_map.iter_rules()}
    known |= {url for _method, url in _write_routes(app)}  # built URLs of rules with arguments
    # The webhook arrives with the payments issue; the list must not name other routes.
    assert url in known or url == "/payments/stripe/webhook"
