"""Forms of the privacy pages (validation only; the rules live in services)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from marketplace.security import MAX_PASSWORD_LENGTH

MAX_PAGE_BODY = 50_000


class ExportForm(FlaskForm):
    """The "download my data" button (a POST: building the zip is not a mere read)."""


class ConsentForm(FlaskForm):
    digests = BooleanField(_l("E-mail me the alerts of the searches I save (digests)."))
    news = BooleanField(_l("E-mail me news from the association."))


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class CancelDeletionForm(FlaskForm):
    """The "keep my account" button of the banner and of the privacy page."""


class WithdrawForm(FlaskForm):
    """The confirmation of a one-click withdrawal link."""


class LegalPageForm(FlaskForm):
    title_fr = StringField(_l("Title (French)"), validators=[Optional(), Length(max=200)])
    title_en = StringField(_l("Title (English)"), validators=[Optional(), Length(max=200)])
    body_fr = TextAreaField(
        _l("Text (French, Markdown)"), validators=[Optional(), Length(max=MAX_PAGE_BODY)]
    )
    body_en = TextAreaField(
        _l("Text (English, Markdown)"), validators=[Optional(), Length(max=MAX_PAGE_BODY)]
    )
