"""Property-based tests (hypothesis) of the code pool import: the CSV/text parser of the portal
upload and ``add_codes`` behind it and behind POST /api/v1/partner/offers/{id}/codes.

Any text parses without an exception; codes written one per line (or in a CSV's first
column) come back as written, stripped, whatever the line endings, BOM, header or quotes;
``added + duplicates + blanks`` always equals what was sent and the pool never holds a code
twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.extensions import db
from offers.code_pool import MAX_CODE_LENGTH, add_codes, parse_code_file
from offers.models import Offer, OfferCode

FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None)
WITH_DB = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# A code as partners write them: no line break, no comma or quote (those need CSV quoting).
code_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Zl", "Zp", "Cc"), blacklist_characters=',"'
    ),
    min_size=1,
    max_size=40,
).filter(lambda value: value.strip() and value.strip().lower() != "code")
padding = st.sampled_from(["", " ", "  ", "\t", " \t "])
line_end = st.sampled_from(["\n", "\r\n", "\r"])


@FAST
@given(st.text())
@example("a\rb")  # a classic Mac file: csv.Error "new-line character seen in unquoted field"
@example("x" * 140_000)  # one line past the csv module's field limit
@example('"unterminated\nquote')
@example("\ufeffcode\nA\x00B\n")
def test_parsing_any_text_never_raises(text: str) -> None:
    codes = parse_code_file(text)
    assert all(isinstance(code, str) for code in codes)
    assert all(code == code.strip() for code in codes)


@FAST
@given(
    codes=st.lists(code_text, max_size=30),
    pad=padding,
    end=line_end,
    bom=st.booleans(),
    header=st.sampled_from([None, "code", "Code", " CODE "]),
    final_newline=st.booleans(),
)
def test_one_code_per_line_comes_back_stripped_whatever_the_line_ends(
    codes: list[str], pad: str, end: str, bom: bool, header: str | None, final_newline: bool
) -> None:
    lines = ([header] if header else []) + [f"{pad}{code}{pad}" for code in codes]
    text = ("\ufeff" if bom else "") + end.join(lines) + (end if final_newline and lines else "")
    parsed = [code for code in parse_code_file(text) if code]
    assert parsed == [code.strip() for code in codes]


@FAST
@given(
    codes=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Zl", "Zp", "Cc")),
            min_size=1,
            max_size=30,
        ).filter(lambda value: value.strip() and value.strip().lower() != "code"),
        max_size=20,
    ),
    other=st.text(alphabet="abc ,;\"'", max_size=10),
)
def test_quoted_csv_first_column_holds_commas_and_quotes(codes: list[str], other: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(["code", "note"])
    for code in codes:
        writer.writerow([code, other])
    parsed = [code for code in parse_code_file(buffer.getvalue()) if code]
    assert parsed == [code.strip() for code in codes]


# ---------------------------------------------------------------- add_codes on the database


@pytest.fixture
def pool_offer(
    app: Flask, create_partner: Callable[..., object], create_offer: Callable[..., Offer]
) -> Callable[[], tuple[int, User]]:
    """A factory of empty unique-codes offers (one per hypothesis example) and its owner."""
    partner = create_partner("Pool Partner")

    def make() -> tuple[int, User]:
        offer = create_offer(partner, method="unique_codes", status="draft")
        return offer.id, partner.owner

    return make


def stored_codes(offer_id: int) -> list[str]:
    return list(db.session.scalars(select(OfferCode.code).where(OfferCode.offer_id == offer_id)))


@WITH_DB
@given(
    first=st.lists(st.one_of(code_text, padding, st.just("A\x00")), max_size=25),
    second=st.lists(st.one_of(code_text, padding), max_size=25),
)
def test_added_plus_duplicates_plus_blanks_is_what_was_sent_and_no_code_is_stored_twice(
    app: Flask, pool_offer: Callable[[], tuple[int, User]], first: list[str], second: list[str]
) -> None:
    offer_id, owner = pool_offer()
    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        actor = db.session.get(User, owner.id)
        expected: set[str] = set()
        for batch in (first, second):
            cleaned = [code.replace("\x00", "").strip() for code in batch]
            blanks = sum(1 for code in cleaned if not code)
            new = {code for code in cleaned if code} - expected
            added, duplicates = add_codes(offer, actor=actor, codes=batch)
            db.session.commit()
            assert added + duplicates + blanks == len(batch)
            assert added == len(new)
            expected |= new
            rows = stored_codes(offer_id)
            assert len(rows) == len(set(rows)), "a code is stored twice"
            assert set(rows) == expected
        repeat_added, repeat_duplicates = add_codes(offer, actor=actor, codes=first)
        assert repeat_added == 0
        assert repeat_duplicates == sum(1 for code in first if code.replace("\x00", "").strip())


def test_a_code_longer_than_the_limit_refuses_the_whole_batch(app, pool_offer) -> None:
    offer_id, owner = pool_offer()
    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        with pytest.raises(Exception, match=str(MAX_CODE_LENGTH)):
            add_codes(
                offer,
                actor=db.session.get(User, owner.id),
                codes=["GOOD", "X" * (MAX_CODE_LENGTH + 1)],
            )
        db.session.rollback()
        assert (
            db.session.scalar(
                select(func.count()).select_from(OfferCode).where(OfferCode.offer_id == offer_id)
            )
            == 0
        )


# ---------------------------------------------------------------- through the portal and API


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(upload=st.binary(max_size=300))
@example(upload=b"a\rb\rc")
@example(upload=b"\xff\xfeA\x00")  # UTF-16: not UTF-8, refused with a message
@example(upload=b"x" * 140_000)
def test_portal_upload_of_any_bytes_answers_a_redirect_never_a_500(
    app: Flask, login, pool_offer, upload: bytes
) -> None:
    offer_id, owner = pool_offer()
    client = login(app.test_client(), owner)
    response = client.post(
        f"/offers/manage/{offer_id}/codes",
        data={"file": (io.BytesIO(upload), "codes.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 303), response.status_code


@pytest.mark.parametrize(
    "body",
    [
        b'{"codes": ["OK-1", "\\ud800"]}',  # a lone surrogate: JSON syntax, but no text
        b'{"codes": ["\\udfff-tail"]}',
    ],
)
def test_api_codes_with_a_lone_surrogate_answer_400_not_500(
    client, api_headers, pool_offer, body: bytes
) -> None:
    offer_id, owner = pool_offer()
    response = client.post(
        f"/api/v1/partner/offers/{offer_id}/codes",
        data=body,
        headers={**api_headers(owner), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == 400
