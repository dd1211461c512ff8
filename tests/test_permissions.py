"""Who may open what: a table of role × route → status (CHECKS.md "CSRF and access control").

Every GET route of the url map must appear in ``EXPECTED``: a new route that is not added
here fails ``test_every_route_is_in_the_table``. Writes are covered per blueprint in their
own tests and by tests/test_csrf.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from tests.permission_rows import collect

ROLES = ("anonymous", "pending", "verified", "moderator", "treasurer", "admin")

# 200 ok, 302 redirect (to sign-in for anonymous callers), 401 API auth, 403 forbidden,
# 404 no such object for this caller.
EXPECTED: dict[str, tuple[int, int, int, int, int, int]] = {
    # endpoint:                     anon pend veri mod  tres adm
    "main.index": (200, 200, 200, 200, 200, 200),
    "main.health": (200, 200, 200, 200, 200, 200),
    "static": (200, 200, 200, 200, 200, 200),
    "accounts.login": (200, 302, 302, 302, 302, 302),
    "accounts.register": (200, 302, 302, 302, 302, 302),
    "accounts.registered": (200, 200, 200, 200, 200, 200),
    "accounts.confirm": (400, 400, 400, 400, 400, 400),
    "accounts.forgot_password": (200, 200, 200, 200, 200, 200),
    "accounts.reset_sent": (200, 200, 200, 200, 200, 200),
    "accounts.reset_password": (400, 400, 400, 400, 400, 400),
    "accounts.profile": (302, 200, 200, 200, 200, 200),
    "accounts.status": (302, 200, 200, 404, 404, 404),
    "accounts.evidence": (302, 404, 404, 404, 404, 404),
    "accounts.two_factor": (302, 302, 302, 302, 302, 302),
    "accounts.two_factor_setup": (302, 404, 404, 302, 302, 302),
    "accounts.two_factor_enrol": (400, 400, 400, 400, 400, 400),
    "accounts.recovery_codes": (302, 404, 404, 200, 200, 200),
    "moderation.members": (302, 403, 403, 200, 403, 200),
    "moderation.member": (302, 403, 403, 200, 403, 200),
    "moderation.evidence": (302, 403, 403, 404, 403, 404),
    "moderation.roster": (302, 403, 403, 200, 403, 200),
    "admin.users": (302, 403, 403, 403, 403, 200),
    "admin.user": (302, 403, 403, 403, 403, 200),
    "admin.audit": (302, 403, 403, 403, 403, 200),
    "catalog_api.list_categories": (200, 200, 200, 200, 200, 200),
    "membership_api.list_tiers": (200, 200, 200, 200, 200, 200),
    "accounts_api.me": (401, 200, 200, 200, 200, 200),
    "api-docs.openapi_json": (200, 200, 200, 200, 200, 200),
    "api_docs.index": (200, 200, 200, 200, 200, 200),
    # partners (issue 3, point 1): application, staff queue, portal, invitations
    "partners.apply": (200, 200, 200, 200, 200, 200),
    "partners.applied": (200, 200, 200, 200, 200, 200),
    "partners.application_status": (302, 404, 404, 404, 404, 404),
    "partners.applications": (302, 403, 403, 200, 403, 200),
    "partners.application": (302, 403, 403, 404, 403, 404),
    "partners.dashboard": (302, 403, 403, 403, 403, 403),
    "partners.profile": (302, 403, 403, 403, 403, 403),
    "partners.logo": (404, 404, 404, 404, 404, 404),
    "partners.team": (302, 403, 403, 403, 403, 403),
    "partners.invitation": (400, 400, 400, 400, 400, 400),
    # offers browse: public listing and offer page (a missing offer id → 404), public API
    "offers.index": (200, 200, 200, 200, 200, 200),
    "offers.detail": (404, 404, 404, 404, 404, 404),
    "offers.picture": (404, 404, 404, 404, 404, 404),
    "offers_api.list_offers": (200, 200, 200, 200, 200, 200),
    "offers_api.get_offer": (404, 404, 404, 404, 404, 404),
    # offers wallet and redemption API (issue 3, points 3 and 5): a missing redemption id → 404
    "offers.wallet.index": (302, 200, 200, 200, 200, 200),
    "offers.wallet.show": (302, 404, 404, 404, 404, 404),
    "offers.wallet.check": (302, 403, 403, 403, 403, 403),
    "redemptions_api.my_redemptions": (401, 200, 200, 200, 200, 200),
    "redemptions_api.offer_redemptions": (401, 403, 403, 403, 403, 403),
    # offers portal, review queue and partner offers API (issue 3, points 2-3): no caller here
    # is a partner representative (403); a missing offer id → 404 for moderators
    "offers.portal.index": (302, 403, 403, 403, 403, 403),
    "offers.portal.create": (302, 403, 403, 403, 403, 403),
    "offers.portal.detail": (302, 403, 403, 403, 403, 403),
    "offers.portal.edit": (302, 403, 403, 403, 403, 403),
    "offers.moderation.queue": (302, 403, 403, 200, 403, 200),
    "offers.moderation.review": (302, 403, 403, 404, 403, 404),
    "offers.moderation.preview": (302, 403, 403, 404, 403, 404),
    "partner_offers_api.list_partner_offers": (401, 403, 403, 403, 403, 403),
    "partner_offers_api.get_partner_offer": (401, 403, 403, 403, 403, 403),
    # offers analytics (issue 3, point 6): partner portal pages and CSV export
    "offers.analytics.index": (302, 403, 403, 403, 403, 403),
    "offers.analytics.detail": (302, 403, 403, 403, 403, 403),
    "offers.analytics.redemptions_csv": (302, 403, 403, 403, 403, 403),
    # saved-search alerts (issue 4, point 6): own searches; an unknown unsubscribe token → 404
    "notifications.searches": (302, 200, 200, 200, 200, 200),
    "notifications.unsubscribe": (404, 404, 404, 404, 404, 404),
    # jobs browse (issue 4, point 2): public listing and job page (a missing job id → 404), API
    "jobs.index": (200, 200, 200, 200, 200, 200),
    "jobs.detail": (404, 404, 404, 404, 404, 404),
    "jobs_api.list_jobs": (200, 200, 200, 200, 200, 200),
    "jobs_api.get_job": (404, 404, 404, 404, 404, 404),
    # job applications and pipeline (issue 4, points 3-4, 7): a missing job or application id
    # → 404 for whoever may use the route; no caller here is a partner representative (403)
    "jobs.applications.apply": (302, 403, 404, 403, 403, 403),
    "jobs.applications.index": (302, 200, 200, 200, 200, 200),
    "jobs.applications.cv": (302, 404, 404, 404, 404, 404),
    "jobs.pipeline.job": (302, 403, 403, 403, 403, 403),
    "jobs.pipeline.application": (302, 403, 403, 403, 403, 403),
    "jobs.pipeline.cv": (302, 403, 403, 403, 403, 403),
    "jobs.pipeline.export": (302, 403, 403, 403, 403, 403),
    "applications_api.my_applications": (401, 200, 200, 200, 200, 200),
    "applications_api.partner_job_applications": (401, 403, 403, 403, 403, 403),
    "applications_api.partner_application_cv": (401, 403, 403, 403, 403, 403),
    # job postings (issue 4, points 1 and 7): portal, review queue and partner jobs API; no caller
    # here is a partner representative (403); a missing job id → 404 for moderators
    "jobs.portal.index": (302, 403, 403, 403, 403, 403),
    "jobs.portal.create": (302, 403, 403, 403, 403, 403),
    "jobs.portal.detail": (302, 403, 403, 403, 403, 403),
    "jobs.portal.edit": (302, 403, 403, 403, 403, 403),
    "jobs.moderation.queue": (302, 403, 403, 200, 403, 200),
    "jobs.moderation.review": (302, 403, 403, 404, 403, 404),
    "jobs.moderation.preview": (302, 403, 403, 404, 403, 404),
    "partner_jobs_api.list_partner_jobs": (401, 403, 403, 403, 403, 403),
    "partner_jobs_api.get_partner_job": (401, 403, 403, 403, 403, 403),
    # payment documents, treasury and admin settings (issue 5, points 3, 5-6): a missing
    # payment or tier id → 404 for whoever may use the route
    "documents.payment": (302, 404, 404, 404, 404, 404),
    "payments.detail": (302, 404, 404, 404, 404, 404),  # the payer's own payment page
    "treasury.payments": (302, 403, 403, 403, 200, 200),
    "treasury.payment": (302, 403, 403, 403, 404, 404),
    "treasury.document": (302, 403, 403, 403, 404, 404),
    "treasury_api.list_payments": (401, 403, 403, 403, 200, 200),
    "treasury_api.summary": (401, 403, 403, 403, 200, 200),
    "admin.tiers": (302, 403, 403, 403, 403, 200),
    "admin.tier": (302, 403, 403, 403, 403, 404),
    "admin.association": (302, 403, 403, 403, 403, 200),
    # membership pages and API, card flow (issue 5, points 2-3): a missing payment id → 404
    "membership.index": (302, 200, 200, 200, 200, 200),
    "membership.pay": (302, 404, 404, 404, 404, 404),
    "me_membership_api.my_membership": (401, 200, 200, 200, 200, 200),
    "payments_api.detail": (401, 404, 404, 404, 404, 404),
}
EXTRA_ROWS, EXTRA_ARGUMENTS = collect()
assert not set(EXTRA_ROWS) & set(EXPECTED), "a route is listed twice"
EXPECTED.update(EXTRA_ROWS)


@pytest.fixture
def people(create_user, school):
    return {
        "anonymous": None,
        "pending": create_user(alumni=True, status="pending", school=school),
        "verified": create_user(alumni=True, status="verified", school=school),
        "moderator": create_user(roles=("moderator",)),
        "treasurer": create_user(roles=("treasurer",)),
        "admin": create_user(roles=("admin",)),
    }


def _url(app, endpoint: str, people) -> str:
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    values = {}
    for name in rule.arguments:
        if name in EXTRA_ARGUMENTS:
            values[name] = EXTRA_ARGUMENTS[name]
        elif name == "profile_id":
            with app.app_context():
                values[name] = db.session.get(type(people["pending"]), people["pending"].id)
                values[name] = values[name].alumni_profile.id
        elif name == "user_id":
            values[name] = people["verified"].id
        elif name == "offer_id":
            # An id no offer has: the offer page would count a view (a new row) for a real one.
            values[name] = 999_999_999
        elif name == "job_id":
            values[name] = 999_999_999  # no such job
        elif name == "application_id":
            values[name] = 999_999_999  # no such application
        elif name == "redemption_id":
            values[name] = 999_999_999  # no such redemption
        elif name in ("payment_id", "tier_id"):
            values[name] = 999_999_999  # no such payment / tier
        elif name == "filename":
            values[name] = "css/site.css"
        elif name == "partner_id":
            values[name] = 987654321  # no such partner
        else:
            values[name] = "not-a-valid-token"
    return rule.build(values)[1]


def _get_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in (rule.methods or set())}


def test_every_route_is_in_the_table(app):
    missing = sorted(_get_endpoints(app) - set(EXPECTED))
    assert missing == [], f"add these routes to EXPECTED: {missing}"


def _table_size(app) -> dict[str, int]:
    counts = {}
    for table in db.metadata.sorted_tables:
        counts[table.name] = db.session.scalar(select(func.count()).select_from(table))
    return counts


@pytest.mark.parametrize("role", ROLES)
def test_role_route_status_table(app, login, people, role):
    user = people[role]
    client = app.test_client()
    if user is not None:
        login(client, user, mfa=bool(role in {"moderator", "treasurer", "admin"}))
    with app.app_context():
        before = _table_size(app)
    column = ROLES.index(role)
    wrong = []
    for endpoint in sorted(_get_endpoints(app) & set(EXPECTED)):
        url = _url(app, endpoint, people)
        response = client.get(url)
        status = response.status_code
        response.close()
        if status != EXPECTED[endpoint][column]:
            wrong.append((endpoint, url, status, EXPECTED[endpoint][column]))
    assert wrong == [], "\n".join(map(str, wrong))
    with app.app_context():
        assert _table_size(app) == before, "a GET changed the database"
