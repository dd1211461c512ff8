"""The application cache (marketplace/cache.py): the treasury's sums are read once, and a
committed write to the ledger — ORM row or UPDATE statement — makes the next read fresh;
a rolled-back write does not."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import update

from marketplace.cache import cache, cached, table_versions
from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.treasury import dashboard
from tests.conftest import counting_queries

YEAR = dashboard.Period(start=date(2030, 1, 1), end=date(2030, 12, 31))


def _payment(amount: int) -> Payment:
    moment = datetime(2030, 6, 1, 12, tzinfo=UTC)
    return Payment(
        kind=PaymentKind.MEMBERSHIP,
        status=PaymentStatus.SUCCEEDED,
        amount=amount,
        currency="eur",
        payer_name="Cache Test",
        description="cache test",
        created_at=moment,
        succeeded_at=moment,
        stripe_fee=0,
    )


def _gross() -> int:
    data = dashboard.build_dashboard(period=YEAR, today=date(2030, 12, 31), months=12)
    return sum(figures.total.gross for figures in data.figures)


def _selects(app, call) -> tuple[object, int]:
    with counting_queries(app, selects_only=True) as seen:
        result = call()
    return result, len(seen)


def test_the_dashboard_sums_are_read_once_then_served_from_the_cache(app):
    with app.app_context():
        db.session.add(_payment(4000))
        db.session.commit()
        first, cold = _selects(app, _gross)
        second, warm = _selects(app, _gross)
    assert first == second == 4000
    # The period sums (4 queries: payments, refunds, disputes, other currencies), the series
    # (3) and the membership counts (1) are cached.
    assert warm == cold - 8


def test_a_committed_payment_refreshes_the_sums(app):
    with app.app_context():
        assert _gross() == 0
        db.session.add(_payment(1500))
        db.session.commit()
        assert _gross() == 1500


def test_an_update_statement_refreshes_the_sums(app):
    with app.app_context():
        db.session.add(_payment(1500))
        db.session.commit()
        assert _gross() == 1500
        db.session.execute(update(Payment).where(Payment.amount == 1500).values(amount=2500))
        db.session.commit()
        assert _gross() == 2500


def test_a_rolled_back_write_moves_no_version(app):
    with app.app_context():
        before = table_versions(["payments"])
        db.session.add(_payment(900))
        db.session.flush()
        db.session.rollback()
        assert table_versions(["payments"]) == before
        db.session.add(_payment(900))
        db.session.commit()
        assert table_versions(["payments"])[0] == before[0] + 1


def test_a_cached_value_is_keyed_by_its_arguments_and_tables(app):
    calls: list[int] = []

    def compute(value: int) -> int:
        calls.append(value)
        return value * 2

    with app.app_context():
        cache.clear()
        assert cached("double", ["categories"], (2,), lambda: compute(2)) == 4
        assert cached("double", ["categories"], (2,), lambda: compute(2)) == 4
        assert cached("double", ["categories"], (3,), lambda: compute(3)) == 6
        assert calls == [2, 3]


def test_versions_move_in_redis_when_redis_is_the_cache(app):
    """With REDIS_URL (production), versions are atomic counters shared by every instance."""
    import os
    import uuid

    from flask_caching import Cache

    import marketplace.cache as cache_module

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    shared = Cache()
    prefix = f"test-cache-{uuid.uuid4().hex}:"
    with app.app_context():
        shared.init_app(
            app,
            config={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url, "CACHE_KEY_PREFIX": prefix},
        )
        original, cache_module.cache = cache_module.cache, shared
        try:
            assert table_versions(["payments"]) == (0,)
            cache_module.bump(["payments"])
            cache_module.bump(["payments"])
            assert table_versions(["payments"]) == (2,)
        finally:
            cache_module.cache = original
            shared.cache._write_client.delete(f"{prefix}table-version:payments")


def test_a_group_of_tables_is_read_with_one_key_and_moves_with_any_of_them(app):
    """``version_group``: the reader's tables (and the visitor pages') are checked with one
    version key, which a committed write to any member moves (marketplace/cache.py)."""
    from marketplace.accounts.loader import READER_TABLES
    from marketplace.cache import _version_keys, bump, lookup, store

    keys = _version_keys([*READER_TABLES, "redemptions-of-user:7"])
    assert keys == ["table-group-version:reader", "table-version:redemptions-of-user:7"]
    with app.app_context():
        slot, value = lookup("grouped", READER_TABLES, ("x",))
        assert value is None
        store(slot, "kept")
        assert lookup("grouped", READER_TABLES, ("x",))[1] == "kept"
        bump(["partner_members"])  # a member of the group, registered by partners
        assert lookup("grouped", READER_TABLES, ("x",))[1] is None
