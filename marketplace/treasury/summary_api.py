"""Treasury API: the dashboard's figures for a period (routes on the treasury API blueprint)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from marketplace.api import auth_required
from marketplace.treasury import services
from marketplace.treasury.api import PeriodQuerySchema, bp


class KindSumsSchema(Schema):
    kind = fields.String(dump_only=True)
    currency = fields.String(dump_only=True)
    gross = fields.Integer(dump_only=True)
    fees = fields.Integer(dump_only=True)
    refunds = fields.Integer(dump_only=True)
    net = fields.Integer(dump_only=True)
    count = fields.Integer(dump_only=True)


class SummarySchema(Schema):
    start = fields.Date(data_key="from", dump_only=True, allow_none=True)
    end = fields.Date(data_key="to", dump_only=True, allow_none=True)
    by_kind = fields.List(fields.Nested(KindSumsSchema), dump_only=True)


@bp.get("/summary")
@auth_required(roles=("treasurer",))
@bp.arguments(PeriodQuerySchema, location="query")
@bp.response(200, SummarySchema)
def summary(args: dict[str, Any]) -> dict[str, Any]:
    """Gross, fees, refunds, net and count of the payments that succeeded in the period."""
    return {
        "start": args["start"],
        "end": args["end"],
        "by_kind": services.period_summary(start=args["start"], end=args["end"]),
    }
