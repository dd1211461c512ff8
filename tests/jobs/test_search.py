"""Full-text search of jobs (PostgreSQL tsvector / SQLite FTS5), filters and sorting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from jobs.models import Job
from jobs.search import JobFilters, Sort, is_search_object, search_jobs
from jobs.services import fold
from marketplace import create_app
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.fulltext import fts5_match
from tests.conftest import BACKEND
from tests.conftest import test_config as make_test_config


def found(app, **filters) -> list[int]:
    """The ids ``search_jobs`` returns, in order."""
    with app.app_context():
        statement = search_jobs(JobFilters(**filters))
        return [job.id for job in db.session.scalars(statement).unique()]


def test_fts5_match_quotes_every_word_as_a_prefix():
    assert fts5_match('Éco OR "stage" NEAR( -x *') == '"eco"* "or"* "stage"* "near"* "x"*'
    assert fts5_match('"""') == ""


def test_search_objects_are_recognised_for_autogenerate():
    assert is_search_object("search_vector", "column")
    assert is_search_object("ix_jobs_search_vector", "index")
    assert is_search_object("jobs_fts_data", "table")
    assert not is_search_object("jobs", "table")
    assert not is_search_object("ix_jobs_country", "index")
    assert not is_search_object(None, "table")


def test_search_finds_a_word_of_the_description(app, create_partner, create_job):
    partner = create_partner(name="Atelier")
    wanted = create_job(partner, description_fr="Maintenance des turbines hydrauliques.")
    create_job(partner, description_fr="Gestion de la paie.")

    assert found(app, q="turbines") == [wanted.id]


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("Poste réservé aux ingénieurs électriciens", "electriciens"),
        ("Poste de metreur", "métreur"),
    ],
)
def test_accents_are_ignored_both_ways(app, create_partner, create_job, stored, typed):
    job = create_job(create_partner(), description_fr=stored, description_en=None)

    assert found(app, q=typed) == [job.id]


def test_french_and_english_words_both_match(app, create_partner, create_job):
    job = create_job(
        create_partner(),
        description_fr="Développement d'applications bancaires.",
        description_en="Banking software development for retail customers.",
    )

    assert found(app, q="bancaires") == [job.id]
    assert found(app, q="banking") == [job.id]
    assert found(app, q="retail banking") == [job.id]
    assert found(app, q="banking pizza") == []


def test_partner_name_and_city_are_searched(app, create_partner, create_job):
    job = create_job(create_partner(name="Société Générique"), city="Montréal")

    assert found(app, q="societe") == [job.id]
    assert found(app, q="montreal") == [job.id]


@pytest.mark.parametrize(
    "attack",
    ['"', '""', "*", "stage OR", "OR", "NEAR(", "NEAR(a b)", "-stage", "a:b", "'; DROP", "^"],
)
def test_fts_syntax_in_a_query_does_not_error(app, create_partner, create_job, attack):
    create_job(create_partner(), description_fr="Un stage à Lyon.")

    ids = found(app, q=attack)

    assert isinstance(ids, list)


def test_search_of_a_changed_job_follows_its_new_text(app, create_partner, create_job):
    job = create_job(create_partner(), description_fr="Poste de charpentier.")
    with app.app_context():
        row = db.session.get(Job, job.id)
        row.search_fr = fold("Poste de plombière.")
        row.search_en = ""
        db.session.commit()

    assert found(app, q="charpentier") == []
    assert found(app, q="plombiere") == [job.id]


def test_search_does_not_find_a_deleted_job(app, create_partner, create_job):
    job = create_job(create_partner(), description_fr="Pilote de montgolfière.")
    with app.app_context():
        db.session.delete(db.session.get(Job, job.id))
        db.session.commit()

    assert found(app, q="montgolfiere") == []


def test_relevance_puts_the_best_match_first(app, create_partner, create_job):
    partner = create_partner()
    weak = create_job(partner, title_fr="Poste", description_fr="Un peu de Python.")
    strong = create_job(
        partner,
        title_fr="Développeur Python",
        description_fr="Python, Python et encore Python pour nos outils Python.",
        published_at=utcnow() - timedelta(days=3),
    )

    assert found(app, q="python", sort=Sort.RELEVANCE) == [strong.id, weak.id]
    assert found(app, q="python") == [strong.id, weak.id]
    assert found(app, q="python", sort=Sort.NEWEST) == [weak.id, strong.id]


def test_only_published_jobs_still_open_are_listed(app, create_partner, create_job):
    partner = create_partner()
    now = utcnow()
    live = create_job(partner, apply_deadline=now.date(), listed_until=now + timedelta(days=1))
    for status in ("draft", "submitted", "changes_requested", "rejected", "closed", "expired"):
        create_job(partner, status=status)
    create_job(partner, status="archived")
    create_job(partner, listed_until=now - timedelta(minutes=1))
    create_job(partner, apply_deadline=now.date() - timedelta(days=1))

    assert found(app) == [live.id]


def test_filters(app, create_partner, create_job):
    partner = create_partner()
    paris = create_job(
        partner,
        contract="internship",
        country="FR",
        city="Paris",
        remote="hybrid",
        languages=("fr", "en"),
    )
    lisbon = create_job(
        partner,
        contract="permanent",
        country="PT",
        city="Lisbonne",
        remote="remote",
        languages=("pt",),
    )
    lyon = create_job(partner, contract="permanent", country="FR", city="Lyon", languages=("fr",))

    assert found(app, contract="internship") == [paris.id]
    assert set(found(app, contract="permanent")) == {lisbon.id, lyon.id}
    assert found(app, contract="freelance") == []
    assert set(found(app, country="FR")) == {paris.id, lyon.id}
    assert found(app, country="PT") == [lisbon.id]
    assert found(app, city="lisbonne") == [lisbon.id]
    assert found(app, remote="hybrid") == [paris.id]
    assert found(app, remote="onsite") == [lyon.id]
    assert set(found(app, language="fr")) == {paris.id, lyon.id}
    assert found(app, language="en") == [paris.id]
    assert found(app, language="de") == []
    assert found(app, country="FR", contract="permanent", language="fr") == [lyon.id]


def test_sorting(app, create_partner, create_job):
    partner = create_partner()
    now = utcnow()
    today = now.date()
    old = create_job(
        partner, published_at=now - timedelta(days=9), apply_deadline=today + timedelta(days=2)
    )
    middle = create_job(partner, published_at=now - timedelta(days=5))
    new = create_job(
        partner, published_at=now - timedelta(days=1), apply_deadline=today + timedelta(days=20)
    )

    assert found(app) == [new.id, middle.id, old.id]
    assert found(app, sort=Sort.NEWEST) == [new.id, middle.id, old.id]
    # Soonest deadline first; jobs without a deadline come last.
    assert found(app, sort=Sort.DEADLINE) == [old.id, new.id, middle.id]


def test_filters_from_a_query_string_ignore_nonsense():
    filters = JobFilters.from_args(
        {
            "q": "  stagiaire ",
            "country": "fr",
            "contract": "slavery",
            "remote": "HYBRID",
            "language": "EN",
            "sort": "sideways",
        }
    )

    assert filters == JobFilters(q="stagiaire", country="FR", remote="hybrid", language="en")
    assert filters.effective_sort == Sort.RELEVANCE
    assert JobFilters().effective_sort == Sort.NEWEST
    assert JobFilters(sort=Sort.RELEVANCE).effective_sort == Sort.NEWEST
    assert JobFilters(sort=Sort.DEADLINE).effective_sort == Sort.DEADLINE
    assert filters.as_args() == {
        "q": "stagiaire",
        "country": "FR",
        "remote": "hybrid",
        "language": "en",
    }


def _search_objects() -> set[str]:
    with db.engine.connect() as connection:
        inspector = inspect(connection)
        names = {name for name in inspector.get_table_names() if name.startswith("jobs_fts")}
        if any(column["name"] == "search_vector" for column in inspector.get_columns("jobs")):
            names.add("jobs.search_vector")
        names |= {index["name"] for index in inspector.get_indexes("jobs")} & {
            "ix_jobs_search_vector"
        }
    return names


def test_the_search_migration_goes_up_and_down(make_database, tmp_path):
    application = create_app(make_test_config(make_database(), tmp_path))
    # With the words of the typo-tolerant search (migration e246ccb1b0ad) at the head.
    expected = (
        {"jobs.search_vector", "ix_jobs_search_vector", "jobs_fts_terms"}
        if BACKEND == "postgresql"
        else {"jobs_fts", "jobs_fts_config", "jobs_fts_data", "jobs_fts_docsize", "jobs_fts_idx"}
        | {"jobs_fts_vocab"}
    )
    with application.app_context():
        try:
            upgrade()
            assert _search_objects() == expected

            downgrade(revision="6574ec769d45")
            assert _search_objects() == set()

            upgrade()
            assert _search_objects() == expected
        finally:
            db.engine.dispose()
