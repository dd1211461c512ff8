"""Treasury API: the dashboard's figures for a period (routes on the treasury API blueprint)."""

from __future__ import annotations

from typing import Any

from marketplace.api import auth_required
from marketplace.database import utcnow
from marketplace.routing import RouteTable
from marketplace.treasury import dashboard
from marketplace.treasury.api import bp
from marketplace.treasury.schemas import SummaryQuerySchema, SummarySchema

# GET /treasury/summary (endpoint ``treasury_api.summary``), added to ``api.bp`` by
# ``treasury.init_app``.
routes = RouteTable()


def _totals(row: dashboard.CurrencyFigures) -> dict[str, Any]:
    total = row.total
    return {
        "currency": row.currency,
        "gross": total.gross,
        "fees": total.fees,
        "refunds": total.refunds,
        "disputes": total.disputes,
        "dispute_fees": total.dispute_fees,
        "net": total.net,
        "count": total.count,
        "refund_count": total.refund_count,
        "by_kind": row.by_kind,
        "originals": row.originals,
    }


@routes.get("/summary")
@auth_required(roles=("treasurer",))
@bp.arguments(SummaryQuerySchema, location="query")
@bp.response(200, SummarySchema)
def summary(args: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's figures: gross, fees, refunds and net by kind and currency, memberships,
    failed payments and disputes. ``from`` defaults to the first day of ``to``'s month, ``to``
    to today (Europe/Paris); gross counts payments by the day they succeeded, refunds by the
    day they were made."""
    today = dashboard.accounting_today(utcnow())
    end = args["end"] or today
    start = args["start"] or dashboard.month_start(end)
    if start > end:
        end = dashboard.preset_period(dashboard.Preset.THIS_MONTH, today=start).end
    period = dashboard.Period(start, end)
    figures = dashboard.build_dashboard(
        period=period, today=utcnow().date(), months=args.get("months")
    )
    return {
        "start": start,
        "end": end,
        "by_kind": dashboard.kind_rows(figures.figures),
        "totals": [_totals(row) for row in figures.figures],
        "series": figures.series or [],
        "memberships": figures.memberships,
        "failed": figures.failed,
        "disputes": figures.disputes,
    }
