"""Privacy pages: policy, legal notice, partners' statement, register (admins), their edit
(admins), "my data" (export, consents, deletion) and the one-click withdrawal of a consent."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.models import User
from marketplace.errors import DomainError
from marketplace.extensions import db, limiter
from marketplace.privacy import services
from marketplace.privacy.defaults import LEGAL, PARTNERS, PRIVACY, REGISTER
from marketplace.privacy.export import build_export, export_name
from marketplace.privacy.forms import (
    CancelDeletionForm,
    ConsentForm,
    DeleteAccountForm,
    ExportForm,
    LegalPageForm,
    WithdrawForm,
)
from marketplace.security import admin_required, login_required

logger = logging.getLogger(__name__)

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


@bp.app_context_processor
def privacy_globals() -> dict[str, object]:
    """The banner of a scheduled deletion needs its form on every page."""

    def deletion_banner_form() -> CancelDeletionForm:
        return CancelDeletionForm(formdata=None)

    return {"deletion_banner_form": deletion_banner_form}


# ---------------------------------------------------------------- legal pages


def _show(slug: str):
    return render_template("privacy/page.html", page=services.render_page(slug))


@bp.get("/")
def policy():
    return _show(PRIVACY)


@bp.get("/legal-notice")
def legal_notice():
    return _show(LEGAL)


@bp.get("/partners")
def partners():
    return _show(PARTNERS)


@bp.get("/register")
@admin_required
def register():
    return _show(REGISTER)


_PAGE_ENDPOINTS = {
    PRIVACY: "privacy.policy",
    LEGAL: "privacy.legal_notice",
    PARTNERS: "privacy.partners",
    REGISTER: "privacy.register",
}


@bp.route("/pages/<page_slug>/edit", methods=["GET", "POST"])
@admin_required
def edit(page_slug: str):
    if page_slug not in _PAGE_ENDPOINTS:
        abort(404)
    form = LegalPageForm(data=services.page_texts(page_slug))
    status = 200
    if request.method == "POST":
        form = LegalPageForm()
        if form.validate_on_submit():
            try:
                services.save_page(
                    page_slug,
                    actor=_me(),
                    title_fr=form.title_fr.data or "",
                    title_en=form.title_en.data or "",
                    body_fr=form.body_fr.data or "",
                    body_en=form.body_en.data or "",
                )
            except DomainError as error:
                db.session.rollback()
                flash(str(error.message), "error")
            else:
                db.session.commit()
                flash(_("The page is saved."), "success")
                return redirect(url_for(_PAGE_ENDPOINTS[page_slug]))
        status = 422
    return (
        render_template(
            "privacy/edit.html",
            form=form,
            page_slug=page_slug,
            page_url=url_for(_PAGE_ENDPOINTS[page_slug]),
        ),
        status,
    )


# ---------------------------------------------------------------- my data


def _render_me(delete_form: DeleteAccountForm | None = None, status: int = 200):
    user = _me()
    states = services.consent_states(user)
    return (
        render_template(
            "privacy/me.html",
            user=user,
            export_form=ExportForm(formdata=None),
            consent_form=ConsentForm(formdata=None, data=states),
            consent_history=services.consent_history(user),
            delete_form=delete_form or DeleteAccountForm(formdata=None),
            cancel_form=CancelDeletionForm(formdata=None),
            blockers=services.deletion_blockers(user),
            consent_texts=services.CONSENT_TEXTS,
        ),
        status,
    )


@bp.get("/me")
@login_required
def me():
    return _render_me()


@bp.post("/me/export")
@login_required
@limiter.limit("5/hour")
def export():
    """The zip of the caller's data, as an attachment."""
    if not ExportForm().validate_on_submit():
        abort(400)
    user = _me()
    handle = build_export(user, association=current_app.config["ASSOCIATION_NAME"])
    response = send_file(
        handle,
        mimetype="application/zip",
        as_attachment=True,
        download_name=export_name(user),
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/me/consents")
@login_required
@limiter.limit("30/hour")
def consents():
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    user = _me()
    changed = False
    for purpose in services.CONSENT_TEXTS:
        row = services.set_consent(
            user,
            purpose,
            bool(form[purpose].data),
            source="settings",
            ip_address=request.remote_addr,
        )
        changed = changed or row is not None
    db.session.commit()
    flash(_("Your choices are saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("privacy.me"))


@bp.post("/me/delete")
@login_required
@limiter.limit("10/hour")
def delete_account():
    form = DeleteAccountForm()
    if not form.validate_on_submit():
        return _render_me(form, 422)
    try:
        due_at = services.request_deletion(_me(), password=form.password.data)
    except services.WrongPassword as error:
        db.session.rollback()
        form.password.errors = [str(error.message)]
        return _render_me(form, 422)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _render_me(form, error.status)
    db.session.commit()
    flash(
        _(
            "Your account will be deleted on %(date)s. Until then you can cancel from this page.",
            date=due_at.strftime("%Y-%m-%d"),
        ),
        "success",
    )
    return redirect(url_for("privacy.me"))


@bp.post("/me/delete/cancel")
@login_required
def cancel_deletion():
    if not CancelDeletionForm().validate_on_submit():
        abort(400)
    try:
        services.cancel_deletion(_me())
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("privacy.me"))
    db.session.commit()
    flash(_("Your account is kept: its deletion is cancelled."), "success")
    return redirect(url_for("privacy.me"))


# ---------------------------------------------------------------- one-click withdrawal


@bp.route("/withdraw/<token>", methods=["GET", "POST"])
@limiter.limit("30/minute")
def withdraw(token: str):
    """The link in our e-mails: GET asks, POST (with its form token) withdraws."""
    found = services.read_withdraw_token(token)
    if found is None:
        abort(404)
    user, purpose = found
    form = WithdrawForm()
    done = False
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        services.set_consent(
            user, purpose, False, source="email-link", ip_address=request.remote_addr
        )
        db.session.commit()
        done = True
    return render_template(
        "privacy/withdraw.html",
        form=form,
        token=token,
        purpose=purpose,
        purpose_text=services.CONSENT_TEXTS[purpose],
        done=done or not services.consent_states(user)[purpose],
    )
