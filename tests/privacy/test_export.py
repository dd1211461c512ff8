""" "Download my data": every row and file of the member, nobody else's (CHECKS "Privacy")."""

from __future__ import annotations

import io
import json
import zipfile

from marketplace.privacy.registry import SOURCES


def _download(client, login, person):
    login(client, person.user)
    response = client.post("/privacy/me/export")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.data
    response.close()  # closes the temporary file, as the WSGI server does
    return zipfile.ZipFile(io.BytesIO(body))


def _all_text(archive: zipfile.ZipFile) -> str:
    return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def test_export_holds_all_of_a_and_none_of_b(client, login, person_with_data):
    a = person_with_data("Alice")
    b = person_with_data("Bruno")
    archive = _download(client, login, a)
    names = set(archive.namelist())
    assert {f"data/{name}.json" for name in SOURCES} <= names
    data = {name: json.loads(archive.read(f"data/{name}.json")) for name in SOURCES}

    assert data["account"]["email"] == a.email
    assert data["account"]["id"] == a.user.id
    assert data["alumni_profile"]["city"] == "City of Alice"
    assert data["alumni_profile"]["school"]["name"]
    assert [p["id"] for p in data["payments"]] == [a.payment_id]
    assert data["payments"][0]["refunds"][0]["reason"] == "Refund Alice"
    assert len(data["memberships"]) == 1
    assert data["payment_profile"]["card_last4"] == "4242"
    assert [r["code"] for r in data["redemptions"]] == [a.code]
    assert [x["id"] for x in data["applications"]] == [a.application_id]
    assert data["applications"][0]["cover_letter"] == "Letter of Alice"
    assert data["applications"][0]["job"]["title_en"] == "Job for Alice"
    assert [s["id"] for s in data["saved_searches"]] == [a.search_id]
    assert [(c["purpose"], c["granted"]) for c in data["consents"]] == [("news", True)]
    assert [m["partner"] for m in data["partner_memberships"]] == ["Employer of Alice"]
    assert any(e["details"].get("note") == "verified Alice" for e in data["audit_log"])

    # Their files, byte for byte.
    assert archive.read("files/evidence/diploma-Alice.pdf") == a.evidence.read_bytes()
    assert archive.read(f"files/cvs/{a.application_id}-cv.pdf") == a.cv.read_bytes()
    assert len([n for n in names if n.startswith("files/")]) == 2

    # Nobody else's: none of B's identifiers, texts, codes or files.
    text = _all_text(archive)
    for marker in (b.email, "Bruno", b.code, b.evidence.name, b.cv.name):
        assert marker not in text
    # And no secret.
    for secret in ("password_hash", "token_hash", "totp_secret", "argon2", "ip_hash"):
        assert secret not in text


def test_b_gets_only_b(client, login, person_with_data):
    a = person_with_data("Alice")
    b = person_with_data("Bruno")
    text = _all_text(_download(client, login, b))
    assert b.code in text
    assert a.email not in text
    assert "Alice" not in text
    assert a.code not in text


def test_export_needs_a_session_and_a_post(client):
    assert client.post("/privacy/me/export").status_code == 302
    assert client.get("/privacy/me/export").status_code == 405


def test_export_is_rate_limited(client, login, create_user, rate_limits):
    user = create_user(alumni=True, status="verified")
    login(client, user)
    statuses = []
    for _ in range(6):
        response = client.post("/privacy/me/export")
        statuses.append(response.status_code)
        response.close()
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429


def test_export_of_a_member_with_nothing_yet(client, login, create_user):
    user = create_user()
    login(client, user)
    response = client.post("/privacy/me/export")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    response.close()
    assert json.loads(archive.read("data/payments.json")) == []
    assert json.loads(archive.read("data/alumni_profile.json")) is None
    assert not [n for n in archive.namelist() if n.startswith("files/")]
