"""Search that forgives typos: "did you mean" on the offer listing (pg_trgm / SQLite fts5vocab)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from marketplace import spelling
from marketplace.extensions import db
from tests.conftest import BACKEND

FR = {"Accept-Language": "fr"}


def listing(client, query: str) -> tuple[list[int], str | None, str]:
    html = client.get("/offers/", query_string={"q": query}, headers=FR).get_data(as_text=True)
    ids = [int(found) for found in re.findall(r'data-offer-id="(\d+)"', html)]
    suggestion = re.search(r'data-suggestion="([^"]*)"', html)
    return ids, suggestion.group(1) if suggestion else None, html


@pytest.fixture
def catalogue(create_partner, create_offer):
    """A bookshop's offers, a training offer (its category says so), a draft with a rare word."""
    bookshop = create_partner(name="Librairie Voltaire")
    school = create_partner(name="Codecamp")
    return {
        "books": create_offer(bookshop, title_fr="10 % sur tous les livres", title_en=None),
        "training": create_offer(
            school,
            title_fr="Bootcamp web à -20 %",
            title_en="20% off the web bootcamp",
            description_fr="Douze semaines pour devenir développeur web.",
            category="formation",
        ),
        "draft": create_offer(
            school, status="draft", title_fr="Atelier de calligraphie", title_en=None
        ),
    }


def test_pg_trgm_similarity_is_what_the_sqlite_fallback_computes():
    assert spelling.similarity("formaton", "formation") == pytest.approx(7 / 12)
    assert spelling.similarity("librarie", "librairie") == pytest.approx(7 / 12)
    assert spelling.similarity("formaton", "voyage") < 0.1


@pytest.mark.skipif(BACKEND != "postgresql", reason="pg_trgm is PostgreSQL's")
@pytest.mark.parametrize(
    ("first", "second"), [("formaton", "formation"), ("librarie", "librairie"), ("web", "wbe")]
)
def test_the_python_similarity_equals_pg_trgm(app, first, second):
    with app.app_context():
        expected = db.session.scalar(text("SELECT similarity(:a, :b)"), {"a": first, "b": second})
    assert spelling.similarity(first, second) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("typed", "suggested", "wanted"),
    [("formaton", "formation", "training"), ("librarie", "librairie", "books")],
)
def test_a_typo_shows_what_its_closest_spelling_finds(client, catalogue, typed, suggested, wanted):
    ids, suggestion, html = listing(client, typed)

    assert suggestion == suggested
    assert ids == [catalogue[wanted].id]
    assert f"q={suggested}" in html


def test_accents_are_still_ignored_and_an_exact_match_suggests_nothing(client, catalogue):
    ids, suggestion, _html = listing(client, "développeur")

    assert ids == [catalogue["training"].id]
    assert suggestion is None


def test_a_word_only_a_draft_holds_is_never_suggested(client, catalogue):
    ids, suggestion, html = listing(client, "caligraphie")

    assert (ids, suggestion) == ([], None)
    assert 'id="offers-empty"' in html


def test_nonsense_finds_nothing_and_suggests_nothing(client, catalogue):
    assert listing(client, "zzqxwv")[:2] == ([], None)


def test_the_suggestion_costs_a_fixed_number_of_queries(
    app, client, catalogue, create_partner, create_offer, count_queries
):
    listing(client, "formaton")  # warm the app's caches (categories, translations)
    with count_queries() as few:
        listing(client, "formaton librarie")
    partner = create_partner()
    for number in range(15):
        create_offer(partner, title_fr=f"Offre numéro {number} de formation", category="formation")
    with count_queries() as many:
        listing(client, "formaton librarie")
    assert len(many) == len(few)
    assert len(few) <= 14
