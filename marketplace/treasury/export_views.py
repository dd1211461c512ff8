"""Treasury exports: payments CSV with fees as their own lines, the FEC file, chart of accounts.

The two files are streamed (``stream_with_context`` over generators reading the database in
batches): no row cap, constant memory.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.extensions import db
from marketplace.payments.document_series import ACCOUNTING_ZONE
from marketplace.routing import RouteTable
from marketplace.security import admin_required, treasurer_required
from marketplace.treasury import accounting, exports, fec, forms

# Treasury pages (endpoints ``treasury.*``), added to the treasury blueprint by
# ``treasury.init_app``.
routes = RouteTable()


def _download(chunks, *, filename: str, mimetype: str) -> Response:
    response = Response(stream_with_context(chunks), content_type=mimetype)  # one charset
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _this_year() -> int:
    return datetime.now(ACCOUNTING_ZONE).year


@routes.get("/exports")
@treasurer_required
def exports_page():
    period_form = forms.PeriodExportForm(formdata=None)
    # The year an accountant most likely wants: the last one with entries.
    fec_form = forms.FecExportForm(
        formdata=None, data={"year": fec.last_fec_year() or _this_year() - 1}
    )
    return render_template(
        "treasury/exports.html",
        period_form=period_form,
        fec_form=fec_form,
        this_year=_this_year(),
    )


@routes.get("/exports/payments.csv")
@treasurer_required
def payments_csv():
    filters = forms.ledger_filter_values(forms.PeriodExportForm(formdata=request.args))
    lines = exports.payment_csv_lines(**filters)
    return _download(
        exports.stream_csv(lines),
        filename=exports.csv_filename(filters["start"], filters["end"]),
        mimetype="text/csv; charset=utf-8",
    )


@routes.get("/exports/fec")
@treasurer_required
def fec_export():
    form = forms.FecExportForm(formdata=request.args)
    if "year" not in request.args:
        year = fec.last_fec_year() or _this_year()
    elif form.validate():
        year = form.year.data
    else:
        flash(_("Choose a fiscal year between 2000 and 2999."), "error")
        return redirect(url_for("treasury.exports_page"))
    return _download(
        fec.stream_fec(fec.fec_lines(year)),
        filename=fec.fec_filename(year),
        mimetype=f"text/plain; charset={fec.FEC_ENCODING}",
    )


def _account_forms() -> list[tuple[accounting.Account, forms.AccountForm]]:
    chart = accounting.chart()
    return [
        (
            account,
            forms.AccountForm(
                formdata=None,
                prefix=account.key,
                data={"key": account.key, "number": account.number, "label": account.label},
            ),
        )
        for account in chart.values()
    ]


@routes.get("/accounts")
@admin_required
def accounts():
    return render_template(
        "treasury/accounts.html",
        rows=_account_forms(),
        names=accounting.category_names(),
        defaults={account.key: account for account in accounting.DEFAULT_ACCOUNTS},
    )


@routes.post("/accounts/<key>")
@admin_required
def save_account(key: str):
    if key not in accounting.DEFAULT_KEYS:
        return redirect(url_for("treasury.accounts"))
    form = forms.AccountForm(prefix=key)
    if not form.validate() or form.key.data != key:
        rows = [
            (account, form if account.key == key else account_form)
            for account, account_form in _account_forms()
        ]
        return (
            render_template(
                "treasury/accounts.html",
                rows=rows,
                names=accounting.category_names(),
                defaults={account.key: account for account in accounting.DEFAULT_ACCOUNTS},
            ),
            422,
        )
    accounting.set_account(
        key=key, number=form.number.data, label=form.label.data, actor=current_user
    )
    db.session.commit()
    flash(_("Account saved."), "success")
    return redirect(url_for("treasury.accounts"))
