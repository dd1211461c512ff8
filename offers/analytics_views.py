"""The partner portal's analytics pages and redemption export (``offers.analytics.*``)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from marketplace.database import utcnow
from offers import analytics
from offers.access import get_offer_or_404
from partners.access import current_partner, partner_required

bp = Blueprint("analytics", __name__, url_prefix="/manage/analytics")

COUNTER_LABELS = {
    "views": _l("Views"),
    "reveals": _l("Reveals"),
    "redemptions": _l("Redemptions"),
}


def _labels() -> dict[str, str]:
    return {name: str(label) for name, label in COUNTER_LABELS.items()}


@bp.get("/")
@partner_required()
def index() -> str:
    partner = current_partner()
    days = analytics.period_days(request.args.get("days"))
    rows = analytics.offer_totals(partner=partner, days=days)
    series = analytics.daily_series(partner=partner, days=days)
    return render_template(
        "offers/analytics/index.html",
        partner=partner,
        days=days,
        periods=analytics.PERIODS,
        rows=rows,
        series=series,
        total=analytics.total_of(series),
        chart=analytics.chart_data(series, _labels()),
        labels=COUNTER_LABELS,
    )


@bp.get("/<int:offer_id>")
@partner_required()
def detail(offer_id: int) -> str:
    partner = current_partner()
    offer = get_offer_or_404(offer_id, partner=partner)
    days = analytics.period_days(request.args.get("days"))
    series = analytics.daily_series(partner=partner, days=days, offer=offer)
    return render_template(
        "offers/analytics/detail.html",
        partner=partner,
        offer=offer,
        days=days,
        periods=analytics.PERIODS,
        series=series,
        total=analytics.total_of(series),
        chart=analytics.chart_data(series, _labels()),
        labels=COUNTER_LABELS,
    )


@bp.get("/redemptions.csv")
@partner_required()
def redemptions_csv() -> Response:
    partner = current_partner()
    offer_id = request.args.get("offer_id", type=int)
    offer = get_offer_or_404(offer_id, partner=partner) if "offer_id" in request.args else None
    locale = get_locale()
    rows = analytics.export_redemptions(
        partner=partner, offer=offer, english=bool(locale and locale.language == "en")
    )
    scope = f"offer-{offer.id}" if offer else f"partner-{partner.id}"
    name = f"redemptions-{scope}-{utcnow():%Y-%m-%d}.csv"
    return Response(
        stream_with_context(rows),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
