"""The admins' audit-log viewer filters by actor, action and object, and pages with the filters.

(Action, actor and paging alone are covered in tests/admin/test_views.py; these add the
object filter and its combination with the others.)
"""

from __future__ import annotations

import re

import pytest

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.audit import AuditLog
from marketplace.extensions import db

AUDIT_ROW = re.compile(rb'<tr id="audit-(\d+)"')


@pytest.fixture
def admin(create_user) -> User:
    return create_user("root@example.org", roles=("admin",), locale="en")


@pytest.fixture
def admin_client(client, login, admin):
    return login(client, admin)


def record(app, action: str, actor: User, object_type: str, object_id: int | None) -> int:
    with app.app_context():
        audit.record(
            action,
            actor=db.session.get(User, actor.id),
            object_type=object_type,
            object_id=object_id,
        )
        db.session.commit()
        return db.session.query(AuditLog.id).order_by(AuditLog.id.desc()).first()[0]


def shown(admin_client, **query) -> set[int]:
    response = admin_client.get("/admin/audit", query_string=query)
    assert response.status_code == 200
    return {int(found) for found in AUDIT_ROW.findall(response.data)}


def test_audit_log_filters_by_object_type_and_number(app, admin_client, admin, create_user):
    helper = create_user("helper@example.org", roles=("moderator",))
    offer_7 = record(app, "offer.approved", admin, "offer", 7)
    offer_7_again = record(app, "offer.paused", helper, "offer", 7)
    offer_8 = record(app, "offer.approved", admin, "offer", 8)
    payment_7 = record(app, "payment.refunded", admin, "payment", 7)
    settings = record(app, "association.updated", admin, "association", None)

    assert shown(admin_client, object_type="offer") == {offer_7, offer_7_again, offer_8}
    assert shown(admin_client, object_id=7) == {offer_7, offer_7_again, payment_7}
    assert shown(admin_client, object_type="offer", object_id=7) == {offer_7, offer_7_again}
    assert shown(admin_client, object_type="offer", object_id=7, actor="helper@") == {offer_7_again}
    assert shown(admin_client, object_type="offer", action="offer.approved") == {
        offer_7,
        offer_8,
    }
    everything = {offer_7, offer_7_again, offer_8, payment_7, settings}
    # A value the form refuses is ignored, not an error.
    assert shown(admin_client, object_id="seven") == everything
    assert shown(admin_client, object_id="99999999999999999999") == everything
    assert shown(admin_client, object_type="no-such-type") == everything


def test_each_object_links_to_its_own_history(app, admin_client, admin):
    record(app, "offer.approved", admin, "offer", 7)
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "/admin/audit?object_type=offer&amp;object_id=7" in page


def test_pages_keep_the_object_filter(app, admin_client, admin):
    ids = [record(app, "offer.paused", admin, "offer", 3) for _ in range(51)]
    record(app, "offer.paused", admin, "offer", 4)
    first = admin_client.get("/admin/audit", query_string={"object_type": "offer", "object_id": 3})
    assert len(AUDIT_ROW.findall(first.data)) == 50
    next_link = re.search(rb'href="([^"]+)" rel="next"', first.data)
    assert next_link, "no link to the next page"
    url = next_link[1].decode().replace("&amp;", "&")
    assert "object_id=3" in url
    assert "object_type=offer" in url
    second = admin_client.get(url)
    assert {int(found) for found in AUDIT_ROW.findall(second.data)} == {ids[0]}


def test_the_object_filter_form_is_on_the_page(admin_client):
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert 'name="object_type"' in page
    assert 'name="object_id"' in page
    assert '<label for="object_id"' in page
