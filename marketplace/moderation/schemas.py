"""JSON in and out of the moderation API."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from marketplace.accounts.models import VerificationStatus
from marketplace.accounts.reasons import REFUSAL_REASONS
from marketplace.moderation.services import MESSAGE_MAX_LENGTH


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class DecisionSchema(Schema):
    """The body of an approval: nothing is required (a reason or message is ignored)."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(load_default=None, allow_none=True)
    message = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MESSAGE_MAX_LENGTH)
    )


class RejectionSchema(DecisionSchema):
    """A refusal needs a reason from the list; the message is optional."""

    reason = fields.String(
        required=True,
        validate=validate.OneOf(sorted(REFUSAL_REASONS)),
        metadata={"description": "One of " + ", ".join(sorted(REFUSAL_REASONS))},
    )


class ChangesRequestSchema(DecisionSchema):
    """A request for information needs the question to send to the member."""

    message = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=MESSAGE_MAX_LENGTH), _not_blank],
    )


class MemberDecisionSchema(Schema):
    """An alumnus's verification after a decision."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(dump_only=True)
    user_id = fields.Integer(dump_only=True)
    status = fields.Enum(VerificationStatus, by_value=True, dump_only=True)
    refusal_reason = fields.String(dump_only=True, allow_none=True)
    decided_at = fields.DateTime(dump_only=True, allow_none=True)
