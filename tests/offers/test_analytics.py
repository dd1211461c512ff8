"""Offer analytics: daily counters, the partner's report pages and chart, the redemption CSV."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from offers import analytics
from offers import redemption as redemption_services
from offers.models import OfferDailyStat, Redemption

EN = {"Accept-Language": "en"}


@pytest.fixture
def partner(create_partner):
    return create_partner(name="Cinéma Lumière")


@pytest.fixture
def other_partner(create_partner):
    return create_partner(name="Other Company")


@pytest.fixture
def portal(client, login, partner):
    return login(client, partner.owner)


@pytest.fixture
def member(create_user):
    return create_user(alumni=True, status="verified", locale="en", full_name="Alice Dupont")


def add_stats(app, offer_id: int, rows: dict[date, tuple[int, int, int]]) -> None:
    with app.app_context():
        db.session.add_all(
            OfferDailyStat(offer_id=offer_id, day=day, views=v, reveals=r, redemptions=d)
            for day, (v, r, d) in rows.items()
        )
        db.session.commit()


def stat_row(app, offer_id: int, day: date) -> OfferDailyStat | None:
    with app.app_context():
        return db.session.scalar(
            select(OfferDailyStat).where(
                OfferDailyStat.offer_id == offer_id, OfferDailyStat.day == day
            )
        )


def random_rows(today: date, *, span: int, seed: int) -> dict[date, tuple[int, int, int]]:
    """Numbers on some days of the last ``span`` days (and some before, outside a period)."""
    rng = random.Random(seed)
    days = rng.sample(range(span), k=span // 3)
    return {
        today - timedelta(days=n): (rng.randint(0, 50), rng.randint(0, 20), rng.randint(0, 9))
        for n in days
    }


def cells(row_html: str) -> list[int]:
    return [int(cell.split("</td>")[0]) for cell in row_html.split("<td>")[1:]]


# ---------------------------------------------------------------- counters


def test_count_stat_inserts_then_increments(app, partner, create_offer):
    offer = create_offer(partner)
    today = utcnow().date()
    with app.app_context():
        analytics.count_reveal(offer_id=offer.id, day=today)
        analytics.count_reveal(offer_id=offer.id, day=today)
        analytics.count_stat(offer_id=offer.id, day=today, counter="views")
        db.session.commit()
    row = stat_row(app, offer.id, today)
    assert (row.views, row.reveals, row.redemptions) == (1, 2, 0)
    with app.app_context(), pytest.raises(ValueError, match="unknown counter"):
        analytics.count_stat(offer_id=offer.id, day=today, counter="id")


def test_opening_the_redemption_page_counts_a_reveal(
    app, client, login, partner, create_offer, member
):
    offer = create_offer(partner, method="generated_codes")
    login(client, member)
    response = client.post(f"/offers/wallet/redeem/{offer.id}")
    assert response.status_code == 302
    today = utcnow().date()
    before = stat_row(app, offer.id, today)
    assert (before.redemptions, before.reveals) == (1, 0)
    page = client.get(response.headers["Location"], headers=EN)
    assert page.status_code == 200
    assert 'id="benefit-code"' in page.text
    assert stat_row(app, offer.id, today).reveals == 1
    client.get(response.headers["Location"], headers=EN)
    after = stat_row(app, offer.id, today)
    assert (after.reveals, after.redemptions, after.views) == (2, 1, 0)


def test_a_used_pass_is_not_a_reveal(app, client, login, partner, create_offer, member):
    offer = create_offer(partner, method="voucher")
    with app.app_context():
        redemption = redemption_services.redeem_offer(
            offer.id, user=db.session.get(User, member.id)
        )
        redemption.validated_at = utcnow()
        db.session.commit()
        redemption_id = redemption.id
    login(client, member)
    page = client.get(f"/offers/wallet/{redemption_id}", headers=EN)
    assert 'id="benefit-used"' in page.text
    assert stat_row(app, offer.id, utcnow().date()).reveals == 0


def test_another_members_redemption_counts_nothing(
    app, client, login, partner, create_offer, member, create_user
):
    offer = create_offer(partner)
    with app.app_context():
        redemption = redemption_services.redeem_offer(
            offer.id, user=db.session.get(User, member.id)
        )
        db.session.commit()
        redemption_id = redemption.id
    login(client, create_user(alumni=True, status="verified"))
    assert client.get(f"/offers/wallet/{redemption_id}").status_code == 404
    assert stat_row(app, offer.id, utcnow().date()).reveals == 0


# ---------------------------------------------------------------- pages


@pytest.mark.parametrize("days", [7, 30, 90])
def test_overview_totals_equal_the_sums_of_the_rows(
    app, portal, partner, other_partner, create_offer, days
):
    today = utcnow().date()
    first, second = create_offer(partner), create_offer(partner, title_en="Second offer")
    quiet = create_offer(partner, status="draft", title_en="Quiet offer")
    foreign = create_offer(other_partner)
    inserted = {
        first.id: random_rows(today, span=120, seed=1),
        second.id: random_rows(today, span=120, seed=2),
        foreign.id: random_rows(today, span=120, seed=3),
    }
    for offer_id, rows in inserted.items():
        add_stats(app, offer_id, rows)
    since = today - timedelta(days=days - 1)

    def expected(offer_id: int) -> list[int]:
        rows = [v for day, v in inserted.get(offer_id, {}).items() if since <= day <= today]
        return [sum(row[i] for row in rows) for i in range(3)]

    page = portal.get(f"/offers/manage/analytics/?days={days}", headers=EN).text
    for offer in (first, second, quiet):
        row = page.split(f'id="offer-{offer.id}"')[1].split("</tr>")[0]
        assert cells(row) == expected(offer.id)
    assert f'id="offer-{foreign.id}"' not in page
    everything = [a + b for a, b in zip(expected(first.id), expected(second.id), strict=True)]
    for name, value in zip(analytics.COUNTERS, everything, strict=True):
        assert f'id="total-{name}">{value}<' in page
    # The daily table: every day of the period, the partner-wide sums, zeros filled.
    for n in range(days):
        day = today - timedelta(days=n)
        row = page.split(f'id="day-{day.isoformat()}"')[1].split("</tr>")[0]
        sums = [
            sum(inserted[o].get(day, (0, 0, 0))[i] for o in (first.id, second.id)) for i in range(3)
        ]
        assert cells(row) == sums
    assert f'id="day-{(today - timedelta(days=days)).isoformat()}"' not in page
    chart = json.loads(page.split('id="chart-data"')[1].split(">", 1)[1].split("</script>")[0])
    assert len(chart["labels"]) == days
    assert chart["labels"][-1] == today.isoformat()
    assert [sum(series["data"]) for series in chart["datasets"]] == everything


def test_offer_page_zero_fills_every_day(app, portal, partner, create_offer):
    offer = create_offer(partner)
    today = utcnow().date()
    rows = {today: (5, 3, 1), today - timedelta(days=6): (2, 0, 0)}
    add_stats(app, offer.id, rows | {today - timedelta(days=7): (100, 100, 100)})
    page = portal.get(f"/offers/manage/analytics/{offer.id}?days=7", headers=EN).text
    days = [today - timedelta(days=n) for n in range(7)]
    for day in days:
        row = page.split(f'id="day-{day.isoformat()}"')[1].split("</tr>")[0]
        assert cells(row) == list(rows.get(day, (0, 0, 0)))
    assert page.count('<tr id="day-') == 7
    assert 'id="total-views">7<' in page
    assert 'id="total-redemptions">1<' in page
    chart = json.loads(page.split('id="chart-data"')[1].split(">", 1)[1].split("</script>")[0])
    assert chart["labels"] == [day.isoformat() for day in reversed(days)]
    views = next(series for series in chart["datasets"] if series["key"] == "views")
    assert views["data"] == [2, 0, 0, 0, 0, 0, 5]


def test_unknown_period_falls_back_to_thirty_days(portal, partner, create_offer):
    offer = create_offer(partner)
    page = portal.get(f"/offers/manage/analytics/{offer.id}?days=1000").text
    assert page.count('<tr id="day-') == 30
    assert portal.get("/offers/manage/analytics/?days=abc").status_code == 200


def test_pages_load_the_vendored_chart_from_the_site(portal, partner, create_offer):
    offer = create_offer(partner)
    response = portal.get(f"/offers/manage/analytics/{offer.id}")
    page = response.text
    # Static files of the site ('self' in the CSP), no per-response nonce.
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer>' in page
    assert '<script src="/static/js/offer-chart.js" defer>' in page
    assert "cdn" not in page.lower()
    for path in ("/static/vendor/chartjs/chart.umd.min.js", "/static/js/offer-chart.js"):
        static = portal.get(path)
        assert static.status_code == 200
        static.close()


def test_empty_states(portal, partner, create_offer):
    assert 'id="no-offers"' in portal.get("/offers/manage/analytics/").text
    offer = create_offer(partner)
    page = portal.get(f"/offers/manage/analytics/{offer.id}").text
    assert 'id="no-activity"' in page
    assert 'id="total-views">0<' in page


def test_another_partners_offer_is_not_found(app, portal, other_partner, create_offer, create_user):
    foreign = create_offer(other_partner)
    assert portal.get(f"/offers/manage/analytics/{foreign.id}").status_code == 404
    assert (
        portal.get(f"/offers/manage/analytics/redemptions.csv?offer_id={foreign.id}").status_code
        == 404
    )
    assert portal.get("/offers/manage/analytics/redemptions.csv?offer_id=x").status_code == 404


def test_members_and_disabled_representatives_are_refused(
    app, client, login, partner, create_offer, add_partner_member, member
):
    offer = create_offer(partner)
    login(client, member)
    for url in (
        "/offers/manage/analytics/",
        f"/offers/manage/analytics/{offer.id}",
        "/offers/manage/analytics/redemptions.csv",
    ):
        assert client.get(url).status_code == 403
    disabled = add_partner_member(partner, disabled=True)
    login(client, disabled)
    assert client.get("/offers/manage/analytics/").status_code == 403
    manager = add_partner_member(partner)
    login(client, manager)
    assert client.get("/offers/manage/analytics/").status_code == 200


def _overview_queries(portal, count_queries) -> int:
    with count_queries() as statements:
        assert portal.get("/offers/manage/analytics/?days=90").status_code == 200
    return len(statements)


def test_overview_runs_a_fixed_number_of_queries(app, portal, partner, create_offer, count_queries):
    today = utcnow().date()
    offer = create_offer(partner)
    add_stats(app, offer.id, random_rows(today, span=90, seed=4))
    one = _overview_queries(portal, count_queries)
    for index in range(19):
        extra = create_offer(partner, title_en=f"Offer {index}")
        add_stats(app, extra.id, random_rows(today, span=90, seed=10 + index))
    assert _overview_queries(portal, count_queries) == one


def test_offer_page_runs_a_fixed_number_of_queries(
    app, portal, partner, create_offer, count_queries
):
    quiet, busy = create_offer(partner), create_offer(partner)
    add_stats(app, busy.id, random_rows(utcnow().date(), span=90, seed=5))
    counts = []
    for offer in (quiet, busy):
        with count_queries() as statements:
            assert portal.get(f"/offers/manage/analytics/{offer.id}?days=90").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


# ---------------------------------------------------------------- CSV export


def _redeem(app, offer_id: int, user: User) -> int:
    with app.app_context():
        redemption = redemption_services.redeem_offer(offer_id, user=db.session.get(User, user.id))
        db.session.commit()
        return redemption.id


def _read_csv(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_holds_the_partners_redemptions_only(
    app, portal, partner, other_partner, create_offer, create_user
):
    shared = create_offer(partner, title_en="Cinema night", shared_code="=HYPERLINK(1)")
    voucher = create_offer(partner, method="voucher", title_en="@Pass")
    link = create_offer(partner, method="link", title_en="+Link deal")
    foreign = create_offer(other_partner, shared_code="FOREIGN")
    alice = create_user(alumni=True, status="verified", full_name="Alice Dupont")
    bob = create_user(alumni=True, status="verified", full_name="-Bob Martin Jr")
    ids = {
        "shared": _redeem(app, shared.id, alice),
        "voucher": _redeem(app, voucher.id, bob),
        "link": _redeem(app, link.id, alice),
    }
    foreign_id = _redeem(app, foreign.id, alice)
    with app.app_context():
        row = db.session.get(Redemption, ids["voucher"])
        row.validated_at = utcnow()
        db.session.commit()
        token = row.voucher_token
        stored = {
            rid: db.session.get(Redemption, rid).redeemed_at.isoformat() for rid in ids.values()
        }
    response = portal.get("/offers/manage/analytics/redemptions.csv", headers=EN)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert disposition.endswith('.csv"')
    assert response.is_streamed
    rows = _read_csv(response)
    assert rows[0] == list(analytics.EXPORT_HEADER)
    body = {int(row[0]): row for row in rows[1:]}
    assert set(body) == set(ids.values())
    assert foreign_id not in body
    assert "FOREIGN" not in response.text
    assert token not in response.text
    assert body[ids["shared"]] == [
        str(ids["shared"]),
        str(shared.id),
        "Cinema night",
        stored[ids["shared"]],
        "'=HYPERLINK(1)",
        "",
        "Alice",
    ]
    voucher_row = body[ids["voucher"]]
    assert voucher_row[2] == "'@Pass"
    assert voucher_row[4] == "voucher"
    assert voucher_row[5] != ""
    assert voucher_row[6] == "'-Bob"
    assert body[ids["link"]][2:5] == ["'+Link deal", stored[ids["link"]], "link"]
    # Data minimisation: no surname, no e-mail.
    assert "Dupont" not in response.text
    assert "@example.org" not in response.text


def test_csv_of_one_offer(app, portal, partner, create_offer, create_user):
    first, second = create_offer(partner), create_offer(partner)
    alice = create_user(alumni=True, status="verified", full_name="Alice Dupont")
    kept = _redeem(app, first.id, alice)
    _redeem(app, second.id, alice)
    response = portal.get(f"/offers/manage/analytics/redemptions.csv?offer_id={first.id}")
    assert response.status_code == 200
    assert [int(row[0]) for row in _read_csv(response)[1:]] == [kept]
    assert f"offer-{first.id}" in response.headers["Content-Disposition"]


def test_csv_streams_every_row_in_chunks(
    app, portal, partner, create_offer, create_user, monkeypatch
):
    monkeypatch.setattr(analytics, "EXPORT_CHUNK", 3)
    offer = create_offer(partner, per_member_limit=1)
    expected = [
        _redeem(app, offer.id, create_user(alumni=True, status="verified")) for _ in range(8)
    ]
    response = portal.get("/offers/manage/analytics/redemptions.csv")
    assert response.is_streamed
    chunks = [chunk for chunk in response.response if chunk]
    assert len(chunks) == 1 + 3  # the header, then one chunk per three rows
    raw = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in chunks)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [int(row[0]) for row in rows[1:]] == expected


def test_empty_csv_has_the_header(portal):
    rows = _read_csv(portal.get("/offers/manage/analytics/redemptions.csv"))
    assert rows == [list(analytics.EXPORT_HEADER)]


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6", "'+33 6"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (None, ""),
        (12, "12"),
    ],
)
def test_safe_cell(value, safe):
    assert analytics.safe_cell(value) == safe


def test_the_portal_links_to_analytics(portal):
    page = portal.get("/offers/manage/").text
    assert 'id="offer-analytics"' in page
    assert 'href="/offers/manage/analytics/"' in page


def test_visitors_views_reach_the_partners_statistics_after_the_due_task(
    app, portal, partner, create_offer, page_cache
):
    from marketplace.tasks import run_due

    offer = create_offer(partner)
    visitor = app.test_client()
    for _ in range(3):  # rendered once, then served from the page cache
        assert visitor.get(f"/offers/{offer.id}").status_code == 200
    page = portal.get(f"/offers/manage/analytics/{offer.id}?days=7", headers=EN).text
    assert 'id="total-views">0<' in page  # counted, not written yet
    with app.app_context():
        run_due(echo=lambda line: None)
    page = portal.get(f"/offers/manage/analytics/{offer.id}?days=7", headers=EN).text
    assert 'id="total-views">3<' in page
    dashboard = portal.get("/partners/dashboard", headers=EN).text
    views = dashboard.split('id="recent-views"')[1].split("</article>")[0]
    assert '<p class="figure-value">3</p>' in views
