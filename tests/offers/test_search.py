"""Full-text search of offers (PostgreSQL tsvector / SQLite FTS5), filters and sorting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from marketplace import create_app
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.fulltext import fts5_match
from marketplace.text import fold as folded
from offers import search
from offers.models import Offer
from offers.search import OfferFilters, Sort, search_offers
from tests.conftest import BACKEND
from tests.conftest import test_config as make_test_config


def found(app, **filters) -> list[int]:
    """The ids ``search_offers`` returns, in order."""
    with app.app_context():
        statement = search_offers(OfferFilters(**filters))
        return [offer.id for offer in db.session.scalars(statement).unique()]


def test_folded_drops_accents_and_case():
    assert folded("Élève Noël ÇA") == "eleve noel ca"
    assert folded("ﬁne") == "fine"
    assert folded(None) == ""


def test_fts5_match_quotes_every_word_as_a_prefix():
    assert fts5_match('Éco OR "voyage" NEAR( -x *') == '"eco"* "or"* "voyage"* "near"* "x"*'
    assert fts5_match('"""') == ""


def test_search_finds_a_word_of_the_description(app, create_partner, create_offer):
    partner = create_partner(name="Librairie")
    wanted = create_offer(partner, description_fr="Remise sur les dictionnaires bilingues.")
    create_offer(partner, description_fr="Remise sur les romans.")

    assert found(app, q="dictionnaires") == [wanted.id]


@pytest.mark.parametrize(
    ("stored", "typed"),
    [("Tarif réservé aux élèves", "eleve"), ("Tarif reserve aux eleves", "élève")],
)
def test_accents_are_ignored_both_ways(app, create_partner, create_offer, stored, typed):
    offer = create_offer(create_partner(), description_fr=stored, description_en=None)

    assert found(app, q=typed) == [offer.id]


def test_french_and_english_words_both_match(app, create_partner, create_offer):
    offer = create_offer(
        create_partner(),
        description_fr="Une croisière sur le fleuve.",
        description_en="A river cruise for the whole family.",
    )

    assert found(app, q="croisière") == [offer.id]
    assert found(app, q="cruise") == [offer.id]
    assert found(app, q="family cruise") == [offer.id]
    assert found(app, q="cruise pizza") == []


def test_partner_name_and_city_are_searched(app, create_partner, create_offer):
    offer = create_offer(create_partner(name="Café Lumière"), city="Montréal")

    assert found(app, q="lumiere") == [offer.id]
    assert found(app, q="montreal") == [offer.id]


@pytest.mark.skipif(BACKEND != "sqlite", reason="prefix matching is the SQLite FTS5 behaviour")
def test_sqlite_matches_word_prefixes(app, create_partner, create_offer):
    offer = create_offer(create_partner(), description_fr="Abonnement photographique annuel.")

    assert found(app, q="photo") == [offer.id]


@pytest.mark.parametrize(
    "attack",
    ['"', '""', "*", "voyage OR", "OR", "NEAR(", "NEAR(a b)", "-voyage", "a:b", "'; DROP", "^"],
)
def test_fts_syntax_in_a_query_does_not_error(app, create_partner, create_offer, attack):
    create_offer(create_partner())

    ids = found(app, q=attack)

    assert isinstance(ids, list)


def test_search_of_a_changed_offer_follows_its_new_text(app, create_partner, create_offer):
    offer = create_offer(create_partner(), description_fr="Réduction sur les kayaks.")
    with app.app_context():
        row = db.session.get(Offer, offer.id)
        row.search_fr = folded("Réduction sur les parapentes.")
        db.session.commit()

    assert found(app, q="kayaks") == []
    assert found(app, q="parapentes") == [offer.id]


def test_search_does_not_find_a_deleted_offer(app, create_partner, create_offer):
    offer = create_offer(create_partner(), description_fr="Séjour en montgolfière.")
    with app.app_context():
        db.session.delete(db.session.get(Offer, offer.id))
        db.session.commit()

    assert found(app, q="montgolfiere") == []


def test_relevance_puts_the_best_match_first(app, create_partner, create_offer):
    partner = create_partner()
    weak = create_offer(partner, title_fr="Offre", description_fr="Un vélo.", summary_fr=None)
    strong = create_offer(
        partner,
        title_fr="Vélo vélo vélo",
        summary_fr="Le vélo pour tous",
        description_fr="Vélo électrique, vélo de route.",
    )

    assert found(app, q="velo", sort=Sort.RELEVANCE) == [strong.id, weak.id]


def test_only_published_offers_valid_now_are_listed(app, create_partner, create_offer):
    partner = create_partner()
    now = utcnow()
    live = create_offer(partner, starts_at=now - timedelta(days=1), ends_at=now + timedelta(1))
    create_offer(partner, status="draft")
    create_offer(partner, status="submitted")
    create_offer(partner, status="paused")
    create_offer(partner, status="expired")
    create_offer(partner, status="archived")
    create_offer(partner, starts_at=now + timedelta(days=1))
    create_offer(partner, ends_at=now - timedelta(minutes=1))

    assert found(app) == [live.id]


def test_filters(app, create_partner, create_offer):
    alpha = create_partner(name="Alpha")
    beta = create_partner(name="Beta")
    travel_pt = create_offer(
        alpha, category="travel", countries=["PT"], online=False, city="Lisbonne"
    )
    books_world = create_offer(beta, category="books", online=True)
    books_fr = create_offer(beta, category="books", countries=["FR", "BE"], online=True)

    assert found(app, category="travel") == [travel_pt.id]
    assert set(found(app, category="books")) == {books_world.id, books_fr.id}
    assert found(app, category="unknown") == []
    assert set(found(app, country="PT")) == {travel_pt.id, books_world.id}
    assert set(found(app, country="BE")) == {books_fr.id, books_world.id}
    assert found(app, country="JP") == [books_world.id]
    assert found(app, city="lisbonne") == [travel_pt.id]
    assert found(app, online=False) == [travel_pt.id]
    assert set(found(app, online=True)) == {books_world.id, books_fr.id}
    assert found(app, partner=str(alpha.id)) == [travel_pt.id]
    assert set(found(app, partner=beta.slug)) == {books_world.id, books_fr.id}
    assert found(app, partner="no-such-partner") == []


def test_sorting(app, create_partner, create_offer):
    partner = create_partner()
    now = utcnow()
    old = create_offer(
        partner, published_at=now - timedelta(days=9), ends_at=now + timedelta(days=2)
    )
    middle = create_offer(partner, published_at=now - timedelta(days=5), redeemed_count=40)
    new = create_offer(
        partner,
        published_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=30),
        redeemed_count=3,
    )

    assert found(app) == [new.id, middle.id, old.id]
    assert found(app, sort=Sort.NEWEST) == [new.id, middle.id, old.id]
    assert found(app, sort=Sort.ENDING) == [old.id, new.id, middle.id]
    assert found(app, sort=Sort.POPULAR) == [middle.id, new.id, old.id]


def test_filters_from_a_query_string_ignore_nonsense():
    filters = OfferFilters.from_args(
        {"q": "  vélo ", "country": "pt", "online": "maybe", "sort": "sideways"}
    )

    assert filters == OfferFilters(q="vélo", country="PT")
    assert filters.effective_sort == Sort.RELEVANCE
    assert OfferFilters().effective_sort == Sort.NEWEST
    assert OfferFilters(sort=Sort.RELEVANCE).effective_sort == Sort.NEWEST
    assert filters.as_args() == {"q": "vélo", "country": "PT"}
    assert OfferFilters(online=False).as_args() == {"online": "0"}


def test_count_offer_view_inserts_then_increments(app, create_partner, create_offer):
    offer = create_offer(create_partner())
    today = utcnow().date()
    with app.app_context():
        search.count_offer_view(offer_id=offer.id, day=today)
        search.count_offer_view(offer_id=offer.id, day=today)
        db.session.commit()
    with app.app_context():
        from offers.models import OfferDailyStat

        stat = db.session.scalar(select(OfferDailyStat).where(OfferDailyStat.offer_id == offer.id))
        assert (stat.day, stat.views) == (today, 2)


def _search_objects() -> set[str]:
    with db.engine.connect() as connection:
        inspector = inspect(connection)
        names = {name for name in inspector.get_table_names() if name.startswith("offers_fts")}
        if any(column["name"] == "search_vector" for column in inspector.get_columns("offers")):
            names.add("offers.search_vector")
        names |= {index["name"] for index in inspector.get_indexes("offers")} & {
            "ix_offers_search_vector"
        }
    return names


def test_the_search_migration_goes_up_and_down(make_database, tmp_path):
    application = create_app(make_test_config(make_database(), tmp_path))
    # With the words of the typo-tolerant search (migration e246ccb1b0ad) at the head.
    expected = (
        {"offers.search_vector", "ix_offers_search_vector", "offers_fts_terms"}
        if BACKEND == "postgresql"
        else {"offers_fts", "offers_fts_config", "offers_fts_data", "offers_fts_docsize"}
        | {"offers_fts_idx", "offers_fts_vocab"}
    )
    with application.app_context():
        try:
            upgrade()
            assert _search_objects() == expected

            downgrade(revision="78e6db7b7660")
            assert _search_objects() == set()

            upgrade()
            assert _search_objects() == expected
        finally:
            db.engine.dispose()
