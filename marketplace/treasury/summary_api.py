"""Treasury API: the dashboard's figures for a period (routes on the treasury API blueprint)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.api import auth_required
from marketplace.database import utcnow
from marketplace.routing import RouteTable
from marketplace.treasury import dashboard
from marketplace.treasury.api import PeriodQuerySchema, bp

# GET /treasury/summary (endpoint ``treasury_api.summary``), added to ``api.bp`` by
# ``treasury.init_app``.
routes = RouteTable()


class SummaryQuerySchema(PeriodQuerySchema):
    """A period (days in Europe/Paris, both included) and, optionally, a monthly series."""

    months = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(dashboard.SERIES_MONTHS),
        metadata={"description": "add a monthly series of 12 or 24 months ending with `to`"},
    )

    @validates_schema
    def check_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("`from` must not be after `to`.", "from")


class KindSumsSchema(Schema):
    kind = fields.String(dump_only=True)
    currency = fields.String(dump_only=True)
    gross = fields.Integer(dump_only=True)
    fees = fields.Integer(dump_only=True)
    refunds = fields.Integer(dump_only=True)
    disputes = fields.Integer(dump_only=True)
    dispute_fees = fields.Integer(dump_only=True)
    net = fields.Integer(dump_only=True)
    count = fields.Integer(dump_only=True)


class SumsSchema(Schema):
    """Amounts in minor units of the enclosing currency (the euro, as Stripe settled it)."""

    gross = fields.Integer(dump_only=True)
    fees = fields.Integer(dump_only=True)
    refunds = fields.Integer(dump_only=True)
    disputes = fields.Integer(
        dump_only=True, metadata={"description": "funds withdrawn less funds reinstated"}
    )
    dispute_fees = fields.Integer(dump_only=True)
    net = fields.Integer(dump_only=True)
    count = fields.Integer(dump_only=True, metadata={"description": "payments that succeeded"})
    refund_count = fields.Integer(dump_only=True)


class OriginalSchema(Schema):
    """Payments charged in another currency: their own amount, what Stripe settled in euros."""

    currency = fields.String(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units of currency"})
    settled = fields.Integer(dump_only=True, metadata={"description": "euro cents"})
    count = fields.Integer(dump_only=True)
    unsettled = fields.Integer(dump_only=True)


class CurrencyTotalsSchema(SumsSchema):
    currency = fields.String(dump_only=True)
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(SumsSchema), dump_only=True)
    originals = fields.List(fields.Nested(OriginalSchema), dump_only=True)


class MonthSchema(Schema):
    month = fields.Method("month_key", dump_only=True, metadata={"description": "YYYY-MM"})
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(SumsSchema), dump_only=True)
    total = fields.Nested(SumsSchema, dump_only=True)

    def month_key(self, point: dashboard.MonthPoint) -> str:
        return point.month.strftime("%Y-%m")


class CurrencySeriesSchema(Schema):
    currency = fields.String(dump_only=True)
    months = fields.List(fields.Nested(MonthSchema), dump_only=True, attribute="points")


class MembershipCountsSchema(Schema):
    active = fields.Integer(dump_only=True)
    grace = fields.Integer(dump_only=True)
    lapsed = fields.Integer(dump_only=True)
    ending_soon = fields.Integer(
        dump_only=True, metadata={"description": "active, not covered 30 days from today"}
    )


class FailedSchema(Schema):
    count = fields.Integer(dump_only=True)


class DisputesSchema(Schema):
    open = fields.Integer(dump_only=True, metadata={"description": "not closed at Stripe"})
    in_period = fields.Integer(dump_only=True)
    payouts_failed = fields.Integer(
        dump_only=True, metadata={"description": "payouts the bank sent back"}
    )


class SummarySchema(Schema):
    start = fields.Date(data_key="from", dump_only=True, allow_none=True)
    end = fields.Date(data_key="to", dump_only=True, allow_none=True)
    by_kind = fields.List(fields.Nested(KindSumsSchema), dump_only=True)
    totals = fields.List(fields.Nested(CurrencyTotalsSchema), dump_only=True)
    series = fields.List(
        fields.Nested(CurrencySeriesSchema),
        dump_only=True,
        metadata={"description": "only with `months`"},
    )
    memberships = fields.Nested(MembershipCountsSchema, dump_only=True)
    failed = fields.Nested(FailedSchema, dump_only=True)
    disputes = fields.Nested(DisputesSchema, dump_only=True)


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
