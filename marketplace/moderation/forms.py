"""Moderation forms: queue filters, bulk and single decisions, roster upload (validation only)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SearchField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from marketplace.accounts.reasons import REFUSAL_REASONS
from marketplace.i18n import country_choices
from marketplace.moderation.services import (
    APPROVE,
    MESSAGE_MAX_LENGTH,
    REFUSE,
    REQUEST_INFO,
)

ALL_STATUSES = "all"


def status_choices() -> list[SelectChoice]:
    return [
        SelectChoice("pending", _l("Pending")),
        SelectChoice("info_requested", _l("Information requested")),
        SelectChoice("refused", _l("Refused")),
        SelectChoice("verified", _l("Verified")),
        SelectChoice(ALL_STATUSES, _l("All")),
    ]


def reason_choices() -> list[SelectChoice]:
    return [
        SelectChoice("", _l("Choose a reason…")),
        *(SelectChoice(code, label) for code, label in REFUSAL_REASONS.items()),
    ]


def _optional_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class QueueFilterForm(FlaskForm):
    """Filters of the verification queue, read from the query string."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=status_choices,
        default="pending",
        invalid_choice_message=_l("Choose a status from the list."),
    )
    school = SelectField(
        _l("School"), coerce=_optional_int, validators=[Optional()], validate_choice=False
    )
    country = SelectField(
        _l("Country"),
        choices=lambda: [("", _l("All countries")), *country_choices()],
        filters=[lambda value: value.upper() if isinstance(value, str) else value],
        validators=[Optional()],
        invalid_choice_message=_l("Choose a country from the list."),
        render_kw={"data-country-picker": ""},
    )
    year = IntegerField(
        _l("Graduation year"), validators=[Optional(), NumberRange(min=1900, max=2100)]
    )
    q = SearchField(_l("Name or e-mail"), validators=[Optional(), Length(max=120)])
    unconfirmed = BooleanField(_l("Include unconfirmed e-mail addresses"))


class BulkDecisionForm(FlaskForm):
    """One decision, with one shared reason and message, for the members ticked in the queue."""

    profile_ids = SelectMultipleField(coerce=int, validate_choice=False)
    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice(APPROVE, _l("Approve")),
            SelectChoice(REFUSE, _l("Refuse")),
            SelectChoice(REQUEST_INFO, _l("Request information")),
        ],
        invalid_choice_message=_l("Choose a decision."),
    )
    # Checked in validate(): only a refusal needs a reason.
    reason = SelectField(
        _l("Reason (for a refusal)"), choices=reason_choices, validate_choice=False
    )
    message = TextAreaField(
        _l("Message to the members"),
        validators=[Optional(), Length(max=MESSAGE_MAX_LENGTH)],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if not self.profile_ids.data:
            self.profile_ids.errors = [str(_l("Tick at least one member."))]
            ok = False
        if self.decision.data == REFUSE and self.reason.data not in REFUSAL_REASONS:
            self.reason.errors = [str(_l("Choose a reason from the list."))]
            ok = False
        if self.decision.data == REQUEST_INFO and not (self.message.data or "").strip():
            self.message.errors = [
                *self.message.errors,
                str(_l("Write the information you need from the members.")),
            ]
            ok = False
        return ok


class ApproveForm(FlaskForm):
    """Approve one member (the button and its CSRF token)."""


class RefuseForm(FlaskForm):
    """Refuse one member with a reason from the list and an optional message."""

    reason = SelectField(
        _l("Reason"),
        choices=reason_choices,
        validators=[DataRequired(message=_l("Choose a reason from the list."))],
        invalid_choice_message=_l("Choose a reason from the list."),
    )
    message = TextAreaField(
        _l("Message to the member (optional)"),
        validators=[Optional(), Length(max=MESSAGE_MAX_LENGTH)],
    )


class RequestInfoForm(FlaskForm):
    """Ask one member for more information."""

    message = TextAreaField(
        _l("What do you need from the member?"),
        validators=[
            DataRequired(message=_l("Write the information you need from the member.")),
            Length(max=MESSAGE_MAX_LENGTH),
        ],
    )


class RosterImportForm(FlaskForm):
    """Upload of a school roster as CSV."""

    file = FileField(
        _l("CSV file"),
        validators=[
            FileRequired(message=_l("Choose a CSV file.")),
            FileAllowed(["csv", "txt"], message=_l("Send a .csv file.")),
        ],
    )
