"""Forms of the partner portal and the offer review (validation only; rules live in services)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from marketplace.accounts.forms import clean_text
from marketplace.catalog.models import Category
from marketplace.extensions import db
from marketplace.i18n import country_choices, from_reader_time, to_reader_time
from offers.models import Audience, LimitPeriod, RedemptionMethod
from offers.services import MESSAGE_MAX_LENGTH, TERMS

METHOD_LABELS = {
    RedemptionMethod.SHARED_CODE: _l("One code shared by every member"),
    RedemptionMethod.UNIQUE_CODES: _l("A pool of unique codes (uploaded)"),
    RedemptionMethod.GENERATED_CODES: _l("A unique code generated for each member"),
    RedemptionMethod.VOUCHER: _l("A QR pass checked by the partner"),
    RedemptionMethod.LINK: _l("A link to the partner's website"),
}
AUDIENCE_LABELS = {
    Audience.ALUMNI: _l("Verified alumni"),
    Audience.MEMBERS: _l("Paying members only"),
}
PERIOD_LABELS = {
    LimitPeriod.EVER: _l("Once (in total)"),
    LimitPeriod.WEEK: _l("Per week"),
    LimitPeriod.MONTH: _l("Per month"),
}
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
FILTERS = [clean_text]


class OfferForm(FlaskForm):
    """Both language versions and the terms of an offer."""

    title_fr = StringField(_l("Title"), validators=[Optional(), Length(max=160)], filters=FILTERS)
    summary_fr = StringField(
        _l("Summary"), validators=[Optional(), Length(max=300)], filters=FILTERS
    )
    description_fr = TextAreaField(
        _l("Description (Markdown)"), validators=[Optional(), Length(max=20000)], filters=FILTERS
    )
    title_en = StringField(_l("Title"), validators=[Optional(), Length(max=160)], filters=FILTERS)
    summary_en = StringField(
        _l("Summary"), validators=[Optional(), Length(max=300)], filters=FILTERS
    )
    description_en = TextAreaField(
        _l("Description (Markdown)"), validators=[Optional(), Length(max=20000)], filters=FILTERS
    )
    category = SelectField(_l("Category"), validators=[Optional()])
    # Checkboxes, not a Ctrl-click list; static/js/country-picker.js adds a search box.
    countries = SelectMultipleField(
        _l("Countries (none ticked: worldwide)"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        render_kw={"data-country-picker": "many"},
    )
    city = StringField(_l("City"), validators=[Optional(), Length(max=120)], filters=FILTERS)
    online = BooleanField(_l("Available online"))
    # Typed in the partner's own time zone (their profile's), stored in UTC.
    starts_at = DateTimeLocalField(_l("Starts"), format=DATETIME_FORMAT, validators=[Optional()])
    ends_at = DateTimeLocalField(_l("Ends"), format=DATETIME_FORMAT, validators=[Optional()])
    audience = SelectField(
        _l("Audience"),
        choices=[SelectChoice(key.value, label) for key, label in AUDIENCE_LABELS.items()],
    )
    redemption_method = SelectField(
        _l("How members get the benefit"),
        choices=[SelectChoice(key.value, label) for key, label in METHOD_LABELS.items()],
    )
    shared_code = StringField(
        _l("Shared code"), validators=[Optional(), Length(max=80)], filters=FILTERS
    )
    link_url = StringField(
        _l("Link (https://…)"), validators=[Optional(), Length(max=500)], filters=FILTERS
    )
    total_limit = IntegerField(
        _l("Total limit (empty: no limit)"),
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    per_member_limit = IntegerField(
        _l("Uses per member"), default=1, validators=[DataRequired(), NumberRange(min=1, max=1000)]
    )
    limit_period = SelectField(
        _l("Per member, counted"),
        choices=[SelectChoice(key.value, label) for key, label in PERIOD_LABELS.items()],
    )
    reveal_ttl_minutes = IntegerField(
        _l("A revealed code is valid for (minutes, empty: no limit)"),
        validators=[Optional(), NumberRange(min=1, max=525600)],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = db.session.scalars(select(Category).order_by(Category.position, Category.id))
        self.category.choices = [SelectChoice("", _l("No category"))] + [
            SelectChoice(category.slug, category.name) for category in categories
        ]
        self.countries.choices = [SelectChoice(code, name) for code, name in country_choices()]

    def terms(self) -> dict[str, Any]:
        """The form's values, keyed as the services expect (times in the partner's zone)."""
        values = {field: getattr(self, field).data for field in TERMS}
        for field in ("starts_at", "ends_at"):
            values[field] = from_reader_time(values.get(field))
        return values

    @staticmethod
    def initial(terms: dict[str, Any]) -> dict[str, Any]:
        """Form data for terms in their JSON form (dates parsed for the date inputs)."""
        data = dict(terms)
        for field in ("starts_at", "ends_at"):
            if data.get(field):
                moment = datetime.fromisoformat(data[field])
                data[field] = to_reader_time(moment).replace(tzinfo=None)
        data["category"] = data.get("category") or ""
        return data


class CodesForm(FlaskForm):
    """Codes for the pool: a file (one per line, or a CSV's first column) and/or pasted text."""

    file = FileField(
        _l("CSV or text file"), validators=[FileAllowed(["csv", "txt"], _l("A .csv or .txt file."))]
    )
    text = TextAreaField(_l("Or paste codes, one per line"), validators=[Optional()])


class ActionForm(FlaskForm):
    """A button that changes an offer's status (CSRF only)."""


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


class PictureForm(FlaskForm):
    """An offer's picture: a new image, or none (offers/pictures.py checks the content)."""

    picture = FileField(
        _l("Picture (JPEG, PNG or WebP, 5 MB at most)"),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )
