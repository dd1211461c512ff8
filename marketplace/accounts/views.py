"""Account pages: registration, e-mail confirmation, sign-in with two-factor, password reset,
profile and the alumnus' verification status."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, logout_user
from sqlalchemy.exc import IntegrityError

from marketplace import security
from marketplace.accounts import evidence as evidence_files
from marketplace.accounts import second_factor, services, sign_in
from marketplace.accounts.forms import (
    ChangePasswordForm,
    EnrolPasswordForm,
    ForgotPasswordForm,
    InfoAnswerForm,
    LoginForm,
    ProfileForm,
    RegistrationForm,
    ResetPasswordForm,
    RevokeTokenForm,
    TotpCodeForm,
    TwoFactorForm,
)
from marketplace.accounts.models import User, VerificationStatus
from marketplace.accounts.reasons import refusal_label
from marketplace.errors import DomainError
from marketplace.extensions import (
    LOGIN_ACCOUNT_LIMIT,
    LOGIN_ACCOUNT_SCOPE,
    db,
    limiter,
    login_attempt_key,
)
from marketplace.i18n import country_name
from marketplace.security import login_required, redirect_back

logger = logging.getLogger(__name__)

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


# ---------------------------------------------------------------- helpers


def _render(template: str, **context: Any):
    """A page; a form sent back with errors answers 422 so clients can tell."""
    status = 422 if request.method == "POST" else 200
    return render_template(template, **context), status


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _invalid_link(kind: str):
    return render_template("accounts/invalid_link.html", kind=kind), 400


# ---------------------------------------------------------------- registration


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20/hour", key_func=get_remote_address, methods=["POST"])
def register():
    """An alumnus asks to join; the same answer whether the address was known or not."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            with evidence_files.uploaded_evidence(form.evidence) as evidence:
                user = services.register_alumnus(
                    services.Registration(
                        full_name=form.full_name.data,
                        email=form.email.data,
                        password=form.password.data,
                        school_id=form.school_row.id,  # type: ignore[union-attr]
                        graduation_year=form.graduation_year.data,
                        country=form.country.data,
                        city=form.city.data,
                        locale=str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]),
                        timezone=form.timezone.data,
                        evidence_filename=evidence.filename,
                        evidence_original_name=evidence.original_name,
                        evidence_content_type=evidence.content_type,
                    )
                )
                db.session.commit()
        except services.InvalidUpload as error:
            form.evidence.errors.append(str(error.message))
        except DomainError as error:
            form.form_errors.append(str(error.message))
        except IntegrityError:
            # The same address registered by a concurrent request: the answer for a taken one.
            logger.info("registration lost a race for the same address")
            return redirect(url_for("accounts.registered"))
        else:
            if user is None:
                # The address was taken: the file has no registration to belong to.
                evidence_files.delete_evidence(evidence.filename)
            return redirect(url_for("accounts.registered"))
    return _render("accounts/register.html", form=form, schools=services.active_schools())


@bp.get("/register/check-inbox")
def registered():
    return render_template("accounts/registered.html")


@bp.get("/confirm/<token>")
def confirm(token: str):
    """The link of the confirmation e-mail: a button confirms (mail scanners only GET)."""
    try:
        services.check_account_token(token, services.CONFIRM)
    except services.InvalidToken:
        return _invalid_link("confirm")
    return render_template("accounts/confirm.html", token=token)


@bp.post("/confirm/<token>")
def confirm_email(token: str):
    try:
        user = services.confirm_email(token)
    except services.InvalidToken:
        return _invalid_link("confirm")
    db.session.commit()
    flash(_("Your e-mail address is confirmed."), "success")
    if current_user.is_authenticated and current_user.id == user.id:
        if user.alumni_profile is not None:
            return redirect(url_for("accounts.status"))
        return redirect(url_for("accounts.profile"))
    return redirect(url_for("accounts.login"))


@bp.post("/confirm/resend")
@login_required
@limiter.limit("5/hour")
def resend_confirmation():
    user = _me()
    if user.email_confirmed_at is not None:
        flash(_("Your e-mail address is already confirmed."), "info")
    else:
        services.send_confirmation(user)
        db.session.commit()
        flash(_("We sent you a new confirmation link."), "success")
    return redirect(url_for("accounts.profile"))


# ---------------------------------------------------------------- sign in and out


@bp.route("/login", methods=["GET", "POST"])
@limiter.shared_limit(
    LOGIN_ACCOUNT_LIMIT, scope=LOGIN_ACCOUNT_SCOPE, key_func=login_attempt_key, methods=["POST"]
)
@limiter.limit("60/minute", key_func=get_remote_address, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect_back()
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except services.AuthenticationFailed as error:
            # One message for an unknown address, a wrong password and a disabled account.
            form.form_errors.append(str(error.message))
        else:
            if services.needs_two_factor(user) and user.totp_enabled_at is None:
                # The password alone never enrols a second factor: a link goes to the mailbox.
                second_factor.send_two_factor_enrolment(user)
                db.session.commit()
                sign_in.clear_session()
                return render_template("accounts/two_factor_mailed.html", sent=True)
            if services.needs_two_factor(user):
                sign_in.begin_two_factor(user, remember=form.remember.data)
                return redirect(url_for("accounts.two_factor", next=sign_in.next_arg()))
            security.start_session(user, remember=form.remember.data)
            services.record_login(user)
            db.session.commit()
            return redirect_back()
    return _render("accounts/login.html", form=form)


@bp.route("/two-factor", methods=["GET", "POST"])
@limiter.limit("10/minute", key_func=get_remote_address, methods=["POST"])
@limiter.shared_limit(
    LOGIN_ACCOUNT_LIMIT,
    scope=LOGIN_ACCOUNT_SCOPE,
    key_func=sign_in.two_factor_key,
    methods=["POST"],
)
def two_factor():
    """The second step of a staff sign-in, or of a staff session that has not passed it yet."""
    user = sign_in.pending_user()
    pending = user is not None
    if user is None:
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", next=sign_in.next_arg()))
        user = _me()
        if session.get("mfa") or not services.needs_two_factor(user):
            return redirect_back()
    if user.totp_enabled_at is None:
        return redirect(url_for("accounts.two_factor_setup", next=sign_in.next_arg()))
    form = TwoFactorForm()
    if form.validate_on_submit():
        code = form.code.data.strip().replace(" ", "")
        if second_factor.check_totp(user, code):
            sign_in.finish_sign_in(user, pending=pending)
            db.session.commit()
            if not code.isdigit():
                flash(
                    _(
                        "You used a recovery code; %(n)d remain.",
                        n=second_factor.remaining_recovery_codes(user),
                    ),
                    "warning",
                )
            return redirect_back(sign_in.landing(user))
        form.code.errors.append(_("This code is not valid."))
    return _render("accounts/two_factor.html", form=form)


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@login_required
@limiter.limit("5/hour", methods=["POST"])
def two_factor_setup():
    """A signed-in staff member without two-factor asks for the enrolment link by e-mail."""
    user = _me()
    if not user.is_staff:
        abort(404)
    if user.totp_enabled_at is not None:
        if not session.get("mfa"):
            return redirect(url_for("accounts.two_factor", next=sign_in.next_arg()))
        return redirect(url_for("accounts.recovery_codes"))
    form = RevokeTokenForm()  # a bare button with its CSRF token
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        second_factor.send_two_factor_enrolment(user)
        db.session.commit()
        return render_template("accounts/two_factor_mailed.html", sent=True)
    return render_template("accounts/two_factor_mailed.html", sent=False, form=form)


@bp.route("/two-factor/enrol/<token>", methods=["GET", "POST"])
@limiter.limit("10/minute", key_func=get_remote_address, methods=["POST"])
@limiter.shared_limit(
    LOGIN_ACCOUNT_LIMIT, scope=LOGIN_ACCOUNT_SCOPE, key_func=sign_in.enrolment_key, methods=["POST"]
)
def two_factor_enrol(token: str):
    """The mailed link: the password again, then the new device's QR code and a first code.

    The secret is made (afresh) only once the password is proven, and only this browser,
    marked in its session, may send the code; the link is used up by the enrolment.
    """
    try:
        user = second_factor.enrolment_user(token)
    except services.InvalidToken:
        return _invalid_link("enrol")
    step = security.token_digest(token)
    password_form = EnrolPasswordForm()
    code_form = TotpCodeForm()
    if request.method == "POST" and "code" in request.form:
        if session.get("totp_enrol_step") != step:
            password_form.form_errors.append(_("Enter your password first."))
            return _render("accounts/two_factor_enrol.html", form=password_form, token=token)
        if code_form.validate_on_submit():
            try:
                codes = second_factor.confirm_totp_enrolment(user, code_form.code.data, token=token)
            except DomainError as error:
                db.session.rollback()
                code_form.code.errors.append(str(error.message))
            else:
                security.start_session(user)
                session["mfa"] = True
                services.record_login(user)
                db.session.commit()
                flash(_("Two-factor authentication is active."), "success")
                # Rendered, not redirected: the codes are never stored where they could be read.
                return render_template(
                    "accounts/recovery_codes.html",
                    codes=codes,
                    continue_url=url_for(sign_in.landing(user)),
                )
        return sign_in.render_secret(user, code_form, token, status=422)
    if password_form.validate_on_submit():
        try:
            second_factor.start_totp_enrolment(user, password=password_form.password.data)
        except DomainError as error:
            db.session.rollback()
            password_form.password.errors.append(str(error.message))
        else:
            db.session.commit()
            session["totp_enrol_step"] = step
            return sign_in.render_secret(user, TotpCodeForm(formdata=None), token, status=200)
    return _render("accounts/two_factor_enrol.html", form=password_form, token=token)


@bp.route("/two-factor/recovery-codes", methods=["GET", "POST"])
@login_required
@limiter.limit("10/hour", methods=["POST"])
def recovery_codes():
    """An enrolled person replaces their recovery codes (the old ones stop working)."""
    user = _me()
    if user.totp_enabled_at is None:
        abort(404)
    form = TotpCodeForm()
    if form.validate_on_submit():
        try:
            codes = second_factor.regenerate_recovery_codes(user, code=form.code.data)
        except DomainError as error:
            db.session.rollback()
            form.code.errors.append(str(error.message))
        else:
            db.session.commit()
            return render_template(
                "accounts/recovery_codes.html",
                codes=codes,
                continue_url=url_for("accounts.profile"),
            )
    return _render(
        "accounts/recovery_codes_renew.html",
        form=form,
        remaining=second_factor.remaining_recovery_codes(user),
    )


@bp.post("/logout")
def logout():
    """Sign out everywhere: every cookie of this account, remember-me included, stops working."""
    locale = None
    revoked = 0
    if current_user.is_authenticated:
        user = _me()
        locale = user.locale
        revoked = services.logout_everywhere(user)
        db.session.commit()
    # Cleared first: logout_user then flags the remember-me cookie for deletion.
    session.clear()
    logout_user()
    if locale:
        session["locale"] = locale
    flash(_("You are signed out."), "info")
    sign_in.tell_revoked_tokens(revoked)
    return redirect(url_for("main.index"))


# ---------------------------------------------------------------- password reset


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10/hour", key_func=get_remote_address, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        return redirect(url_for("accounts.reset_sent"))
    return _render("accounts/forgot_password.html", form=form)


@bp.get("/password/forgot/sent")
def reset_sent():
    return render_template("accounts/reset_sent.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10/hour", key_func=get_remote_address, methods=["POST"])
def reset_password(token: str):
    """A new password from the e-mailed link; then a normal sign-in (staff still pass TOTP)."""
    try:
        services.check_account_token(token, services.RESET)
    except services.InvalidToken:
        return _invalid_link("reset")
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            _user, revoked = services.reset_password(token, form.password.data)
        except services.InvalidToken:
            return _invalid_link("reset")
        except services.WeakPassword as error:
            db.session.rollback()
            form.password.errors.append(str(error.message))
        else:
            db.session.commit()
            sign_in.clear_session()
            flash(_("Your password is changed. You can sign in with it now."), "success")
            sign_in.tell_revoked_tokens(revoked)
            return redirect(url_for("accounts.login"))
    return _render("accounts/reset_password.html", form=form, token=token)


# ---------------------------------------------------------------- profile


def _profile_form(user: User) -> ProfileForm:
    profile = user.alumni_profile
    data: dict[str, Any] = {
        "full_name": user.full_name,
        "locale": user.locale,
        "timezone": user.timezone,
    }
    if profile is not None:
        data.update(country=profile.country, city=profile.city)
    return ProfileForm(data=data, profile=profile)


def _render_profile(
    user: User,
    profile_form: ProfileForm | None = None,
    password_form: ChangePasswordForm | None = None,
):
    return _render(
        "accounts/profile.html",
        user=user,
        form=profile_form or _profile_form(user),
        password_form=password_form or ChangePasswordForm(formdata=None),
        remaining_codes=(
            second_factor.remaining_recovery_codes(user) if user.totp_enabled_at else None
        ),
        api_tokens=services.active_api_tokens(user),
        token_form=RevokeTokenForm(formdata=None),
    )


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    user = _me()
    form = _profile_form(user)
    if form.validate_on_submit():
        services.update_profile(
            user,
            full_name=form.full_name.data,
            locale=form.locale.data,
            country=form.country.data if "country" in form else None,
            city=form.city.data if "city" in form else None,
            timezone=form.timezone.data,
        )
        db.session.commit()
        # Kept for after sign-out too.
        session["locale"] = user.locale
        flash(_("Your profile is saved."), "success")
        return redirect(url_for("accounts.profile"))
    return _render_profile(user, profile_form=form)


@bp.post("/password")
@login_required
@limiter.limit("10/hour")
def change_password():
    """A new password ends every other session; this one starts afresh."""
    user = _me()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            revoked = services.change_password(
                user, current=form.current_password.data, new=form.new_password.data
            )
        except services.AuthenticationFailed as error:
            form.current_password.errors.append(str(error.message))
        except services.WeakPassword as error:
            form.new_password.errors.append(str(error.message))
        else:
            db.session.commit()
            mfa = bool(session.get("mfa"))
            remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
            security.start_session(user, remember=remember in request.cookies)
            if mfa:
                session["mfa"] = True
            flash(_("Your password is changed."), "success")
            sign_in.tell_revoked_tokens(revoked)
            return redirect(url_for("accounts.profile"))
    return _render_profile(user, password_form=form)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of the person's own API tokens from the account page."""
    if not RevokeTokenForm().validate_on_submit():
        abort(400)
    try:
        token = services.get_own_api_token_or_404(_me(), token_id)
    except DomainError:
        abort(404)
    services.revoke_api_token(token)
    db.session.commit()
    flash(_("The API token was revoked."), "success")
    return redirect(url_for("accounts.profile", _anchor="api-tokens"))


# ---------------------------------------------------------------- verification status


def _render_status(user: User, form: InfoAnswerForm | None = None):
    profile = user.alumni_profile
    if profile is None:
        abort(404)
    if form is None and profile.status == VerificationStatus.INFO_REQUESTED:
        form = InfoAnswerForm()
    return _render(
        "accounts/status.html",
        profile=profile,
        form=form,
        country=country_name(profile.country),
        refusal=refusal_label(profile.refusal_reason)
        if profile.status == VerificationStatus.REFUSED
        else None,
    )


@bp.get("/status")
@login_required
def status():
    return _render_status(_me())


@bp.post("/status/answer")
@login_required
@limiter.limit("20/hour")
def answer():
    """The alumnus answers a request for information, possibly with a new file."""
    user = _me()
    if user.alumni_profile is None:
        abort(404)
    if user.alumni_profile.status != VerificationStatus.INFO_REQUESTED:
        flash(_("No information was requested from you."), "info")
        return redirect(url_for("accounts.status"))
    form = InfoAnswerForm()
    if form.validate_on_submit():
        previous = user.alumni_profile.evidence_filename
        try:
            with evidence_files.uploaded_evidence(form.evidence) as evidence:
                services.answer_info_request(
                    user,
                    answer=form.answer.data,
                    evidence_filename=evidence.filename,
                    evidence_original_name=evidence.original_name,
                    evidence_content_type=evidence.content_type,
                )
                db.session.commit()
        except services.InvalidUpload as error:
            form.evidence.errors.append(str(error.message))
        else:
            if evidence.filename and previous:
                # The replaced file is no longer anyone's evidence.
                evidence_files.delete_evidence(previous)
            flash(_("Thank you: your answer was sent to the association."), "success")
            return redirect(url_for("accounts.status"))
    return _render_status(user, form)


@bp.get("/evidence")
@login_required
def evidence():
    """The owner downloads the evidence file they sent, as an attachment."""
    profile = _me().alumni_profile
    path = evidence_files.evidence_path(profile) if profile is not None else None
    if profile is None or path is None or not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=profile.evidence_content_type or "application/octet-stream",
        as_attachment=True,
        download_name=profile.evidence_original_name or path.name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
