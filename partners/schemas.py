"""JSON in and out of the partner moderation API."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

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
