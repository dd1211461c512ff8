"""The core's full-text helpers, shared by the offers and jobs searches."""

from __future__ import annotations

from jobs import search as job_search
from marketplace.fulltext import FullTextIndex
from offers import search as offer_search


def test_a_full_text_index_names_its_objects_after_the_table():
    index = FullTextIndex("offers")
    assert index.fts_table == "offers_fts"
    assert index.is_search_object("search_vector", "column")
    assert index.is_search_object("ix_offers_search_vector", "index")
    assert index.is_search_object("offers_fts_config", "table")
    assert not index.is_search_object("ix_jobs_search_vector", "index")
    assert not index.is_search_object("offers", "table")


def test_offers_and_jobs_search_through_the_same_helpers():
    assert offer_search.FULL_TEXT.table == "offers"
    assert job_search.FULL_TEXT.table == "jobs"
    assert offer_search.query_words is job_search.query_words
