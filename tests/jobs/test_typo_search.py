"""Search that forgives typos on the job list: "did you mean", inclusive writing included."""

from __future__ import annotations

import re

import pytest

FR = {"Accept-Language": "fr"}


def listing(client, query: str) -> tuple[list[str], str | None]:
    html = client.get("/jobs/", query_string={"q": query}, headers=FR).get_data(as_text=True)
    titles = re.findall(r"<h2[^>]*>\s*<a [^>]*>([^<]+)</a>", html)
    suggestion = re.search(r'data-suggestion="([^"]*)"', html)
    return titles, suggestion.group(1) if suggestion else None


@pytest.fixture
def jobs(create_partner, create_job):
    airline = create_partner(name="Air Horizon")
    create_job(airline, title_fr="Développeur·se mobile", title_en="Mobile developer")
    create_job(airline, title_fr="Formateur·rice web", title_en="Web trainer")


def test_a_word_of_inclusive_writing_is_found(client, jobs):
    assert listing(client, "développeur") == (["Développeur·se mobile"], None)


@pytest.mark.parametrize(
    ("typed", "suggested", "title"),
    [
        ("developeur", "developpeur", "Développeur·se mobile"),
        ("fromateur", "formateur", "Formateur·rice web"),
    ],
)
def test_a_typo_in_a_job_search_suggests_the_word(client, jobs, typed, suggested, title):
    assert listing(client, typed) == ([title], suggested)


def test_nonsense_suggests_nothing(client, jobs):
    assert listing(client, "qzxwvk") == ([], None)
