"""Saved searches and their e-mail alerts: manage, one-click unsubscribe."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from marketplace.errors import DomainError
from marketplace.extensions import csrf, db
from marketplace.notifications import alerts
from marketplace.notifications.forms import DeleteForm, FrequencyForm, SaveSearchForm
from marketplace.notifications.models import SavedSearch
from marketplace.security import login_required, redirect_back

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def get_search_or_404(search_id: int) -> SavedSearch:
    """The caller's own saved search; another member's id answers 404."""
    try:
        return alerts.get_own_search(search_id, user=current_user)
    except DomainError:
        abort(404)


@bp.get("/searches")
@login_required
def searches():
    rows = db.session.scalars(
        select(SavedSearch)
        .where(SavedSearch.user_id == current_user.id)
        .order_by(SavedSearch.created_at.desc(), SavedSearch.id.desc())
    ).all()
    forms = {
        search.id: FrequencyForm(frequency=search.frequency, prefix=f"s{search.id}")
        for search in rows
    }
    return render_template(
        "notifications/searches.html",
        searches=rows,
        forms=forms,
        delete_form=DeleteForm(),
        sources=alerts.ALERT_SOURCES,
        frequencies=alerts.FREQUENCIES,
        verified=current_user.is_verified_alumnus,
    )


@bp.post("/searches")
@login_required
def save_search():
    form = SaveSearchForm()
    if not form.validate_on_submit():
        flash(_("This search could not be saved."), "error")
        return redirect_back("notifications.searches")
    try:
        _search, created = alerts.save_search(
            user=current_user,
            kind=form.kind.data,
            criteria=request.form,
            frequency=form.frequency.data,
        )
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect_back("notifications.searches")
    db.session.commit()
    if created:
        flash(_("Search saved: we will e-mail you what is published next."), "success")
    else:
        flash(_("You had already saved this search; its alerts are updated."), "success")
    return redirect_back("notifications.searches")


@bp.post("/searches/<int:search_id>/frequency")
@login_required
def change_frequency(search_id: int):
    search = get_search_or_404(search_id)
    form = FrequencyForm(prefix=f"s{search.id}")
    if not form.validate_on_submit():
        flash(_("Choose how often to receive this alert."), "error")
        return redirect(url_for("notifications.searches"))
    alerts.change_frequency(search, frequency=form.frequency.data)
    db.session.commit()
    flash(_("Alert updated."), "success")
    return redirect(url_for("notifications.searches"))


@bp.post("/searches/<int:search_id>/delete")
@login_required
def delete(search_id: int):
    search = get_search_or_404(search_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    alerts.delete_search(search)
    db.session.commit()
    flash(_("Saved search deleted."), "success")
    return redirect(url_for("notifications.searches"))


# RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to the link itself, with no cookie
# and no CSRF token; the unguessable token in the URL is the authorisation. GET only asks.
@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    search = alerts.find_by_unsubscribe_token(token)
    if search is None:
        abort(404)
    if request.method == "GET":
        return render_template(
            "notifications/unsubscribe.html",
            search=search,
            source=alerts.ALERT_SOURCES.get(search.kind),
            done=search.unsubscribed_at is not None,
        )
    alerts.unsubscribe(search)
    db.session.commit()
    return render_template(
        "notifications/unsubscribe.html",
        search=search,
        source=alerts.ALERT_SOURCES.get(search.kind),
        done=True,
    )
