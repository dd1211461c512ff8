"""Forms of the account pages (validation only: the rules of the domain live in services)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from marketplace.accounts import services
from marketplace.accounts.models import AlumniProfile
from marketplace.catalog.models import School
from marketplace.i18n import country_choices, timezone_names
from marketplace.security import MAX_PASSWORD_LENGTH, password_problem

FIRST_GRADUATION_YEAR = 1950
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


def clean_text(value: Any) -> Any:
    """Trim a text input and drop NUL characters (PostgreSQL refuses them in text)."""
    return value.replace("\x00", "").strip() if isinstance(value, str) else value


class NewPassword:
    """The password policy of security.password_problem: length and the common-password list."""

    def __call__(self, form: FlaskForm, field: Any) -> None:
        problem = password_problem(field.data or "")
        if problem:
            raise ValidationError(problem)


def _password_field(label: Any) -> PasswordField:
    return PasswordField(
        label,
        validators=[InputRequired(), NewPassword()],
        render_kw={
            "autocomplete": "new-password",
            "minlength": 8,
            "maxlength": MAX_PASSWORD_LENGTH,
        },
    )


def _email_field() -> StringField:
    return StringField(
        _l("E-mail address"),
        filters=[clean_text],
        validators=[DataRequired(), Email(), Length(max=254)],
        render_kw={"autocomplete": "email", "type": "email"},
    )


def _country_field(*validators: Any) -> SelectField:
    return SelectField(
        _l("Country where you live"),
        validators=list(validators),
        render_kw={"data-country-picker": ""},
    )


def _timezone_field() -> SelectField:
    # static/js/timezone.js picks the browser's zone when the form is new.
    return SelectField(
        _l("Time zone"),
        choices=lambda: [
            ("", _l("Choose a time zone")),
            *((name, name.replace("_", " ")) for name in timezone_names()),
        ],
        validators=[Optional()],
        render_kw={"data-browser-timezone": ""},
        invalid_choice_message=_l("Choose a time zone from the list."),
    )


class RegistrationForm(FlaskForm):
    """An alumnus asks to join."""

    full_name = StringField(
        _l("Full name"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=160)],
        render_kw={"autocomplete": "name"},
    )
    email = _email_field()
    password = _password_field(_l("Password"))
    school = StringField(
        _l("School"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=200)],
        render_kw={"list": "school-list", "autocomplete": "off"},
    )
    graduation_year = IntegerField(
        _l("Graduation year"),
        validators=[InputRequired()],
        render_kw={"inputmode": "numeric", "min": FIRST_GRADUATION_YEAR},
    )
    country = _country_field(DataRequired())
    city = StringField(
        _l("City"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=120)],
        render_kw={"autocomplete": "address-level2"},
    )
    timezone = _timezone_field()
    evidence = FileField(
        _l("Proof of graduation (optional)"),
        render_kw={"accept": "application/pdf,image/png,image/jpeg"},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("Choose a country")), *country_choices()]
        self.graduation_year.render_kw = {
            **self.graduation_year.render_kw,
            "max": date.today().year + 1,
        }
        self.school_row: School | None = None

    def validate_school(self, field: StringField) -> None:
        self.school_row = services.find_active_school(field.data or "")
        if self.school_row is None:
            raise ValidationError(_l("Choose your school from the list."))

    def validate_graduation_year(self, field: IntegerField) -> None:
        if field.data is None:
            return  # not a number: the field already says so
        NumberRange(min=FIRST_GRADUATION_YEAR, max=date.today().year + 1)(self, field)


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = StringField(
        _l("E-mail address"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "username", "type": "email"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me signed in on this device"))


class TwoFactorForm(FlaskForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField(
        _l("Code"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=32)],
        render_kw={
            "autocomplete": "one-time-code",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
    )


class TotpCodeForm(FlaskForm):
    """A six-digit code from the authenticator app."""

    code = StringField(
        _l("Six-digit code"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=8)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class EnrolPasswordForm(FlaskForm):
    """The password, asked again on the mailed two-factor enrolment link."""

    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class ForgotPasswordForm(FlaskForm):
    """The address to send a reset link to."""

    email = _email_field()


class ResetPasswordForm(FlaskForm):
    """A new password, twice."""

    password = _password_field(_l("New password"))
    confirm = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(FlaskForm):
    """The current password and a new one, twice."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = _password_field(_l("New password"))
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[
            InputRequired(),
            EqualTo("new_password", message=_l("The passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class RevokeTokenForm(FlaskForm):
    """A button that revokes one API token (the form carries only the CSRF token)."""


class ProfileForm(FlaskForm):
    """Name, language and, for alumni, where they live."""

    full_name = StringField(
        _l("Full name"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=160)],
        render_kw={"autocomplete": "name"},
    )
    locale = SelectField(_l("Language"), validators=[DataRequired()])
    timezone = _timezone_field()
    country = _country_field(DataRequired())
    city = StringField(
        _l("City"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=120)],
        render_kw={"autocomplete": "address-level2"},
    )

    def __init__(self, *args: Any, profile: AlumniProfile | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = [
            (code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]
        ]
        if profile is None:
            # People without an alumni profile (staff, partners) have no country or city here.
            del self.country
            del self.city
        else:
            self.country.choices = country_choices()


class InfoAnswerForm(FlaskForm):
    """An alumnus answers the moderator's question, possibly with a new file."""

    answer = TextAreaField(
        _l("Your answer"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=5000)],
        render_kw={"rows": 5},
    )
    evidence = FileField(
        _l("New proof of graduation (optional)"),
        validators=[Optional()],
        render_kw={"accept": "application/pdf,image/png,image/jpeg"},
    )
