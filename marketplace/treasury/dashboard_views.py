"""Treasury dashboard pages: KPIs of a period, monthly chart, exceptions queue."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, NamedTuple

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DateField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from marketplace.cache import cached, version_group
from marketplace.database import utcnow
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.money import from_minor, is_known
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.reader_pages import reader_page
from marketplace.routing import RouteTable
from marketplace.security import treasurer_required
from marketplace.treasury import dashboard as figures
from marketplace.treasury import review_queue as queue
from marketplace.treasury.forms import kind_labels, status_labels

# Treasury pages (endpoints ``treasury.*``), added to the treasury blueprint by
# ``treasury.init_app``.
routes = RouteTable()

# A custom period longer than this is refused (ten years and a leap day or two).
MAX_PERIOD_DAYS = 3660


# ---------------------------------------------------------------- forms


def preset_labels() -> dict[str, str]:
    return {
        figures.Preset.THIS_MONTH.value: str(_l("This month")),
        figures.Preset.LAST_MONTH.value: str(_l("Last month")),
        figures.Preset.THIS_YEAR.value: str(_l("This year")),
        figures.Preset.LAST_12_MONTHS.value: str(_l("Last 12 months")),
        figures.Preset.CUSTOM.value: str(_l("Custom dates")),
    }


class PeriodForm(FlaskForm):
    """The dashboard's period (GET): a preset, or two dates; and the chart's length."""

    class Meta:
        csrf = False

    period = SelectField(_l("Period"), default=figures.Preset.THIS_MONTH.value)
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    months = SelectField(_l("Chart"), default="12")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.period.choices = list(preset_labels().items())
        self.months.choices = [
            ("12", str(_l("12 months"))),
            ("24", str(_l("24 months"))),
        ]

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.period.data != figures.Preset.CUSTOM.value:
            return True
        if self.start.data is None:
            self.start.errors.append(_("Give the first day of the period."))
        if self.end.data is None:
            self.end.errors.append(_("Give the last day of the period."))
        if self.start.data and self.end.data:
            if self.start.data > self.end.data:
                self.end.errors.append(_("The last day must not be before the first day."))
            elif (self.end.data - self.start.data).days >= MAX_PERIOD_DAYS:
                self.end.errors.append(_("A period lasts at most ten years."))
        return not (self.start.errors or self.end.errors)


class ReviewForm(FlaskForm):
    """ "Mark as reviewed": what the treasurer found or did (kept in the audit log)."""

    kind = HiddenField(validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=500)])


class IntentReviewForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=500)])


def _period(form: PeriodForm, today: date) -> tuple[figures.Period, int, bool]:
    """The period asked for, the chart's months, and whether the request had to be corrected."""
    if not request.args:
        return figures.preset_period(figures.Preset.THIS_MONTH, today=today), 12, False
    if "period" not in request.args and (request.args.get("start") or request.args.get("end")):
        form.period.data = figures.Preset.CUSTOM.value
    if not form.validate():
        return figures.preset_period(figures.Preset.THIS_MONTH, today=today), 12, True
    months = int(form.months.data or 12)
    preset = figures.Preset(form.period.data)
    if preset == figures.Preset.CUSTOM:
        return figures.Period(form.start.data, form.end.data, preset), months, False
    return figures.preset_period(preset, today=today), months, False


# ---------------------------------------------------------------- the dashboard


def _units(amount: int, currency: str) -> float:
    """Minor units as a number of currency units, for the chart's axis."""
    return float(from_minor(amount, currency)) if is_known(currency) else amount / 100


def _chart(series: list[figures.CurrencySeries]) -> dict[str, Any]:
    """The stacked monthly chart as the script reads it (JSON data, never executed)."""
    labels = kind_labels()
    return {
        "charts": [
            {
                "id": f"chart-{row.currency.lower()}",
                "currency": row.currency,
                "labels": [format_date(point.month, "MMM yyyy") for point in row.points],
                "datasets": [
                    {
                        "key": kind,
                        "label": labels[kind],
                        "data": [
                            _units(point.by_kind[kind].gross, row.currency) for point in row.points
                        ],
                    }
                    for kind in figures.KINDS
                ],
                "net": {
                    "label": str(_l("Net")),
                    "data": [_units(point.total.net, row.currency) for point in row.points],
                },
            }
            for row in series
        ]
    }


def _payments_link(period: figures.Period, **filters: str) -> str:
    return url_for(
        "treasury.payments",
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        **filters,
    )


# A committed write to one of these moves the page's version: it is rendered afresh.
PAGE_TABLES = (*figures.LEDGER_TABLES, *figures.MEMBERSHIP_TABLES, "payouts")
# One version for them all (read with one key), moved by a write to any of them.
version_group("treasury-dashboard", PAGE_TABLES)


class DashboardPage(NamedTuple):
    """The dashboard as rendered for one version of its tables: body and chart data."""

    body: Markup
    chart: dict[str, Any]
    fec_year: int  # the year of the period's last day: the FEC file offered beside it


def _render_page(today: date) -> DashboardPage:
    """The period form, figures, tables and chart of the request's period (the slow path)."""
    form = PeriodForm(formdata=request.args)
    period, months, corrected = _period(form, today)
    if corrected:
        form.period.data = form.period.data or figures.Preset.CUSTOM.value
    data = figures.build_dashboard(period=period, today=utcnow().date(), months=months)
    body = render_template(
        "treasury/_dashboard_body.html",
        form=form,
        period=period,
        months=months,
        corrected=corrected,
        data=data,
        kind_labels=kind_labels(),
        status_labels=status_labels(),
        preset_labels=preset_labels(),
        payments_link=lambda **filters: _payments_link(period, **filters),
        kinds=figures.KINDS,
        PaymentKind=PaymentKind,
        PaymentStatus=PaymentStatus,
    )
    return DashboardPage(
        Markup(body),  # noqa: S704 - the output of an autoescaping Jinja template
        _chart(data.series or []),
        period.end.year,
    )


def _today() -> tuple[str, ...]:
    """What the whole page depends on besides its address and its reader: the day."""
    return (figures.accounting_today(utcnow()).isoformat(), utcnow().date().isoformat())


@routes.get("/")
@treasurer_required
@reader_page(PAGE_TABLES, signature=_today)  # the navigation too: once per kind of staff
def dashboard():
    today = figures.accounting_today(utcnow())
    # The page's body (form, sums, tables, chart data) is rendered once per version of the
    # ledger and memberships, period asked, day and the reader's language and zone: reading
    # it again costs a cache lookup, not the sums, the forms and the tables (issue 17).
    key = (
        str(get_locale()),
        str(get_timezone()),
        today.isoformat(),
        utcnow().date().isoformat(),
        *sorted(request.args.items(multi=True)),
    )
    page = cached("treasury-dashboard", PAGE_TABLES, key, lambda: _render_page(today))
    fec_year = page.fec_year
    return render_template(
        "treasury/dashboard.html",
        body=page.body,
        chart=page.chart,
        fec_url=(
            url_for("treasury.fec_export", year=fec_year)
            if "treasury.fec_export" in current_app.view_functions
            else None
        ),
        fec_year=fec_year,
    )


# ---------------------------------------------------------------- the exceptions queue


def stripe_dashboard_url(intent_id: str) -> str:
    """Where the treasurer sees a PaymentIntent on Stripe (test data under ``/test``)."""
    test = str(current_app.config.get("STRIPE_SECRET_KEY", "")).startswith(("sk_test", "rk_test"))
    return f"https://dashboard.stripe.com{'/test' if test else ''}/payments/{intent_id}"


@routes.get("/exceptions")
@treasurer_required
def exceptions():
    now = utcnow()
    found = queue.exception_queue(now=now)
    return render_template(
        "treasury/exceptions.html",
        queue=found,
        now=now,
        stuck_after_hours=int(queue.STUCK_AFTER / timedelta(hours=1)),
        window_days=queue.CHECK_WINDOW.days,
        review_form=ReviewForm(formdata=None),
        kinds=queue.ExceptionKind,
        failed_refunds_of=queue.failed_refunds_of,
        stripe_url=stripe_dashboard_url,
        kind_labels=kind_labels(),
        status_labels=status_labels(),
    )


def _back_to_queue():
    return redirect(url_for("treasury.exceptions"))


@routes.post("/exceptions/check")
@treasurer_required
def exceptions_check():
    # The CSRF token is checked for every POST by CSRFProtect; the button carries only it.
    try:
        result = queue.check_against_stripe(actor=current_user, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _back_to_queue()
    flash(
        _(
            "Checked %(intents)d Stripe payments and %(rows)d ledger rows: %(missing)d unknown "
            "to Stripe, %(unknown)d unknown to the ledger.",
            intents=result.checked_intents,
            rows=result.checked_rows,
            missing=len(result.missing),
            unknown=result.unknown,
        ),
        "success",
    )
    return _back_to_queue()


@routes.post("/exceptions/<int:payment_id>/resync")
@treasurer_required
def exceptions_resync(payment_id: int):
    db.get_or_404(Payment, payment_id)
    try:
        payment = queue.resync(payment_id, actor=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(_("Re-sync failed: %(message)s", message=str(error.message)), "error")
        return _back_to_queue()
    flash(
        _(
            "Payment #%(id)d re-synced with Stripe: %(status)s.",
            id=payment.id,
            status=status_labels().get(payment.status.value, payment.status.value),
        ),
        "success",
    )
    return _back_to_queue()


@routes.post("/exceptions/<int:payment_id>/review")
@treasurer_required
def exceptions_review(payment_id: int):
    db.get_or_404(Payment, payment_id)
    form = ReviewForm()
    kind = form.kind.data or ""
    if not form.validate() or kind not in set(queue.ExceptionKind):
        flash(_("Write a note saying what you checked or did."), "error")
        return _back_to_queue()
    try:
        queue.mark_reviewed(
            payment_id, kind=queue.ExceptionKind(kind), note=form.note.data, actor=current_user
        )
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _back_to_queue()
    db.session.commit()
    flash(_("Payment #%(id)d marked as reviewed.", id=payment_id), "success")
    return _back_to_queue()


@routes.post("/exceptions/intents/<intent_id>/review")
@treasurer_required
def exceptions_review_intent(intent_id: str):
    form = IntentReviewForm()
    if not form.validate():
        flash(_("Write a note saying what you checked or did."), "error")
        return _back_to_queue()
    queue.review_unknown_intent(intent_id, note=form.note.data, actor=current_user)
    db.session.commit()
    flash(_("Stripe payment %(id)s marked as reviewed.", id=intent_id), "success")
    return _back_to_queue()


@routes.post("/exceptions/payouts/<int:payout_id>/review")
@treasurer_required
def exceptions_review_payout(payout_id: int):
    form = IntentReviewForm()
    if not form.validate():
        flash(_("Write a note saying what you checked or did."), "error")
        return _back_to_queue()
    try:
        queue.review_failed_payout(payout_id, note=form.note.data, actor=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _back_to_queue()
    db.session.commit()
    flash(_("The failed payout was marked as reviewed."), "success")
    return _back_to_queue()
