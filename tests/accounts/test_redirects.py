"""``next`` never leaves the site: sign-in, the language switch and saved searches.

Browsers drop tabs and newlines from a URL and read a backslash as a slash, so a target that
looks like a path (``/<TAB>/evil.example``) can still lead to another site once it reaches
the ``Location`` header; a newline there used to answer 500.
"""

from __future__ import annotations

import pytest

HOSTILE = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\r/evil.example",
    "/ /evil.example",
    "/\x0b/evil.example",
    "/\u3000/evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "//evil.example",
    "///evil.example",
    " //evil.example",
    "\t//evil.example",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "/\x00/evil.example",
]


def _same_site(location: str) -> bool:
    return location.startswith("/") and not location.startswith("//") and "\\" not in location


@pytest.mark.parametrize("target", HOSTILE)
def test_sign_in_never_follows_a_hostile_next(client, create_user, sign_in, target):
    create_user("camille@example.org")
    response = sign_in(client, "camille@example.org", query_string={"next": target})
    if "\x00" in target:
        assert response.status_code == 400  # the NUL guard answers first
        return
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    # Signed in already, the login page sends on as well: never off the site.
    again = client.get("/accounts/login", query_string={"next": target})
    assert again.status_code == 302
    assert again.headers["Location"] == "/"


def test_the_tab_trick_of_the_report_is_refused(client, create_user, sign_in):
    create_user("camille@example.org")
    response = sign_in(client, "camille@example.org", query_string="next=/%09/evil.example")
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", [t for t in HOSTILE if "\x00" not in t])
def test_the_language_switch_never_follows_a_hostile_next(client, target):
    response = client.post("/language", data={"locale": "en", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", [t for t in HOSTILE if "\x00" not in t])
def test_saving_a_search_never_follows_a_hostile_next(client, create_user, login, target):
    login(client, create_user(alumni=True, status="verified"))
    response = client.post("/notifications/searches", query_string={"next": target}, data={})
    assert response.status_code == 302
    assert response.headers["Location"] == "/notifications/searches"


@pytest.mark.parametrize(
    "target", ["/accounts/status", "/offers/?q=caf%C3%A9&page=2", "/jobs/?country=PT"]
)
def test_a_same_site_next_is_still_followed(client, create_user, sign_in, target):
    create_user("camille@example.org")
    response = sign_in(client, "camille@example.org", query_string={"next": target})
    assert response.headers["Location"] == target
    assert _same_site(response.headers["Location"])
    switched = client.post("/language", data={"locale": "en", "next": target})
    assert switched.headers["Location"] == target
