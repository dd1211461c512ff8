"""Forms of the partner pages (validation only: the rules live in partners.services)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from marketplace.accounts.forms import NewPassword, clean_text
from marketplace.i18n import country_choices
from marketplace.money import (
    HOME_CURRENCY,
    amount_error,
    to_minor,
    upper_code,
)
from marketplace.payments.identifiers import (
    digits_only,
    siren_is_valid,
    siret_is_valid,
    vat_number_is_valid,
)
from marketplace.security import MAX_PASSWORD_LENGTH
from partners.models import TeamRole
from partners.services import REASON_MAX_LENGTH

# The least role first: an invitation offers it unless the owner chooses more.
ROLE_LABELS = {TeamRole.MANAGER: _l("Manager"), TeamRole.OWNER: _l("Owner")}
LOGO_ACCEPT = {"accept": "image/png,image/jpeg"}


def _role_choices() -> list[tuple[str, Any]]:
    return [(role.value, label) for role, label in ROLE_LABELS.items()]


def _website() -> StringField:
    return StringField(
        _l("Website"),
        filters=[clean_text],
        validators=[Optional(), URL(require_tld=True), Length(max=300)],
        render_kw={"type": "url", "placeholder": "https://", "autocomplete": "url"},
    )


def _description() -> TextAreaField:
    return TextAreaField(
        _l("Description of the company"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=5000)],
        render_kw={"rows": 6},
    )


def _contact_name() -> StringField:
    return StringField(
        _l("Contact name"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=160)],
        render_kw={"autocomplete": "name"},
    )


def _contact_email() -> StringField:
    return StringField(
        _l("Contact e-mail address"),
        filters=[clean_text],
        validators=[DataRequired(), Email(), Length(max=254)],
        render_kw={"type": "email", "autocomplete": "email"},
    )


def _contact_phone() -> StringField:
    return StringField(
        _l("Phone (optional)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=40)],
        render_kw={"type": "tel", "autocomplete": "tel"},
    )


class ApplicationForm(FlaskForm):
    """A company asks to become a partner."""

    name = StringField(
        _l("Company name"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=160)],
        render_kw={"autocomplete": "organization"},
    )
    country = SelectField(_l("Country"), validators=[DataRequired()])
    website = _website()
    description = _description()
    contact_name = _contact_name()
    contact_email = _contact_email()
    contact_phone = _contact_phone()
    logo = FileField(_l("Logo (optional)"), render_kw=LOGO_ACCEPT)
    password = PasswordField(
        _l("Password for your account"),
        validators=[InputRequired(), NewPassword()],
        render_kw={
            "autocomplete": "new-password",
            "minlength": 8,
            "maxlength": MAX_PASSWORD_LENGTH,
        },
    )

    def __init__(self, *args: Any, signed_in: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("Choose a country")), *country_choices()]
        if signed_in:
            # The signed-in person becomes the owner: no account to create.
            del self.password


class ProfileForm(FlaskForm):
    """The company details an owner may edit."""

    description = _description()
    website = _website()
    contact_name = _contact_name()
    contact_email = _contact_email()
    contact_phone = _contact_phone()
    logo = FileField(_l("New logo (optional)"), render_kw=LOGO_ACCEPT)


class RefuseForm(FlaskForm):
    """A moderator refuses an application; the reason is sent to the applicant."""

    reason = TextAreaField(
        _l("Reason (sent to the applicant)"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=REASON_MAX_LENGTH)],
        render_kw={"rows": 4},
    )


class InviteForm(FlaskForm):
    """An owner invites a colleague by e-mail."""

    email = StringField(
        _l("E-mail address"),
        filters=[clean_text],
        validators=[DataRequired(), Email(), Length(max=254)],
        render_kw={"type": "email", "autocomplete": "off"},
    )
    role = SelectField(_l("Role"), validators=[DataRequired()], default=TeamRole.MANAGER.value)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()


class RoleForm(FlaskForm):
    """An owner changes a representative's role."""

    role = SelectField(_l("Role"), validators=[DataRequired()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()


class ActionForm(FlaskForm):
    """A button that changes state (the CSRF token only)."""


# ---------------------------------------------------------------- partner plans (admin)

PLAN_KIND_LABELS = {
    "partnership": _l("Partnership (official partner badge)"),
    "featured": _l("Featured placement of an offer"),
}


class PlanForm(FlaskForm):
    """A partner plan; the price is typed in currency units and stored in minor units."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[a-z0-9][a-z0-9_-]*$", message=_l("Lower-case letters, digits, - and _.")),
        ],
    )
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(value, label) for value, label in PLAN_KIND_LABELS.items()],
        validators=[DataRequired()],
    )
    name_fr = StringField(
        _l("Name (French)"), filters=[clean_text], validators=[DataRequired(), Length(max=120)]
    )
    name_en = StringField(
        _l("Name (English)"), filters=[clean_text], validators=[DataRequired(), Length(max=120)]
    )
    description_fr = TextAreaField(
        _l("Description (French)"), filters=[clean_text], validators=[Optional(), Length(max=2000)]
    )
    description_en = TextAreaField(
        _l("Description (English)"), filters=[clean_text], validators=[Optional(), Length(max=2000)]
    )
    amount = DecimalField(
        _l("Price"),
        places=2,
        validators=[InputRequired(), NumberRange(min=Decimal("0.01"), max=Decimal("1000000"))],
    )
    # Euros only: a partner plan is invoiced by a French association (VAT and the 40 € indemnity
    # in euros, the FEC), unlike membership tiers, which may be priced in PAYMENT_CURRENCIES.
    currency = SelectField(
        _l("Currency"), default=HOME_CURRENCY, filters=[upper_code], validators=[DataRequired()]
    )
    days = IntegerField(
        _l("Length in days"), default=365, validators=[InputRequired(), NumberRange(1, 3650)]
    )
    position = IntegerField(
        _l("Position in lists"), default=0, validators=[InputRequired(), NumberRange(0, 1000)]
    )
    active = BooleanField(_l("Offered to partners"), default=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = [SelectChoice(HOME_CURRENCY, HOME_CURRENCY)]

    def validate_amount(self, field: DecimalField) -> None:
        message = amount_error(field.data, self.currency.data)
        if message:
            raise ValidationError(message)

    def amount_minor(self) -> int:
        """The validated price in the currency's minor units."""
        return to_minor(self.amount.data, self.currency.data)


def _siren(form: FlaskForm, field: StringField) -> None:
    if field.data and not siren_is_valid(digits_only(field.data)):
        raise ValidationError(_l("A SIREN number has 9 digits (check them)."))


def _siret(form: FlaskForm, field: StringField) -> None:
    if field.data and not siret_is_valid(digits_only(field.data)):
        raise ValidationError(_l("A SIRET number has 14 digits (check them)."))


def _vat_number(form: FlaskForm, field: StringField) -> None:
    if field.data and not vat_number_is_valid(field.data):
        raise ValidationError(_l("This is not an intra-EU VAT number (check its digits)."))


class BillingIdentityForm(FlaskForm):
    """The company's legal identity printed on its invoices."""

    legal_name = StringField(
        _l("Legal name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )
    address = TextAreaField(
        _l("Street address"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=500)],
        render_kw={"rows": 2, "autocomplete": "street-address"},
    )
    postal_code = StringField(
        _l("Postal code"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=20)],
        render_kw={"autocomplete": "postal-code"},
    )
    city = StringField(
        _l("City"), filters=[clean_text], validators=[DataRequired(), Length(max=120)]
    )
    country = SelectField(_l("Country"), validators=[DataRequired()])
    siren = StringField(
        _l("SIREN"),
        filters=[clean_text],
        validators=[Optional(), _siren],
        render_kw={"inputmode": "numeric"},
    )
    siret = StringField(
        _l("SIRET"),
        filters=[clean_text],
        validators=[Optional(), _siret],
        render_kw={"inputmode": "numeric"},
    )
    vat_number = StringField(
        _l("Intra-EU VAT number"), filters=[clean_text], validators=[Optional(), _vat_number]
    )
    po_reference = StringField(
        _l("Purchase order reference (optional)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=60)],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice(code, name) for code, name in country_choices()]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.country.data == "FR" and not self.siren.data and not self.siret.data:
            self.siren.errors = [
                *self.siren.errors,
                _l("A French company gives its SIREN or its SIRET."),
            ]
            return False
        return valid

    def validate_siret(self, field: StringField) -> None:
        siren = digits_only(self.siren.data)
        if field.data and siren and not digits_only(field.data).startswith(siren):
            raise ValidationError(_l("A SIRET starts with the company's SIREN."))
