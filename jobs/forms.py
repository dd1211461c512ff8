"""Forms of the job portal and the job review (validation only; rules live in services)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from jobs.models import Contract, Remote
from jobs.services import LANGUAGES, MAX_SALARY, MESSAGE_MAX_LENGTH
from marketplace.accounts.forms import clean_text
from marketplace.i18n import country_choices

CONTRACT_LABELS = {
    Contract.PERMANENT: _l("Permanent contract"),
    Contract.FIXED_TERM: _l("Fixed-term contract"),
    Contract.INTERNSHIP: _l("Internship"),
    Contract.APPRENTICESHIP: _l("Apprenticeship"),
    Contract.VIE: _l("International volunteering (VIE)"),
    Contract.FREELANCE: _l("Freelance"),
    Contract.VOLUNTEER: _l("Volunteer work"),
}
REMOTE_LABELS = {
    Remote.ONSITE: _l("On site"),
    Remote.HYBRID: _l("Hybrid"),
    Remote.REMOTE: _l("Remote"),
}
LANGUAGE_LABELS = {
    "fr": _l("French"),
    "en": _l("English"),
    "es": _l("Spanish"),
    "de": _l("German"),
    "it": _l("Italian"),
    "pt": _l("Portuguese"),
    "ar": _l("Arabic"),
    "zh": _l("Chinese"),
    "ja": _l("Japanese"),
    "ru": _l("Russian"),
    "nl": _l("Dutch"),
}
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "JPY", "CNY", "MAD")
FIELDS = (
    "title_fr",
    "title_en",
    "description_fr",
    "description_en",
    "contract",
    "country",
    "city",
    "remote",
    "languages",
    "salary_min",
    "salary_max",
    "currency",
    "apply_deadline",
)
FILTERS = [clean_text]


class JobForm(FlaskForm):
    """Both language versions and the terms of a job posting."""

    title_fr = StringField(_l("Title"), validators=[Optional(), Length(max=160)], filters=FILTERS)
    description_fr = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=20000)], filters=FILTERS
    )
    title_en = StringField(_l("Title"), validators=[Optional(), Length(max=160)], filters=FILTERS)
    description_en = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=20000)], filters=FILTERS
    )
    contract = SelectField(
        _l("Contract"),
        choices=[SelectChoice(key.value, label) for key, label in CONTRACT_LABELS.items()],
        validators=[DataRequired()],
    )
    country = SelectField(_l("Country"), validators=[DataRequired()])
    city = StringField(_l("City"), validators=[Optional(), Length(max=120)], filters=FILTERS)
    remote = SelectField(
        _l("Remote work"),
        choices=[SelectChoice(key.value, label) for key, label in REMOTE_LABELS.items()],
    )
    languages = SelectMultipleField(
        _l("Languages required"),
        choices=[SelectChoice(code, LANGUAGE_LABELS[code]) for code in LANGUAGES],
    )
    salary_min = IntegerField(
        _l("Yearly salary from"), validators=[Optional(), NumberRange(min=0, max=MAX_SALARY)]
    )
    salary_max = IntegerField(
        _l("Yearly salary up to"), validators=[Optional(), NumberRange(min=0, max=MAX_SALARY)]
    )
    currency = SelectField(
        _l("Currency"),
        choices=[SelectChoice("", "—")] + [SelectChoice(code, code) for code in CURRENCIES],
        validators=[Optional()],
    )
    apply_deadline = DateField(_l("Apply before"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice("", "—")] + [
            SelectChoice(code, name) for code, name in country_choices()
        ]

    def fields(self) -> dict[str, Any]:
        """The form's values, keyed as the services expect."""
        return {field: getattr(self, field).data for field in FIELDS}


class ActionForm(FlaskForm):
    """A button that changes a posting's status (CSRF only)."""


class CloseForm(FlaskForm):
    """Closing a posting: was it filled through the network? (kept for the statistics)."""

    filled = RadioField(
        _l("Was the position filled through the network?"),
        choices=[
            SelectChoice("yes", _l("Yes")),
            SelectChoice("no", _l("No")),
            SelectChoice("unknown", _l("I'd rather not say")),
        ],
        default="unknown",
        validators=[DataRequired()],
    )

    def answer(self) -> bool | None:
        """The answer as stored: True, False or None."""
        return {"yes": True, "no": False}.get(self.filled.data)


class RejectForm(FlaskForm):
    """A moderator's refusal: the reason is sent to the partner."""

    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(), Length(max=MESSAGE_MAX_LENGTH)], filters=FILTERS
    )


class RequestChangesForm(FlaskForm):
    """A moderator's request for changes: the message is sent to the partner."""

    message = TextAreaField(
        _l("What should change"),
        validators=[DataRequired(), Length(max=MESSAGE_MAX_LENGTH)],
        filters=FILTERS,
    )
