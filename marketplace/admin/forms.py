"""Forms of the admin pages: list filters (GET, no CSRF) and staff actions (POST)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from marketplace.accounts.models import Role
from marketplace.admin import services
from marketplace.i18n import country_choices
from marketplace.money import (
    HOME_CURRENCY,
    amount_error,
    offered_currencies,
    to_minor,
    upper_code,
)
from marketplace.payments.identifiers import (
    normalise_vat_number,
    siret_is_valid,
    vat_number_is_valid,
)

GRANT = "grant"
REVOKE = "revoke"


def role_labels() -> dict[str, str]:
    """The staff roles as people read them."""
    return {
        Role.MODERATOR.value: str(_l("Moderator")),
        Role.TREASURER.value: str(_l("Treasurer")),
        Role.ADMIN.value: str(_l("Administrator")),
    }


class UserFilterForm(FlaskForm):
    """Search and filters of the user list."""

    class Meta:
        csrf = False

    q = SearchField(_l("Name or e-mail"), validators=[Optional(), Length(max=254)])
    role = SelectField(_l("Role"), validators=[Optional()], default="")
    state = SelectField(
        _l("State"),
        choices=[
            SelectChoice("", _l("All")),
            SelectChoice(services.ACTIVE, _l("Active")),
            SelectChoice(services.DISABLED, _l("Disabled")),
        ],
        validators=[Optional()],
        default="",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = [
            SelectChoice("", _l("All")),
            SelectChoice(services.ANY_STAFF, _l("Any staff role")),
            *(SelectChoice(value, label) for value, label in role_labels().items()),
            SelectChoice(services.NO_ROLE, _l("No staff role")),
        ]


class AuditFilterForm(FlaskForm):
    """Filters of the audit log."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), validators=[Optional()], default="")
    actor = SearchField(_l("Actor e-mail"), validators=[Optional(), Length(max=254)])
    object_type = SelectField(_l("Object type"), validators=[Optional()], default="")
    object_id = IntegerField(
        _l("Object number"), validators=[Optional(), NumberRange(min=1, max=2**31 - 1)]
    )

    def __init__(
        self,
        *args,
        actions: list[str] | None = None,
        object_types: list[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.action.choices = [
            SelectChoice("", _l("All")),
            *(SelectChoice(action) for action in actions or []),
        ]
        self.object_type.choices = [
            SelectChoice("", _l("All")),
            *(SelectChoice(kind) for kind in object_types or []),
        ]


class RoleForm(FlaskForm):
    """Grant or revoke one staff role."""

    role = HiddenField(validators=[DataRequired(), AnyOf([r.value for r in Role])])
    action = HiddenField(validators=[DataRequired(), AnyOf([GRANT, REVOKE])])


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (disable, enable, reset two-factor)."""


# ---------------------------------------------------------------- settings: tiers, association


class TierForm(FlaskForm):
    """A membership tier; the amount is typed in currency units and stored in cents."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[a-z0-9][a-z0-9_-]*$", message=_l("Lower-case letters, digits, - and _.")),
        ],
    )
    name_fr = StringField(_l("Name (French)"), validators=[DataRequired(), Length(max=120)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    amount = DecimalField(
        _l("Amount"),
        places=2,
        validators=[InputRequired(), NumberRange(min=Decimal("0"), max=Decimal("100000"))],
    )
    # The currencies admins chose to offer (PAYMENT_CURRENCIES), from money.py's table.
    currency = SelectField(
        _l("Currency"), default=HOME_CURRENCY, filters=[upper_code], validators=[DataRequired()]
    )
    months = IntegerField(
        _l("Length in months"), default=12, validators=[InputRequired(), NumberRange(1, 120)]
    )
    position = IntegerField(
        _l("Position in lists"), default=0, validators=[InputRequired(), NumberRange(0, 1000)]
    )
    active = BooleanField(_l("Open to new members"), default=True)
    max_years_since_leaving = IntegerField(
        _l("Only for alumni who left school at most this many years ago"),
        validators=[Optional(), NumberRange(0, 80)],
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = [SelectChoice(code, code) for code in offered_currencies()]

    def validate_amount(self, field: DecimalField) -> None:
        message = amount_error(field.data, self.currency.data)
        if message:
            raise ValidationError(message)

    def amount_minor(self) -> int:
        """The validated amount in the currency's minor units."""
        return to_minor(self.amount.data, self.currency.data)


def _siret(form: FlaskForm, field: StringField) -> None:
    if field.data and not siret_is_valid(field.data):
        raise ValidationError(_l("A SIRET number has 14 digits (check them)."))


def _vat_number(form: FlaskForm, field: StringField) -> None:
    if field.data and not vat_number_is_valid(field.data):
        raise ValidationError(_l("This is not an intra-EU VAT number (check its digits)."))


# The rates French VAT knows (basis points): standard, intermediate, reduced, special.
VAT_RATES = (2000, 1000, 550, 210)


def vat_rate_choices() -> list[SelectChoice]:
    return [SelectChoice(str(rate), f"{rate / 100:g} %") for rate in VAT_RATES]


class AssociationForm(FlaskForm):
    """The association's identity and VAT settings printed on attestations and invoices."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    address = TextAreaField(_l("Street address"), validators=[DataRequired(), Length(max=1000)])
    postal_code = StringField(_l("Postal code"), validators=[DataRequired(), Length(max=20)])
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=120)])
    country = SelectField(_l("Country"), default="FR", validators=[DataRequired()])
    siret = StringField(
        _l("SIRET"),
        filters=[lambda value: value.replace(" ", "") if value else value],
        validators=[Optional(), _siret],
    )
    rna = StringField(
        _l("RNA number"),
        filters=[lambda value: value.strip().upper() if value else value],
        validators=[
            Optional(),
            Regexp(r"^W\d{9}$", message=_l("An RNA number is a W followed by 9 digits.")),
        ],
    )
    email = EmailField(_l("E-mail"), validators=[Optional(), Email(), Length(max=254)])
    vat_regime = RadioField(
        _l("VAT"),
        choices=[
            SelectChoice("franchise", _l("Franchise: no VAT charged (art. 293 B du CGI)")),
            SelectChoice("vat", _l("VAT charged at a rate per kind of sale")),
        ],
        default="franchise",
        validators=[InputRequired()],
    )
    vat_number = StringField(
        _l("Intra-EU VAT number"),
        filters=[lambda value: normalise_vat_number(value) or None],
        validators=[Optional(), _vat_number],
    )
    vat_rate_partner_plan = SelectField(
        _l("VAT rate of partnerships"), choices=vat_rate_choices, default="2000"
    )
    vat_rate_featured = SelectField(
        _l("VAT rate of featured placements"), choices=vat_rate_choices, default="2000"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice(code, name) for code, name in country_choices()]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.vat_regime.data == "vat" and not self.vat_number.data:
            self.vat_number.errors = [
                *self.vat_number.errors,
                _l("Charging VAT needs the association's VAT number."),
            ]
            return False
        return valid
