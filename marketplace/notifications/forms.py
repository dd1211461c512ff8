"""Forms of the saved searches (validation only; the rules live in ``alerts``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.validators import DataRequired

from marketplace.notifications.alerts import FREQUENCIES


def frequency_choices() -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in FREQUENCIES.items()]


class FrequencyForm(FlaskForm):
    """How often a saved search is e-mailed."""

    frequency = SelectField(_l("E-mail me"), choices=frequency_choices, validators=[DataRequired()])


class SaveSearchForm(FrequencyForm):
    """ "Save this search": the kind and frequency; the criteria come as the listing's fields."""

    kind = HiddenField(validators=[DataRequired()])


class DeleteForm(FlaskForm):
    """A bare form: its CSRF token is all a deletion needs."""


class UnsubscribeForm(FlaskForm):
    """The confirmation button of an unsubscribe link (the one-click POST carries no token)."""
