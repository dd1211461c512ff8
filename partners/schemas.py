"""JSON in and out of the partner moderation API."""

from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from marketplace.payments.identifiers import (
    digits_only,
    siren_is_valid,
    siret_is_valid,
    vat_number_is_valid,
)
from partners.models import PartnerStatus
from partners.services import REASON_MAX_LENGTH


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class PartnerDecisionBodySchema(Schema):
    """The body of an approval: nothing is required."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(load_default=None, allow_none=True)


class PartnerRejectionSchema(Schema):
    """A refusal needs the reason sent to the applicant."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(
        required=True, validate=[validate.Length(min=1, max=REASON_MAX_LENGTH), _not_blank]
    )


class PartnerChangesRequestSchema(Schema):
    """A request for changes needs the message sent to the applicant."""

    class Meta:
        unknown = EXCLUDE

    message = fields.String(
        required=True, validate=[validate.Length(min=1, max=REASON_MAX_LENGTH), _not_blank]
    )


class PartnerDecisionSchema(Schema):
    """A partner application after a decision."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(dump_only=True)
    status = fields.Enum(PartnerStatus, by_value=True, dump_only=True)
    refusal_reason = fields.String(dump_only=True, allow_none=True)


# ---------------------------------------------------------------- billing


class BillingIdentitySchema(Schema):
    """The company's legal identity printed on its invoices (in and out).

    A French company gives its SIREN or SIRET; each is checked with its check digit (Luhn);
    a VAT number must have an intra-EU shape. The SIREN is derived from a SIRET when absent.
    """

    class Meta:
        unknown = EXCLUDE

    legal_name = fields.String(
        required=True, validate=[validate.Length(min=1, max=200), _not_blank]
    )
    address = fields.String(required=True, validate=[validate.Length(min=1, max=500), _not_blank])
    postal_code = fields.String(
        required=True, validate=[validate.Length(min=1, max=20), _not_blank]
    )
    city = fields.String(required=True, validate=[validate.Length(min=1, max=120), _not_blank])
    country = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z]{2}$", error="An ISO 3166 alpha-2 country code."),
        metadata={"description": "ISO 3166 alpha-2"},
    )
    siren = fields.String(load_default=None, allow_none=True, metadata={"description": "9 digits"})
    siret = fields.String(load_default=None, allow_none=True, metadata={"description": "14 digits"})
    vat_number = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=20),
        metadata={"description": "intra-EU VAT number"},
    )
    po_reference = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=60),
        metadata={"description": "purchase order reference printed on the invoices"},
    )

    @validates("siren")
    def _check_siren(self, value: str | None, **_kwargs) -> None:
        if value and not siren_is_valid(digits_only(value)):
            raise ValidationError("A SIREN has 9 digits and a valid check digit.")

    @validates("siret")
    def _check_siret(self, value: str | None, **_kwargs) -> None:
        if value and not siret_is_valid(digits_only(value)):
            raise ValidationError("A SIRET has 14 digits and a valid check digit.")

    @validates("vat_number")
    def _check_vat_number(self, value: str | None, **_kwargs) -> None:
        if value and not vat_number_is_valid(value):
            raise ValidationError("Not an intra-EU VAT number.")

    @validates_schema
    def _french_companies(self, data: dict, **_kwargs) -> None:
        if str(data.get("country") or "").upper() == "FR" and not (
            data.get("siren") or data.get("siret")
        ):
            raise ValidationError("A French company gives its SIREN or its SIRET.", "siren")
        siren, siret = digits_only(data.get("siren")), digits_only(data.get("siret"))
        if siren and siret and not siret.startswith(siren):
            raise ValidationError("A SIRET starts with the company's SIREN.", "siret")


class BillingPlanSchema(Schema):
    """A plan a partner can buy."""

    code = fields.String(dump_only=True)
    kind = fields.String(dump_only=True, metadata={"enum": ["partnership", "featured"]})
    name = fields.String(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units, tax included"})
    currency = fields.String(dump_only=True)
    days = fields.Integer(dump_only=True)


class PartnerBillingSchema(Schema):
    """The partner's billing: its identity (null before it is entered), the plans on offer and
    the last day of the running partnership."""

    identity = fields.Nested(BillingIdentitySchema, dump_only=True, allow_none=True)
    plans = fields.List(fields.Nested(BillingPlanSchema), dump_only=True)
    partner_until = fields.Date(
        dump_only=True, allow_none=True, metadata={"description": "last day covered, inclusive"}
    )


class BillingCheckoutSchema(Schema):
    """What to buy: a plan's code, and the offer to feature for a featured plan."""

    class Meta:
        unknown = EXCLUDE

    plan = fields.String(required=True, validate=validate.Length(min=1, max=40))
    offer_id = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=2**31 - 1)
    )


class BillingCheckoutResultSchema(Schema):
    """The same answer as the membership checkout: confirm the SetupIntent with Stripe.js, then
    ``POST /payments/{payment_id}/confirm``."""

    payment_id = fields.Integer(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    currency = fields.String(dump_only=True)
    setup_intent_client_secret = fields.String(dump_only=True)
    publishable_key = fields.String(dump_only=True)
