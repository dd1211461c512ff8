"""Forms of the treasury pages: the ledger filters (GET) and the refund (POST)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from marketplace.payments.models import PaymentKind, PaymentStatus


def kind_labels() -> dict[str, str]:
    """Payment kinds as people read them."""
    return {
        PaymentKind.MEMBERSHIP.value: str(_l("Membership")),
        PaymentKind.PARTNER_PLAN.value: str(_l("Partner plan")),
        PaymentKind.FEATURED.value: str(_l("Featured placement")),
    }


def status_labels() -> dict[str, str]:
    """Payment statuses as people read them."""
    return {
        PaymentStatus.PENDING.value: str(_l("Pending")),
        PaymentStatus.REQUIRES_ACTION.value: str(_l("Awaiting authentication")),
        PaymentStatus.SUCCEEDED.value: str(_l("Succeeded")),
        PaymentStatus.FAILED.value: str(_l("Failed")),
        PaymentStatus.CANCELED.value: str(_l("Canceled")),
        PaymentStatus.PARTIALLY_REFUNDED.value: str(_l("Partially refunded")),
        PaymentStatus.REFUNDED.value: str(_l("Refunded")),
        PaymentStatus.DISPUTED.value: str(_l("Disputed")),
    }


class PeriodExportForm(FlaskForm):
    """Period (creation day), kind and status of the ledger: the CSV export's filters."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    kind = SelectField(_l("Kind"), validators=[Optional()], default="")
    status = SelectField(_l("Status"), validators=[Optional()], default="")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [
            SelectChoice("", _l("All")),
            *(SelectChoice(value, label) for value, label in kind_labels().items()),
        ]
        self.status.choices = [
            SelectChoice("", _l("All")),
            *(SelectChoice(value, label) for value, label in status_labels().items()),
        ]


class PaymentFilterForm(PeriodExportForm):
    """Period, kind and status of the ledger, a search and a sort order."""

    q = StringField(
        _l("Search"),
        validators=[Optional(), Length(max=200)],
        description=_l("Payer name or e-mail, document number (2026-000123) or Stripe id"),
    )
    sort = SelectField(_l("Sort by"), validators=[Optional()], default="-date")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sort.choices = [
            SelectChoice("-date", _l("Newest first")),
            SelectChoice("date", _l("Oldest first")),
            SelectChoice("-amount", _l("Largest amount first")),
            SelectChoice("amount", _l("Smallest amount first")),
            SelectChoice("status", _l("Status (pending first)")),
            SelectChoice("-status", _l("Status (refunded and disputed first)")),
        ]


class RefundForm(FlaskForm):
    """A full (no amount) or partial refund, with its reason; ``confirm`` marks the 2nd step."""

    amount = DecimalField(
        _l("Amount to refund (leave empty to refund everything left)"),
        places=2,
        validators=[Optional(), NumberRange(min=Decimal("0.01"))],
    )
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)])
    confirm = HiddenField()


class FecExportForm(FlaskForm):
    """The fiscal year of the FEC file (a GET form)."""

    class Meta:
        csrf = False

    year = IntegerField(_l("Fiscal year"), validators=[DataRequired(), NumberRange(2000, 2999)])


class AccountForm(FlaskForm):
    """The account number and label of one accounting category."""

    key = HiddenField(validators=[DataRequired(), Length(max=40)])
    number = StringField(
        _l("Account number"),
        validators=[
            DataRequired(),
            Length(max=20),
            Regexp(r"^[0-9A-Za-z]+$", message=_l("Digits and letters only.")),
        ],
    )
    label = StringField(_l("Account label"), validators=[DataRequired(), Length(max=120)])


def ledger_filter_values(form: PeriodExportForm) -> dict[str, Any]:
    """The valid period, kind and status of a ledger form; a field with a bad value is ignored."""
    form.validate()

    def value(name: str) -> Any:
        return None if form[name].errors else form[name].data or None

    return {
        "start": value("start"),
        "end": value("end"),
        "kind": PaymentKind(value("kind")) if value("kind") else None,
        "status": PaymentStatus(value("status")) if value("status") else None,
    }
