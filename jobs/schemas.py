"""JSON in and out of the partner jobs API and the job moderation API.

``JobInputSchema`` takes the writable fields only: a client's ``status`` or ``partner`` is
dropped with every other unknown field. ``description`` (and ``title``) are shorthands for
the French version.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from jobs.models import Contract, Remote
from jobs.services import LANGUAGES, MAX_SALARY, MESSAGE_MAX_LENGTH

CONTRACTS = [contract.value for contract in Contract]
REMOTES = [remote.value for remote in Remote]
SHORTHANDS = ("title", "description")


def _text(max_length: int, **metadata: Any) -> fields.String:
    return fields.String(
        allow_none=True, validate=validate.Length(max=max_length), metadata=metadata
    )


def _salary() -> fields.Integer:
    return fields.Integer(allow_none=True, validate=validate.Range(min=0, max=MAX_SALARY))


class JobInputSchema(Schema):
    """The writable fields of a job (every one optional: a PATCH sends only what changes)."""

    class Meta:
        unknown = EXCLUDE

    title = _text(160, description="Shorthand for title_fr.")
    description = _text(20000, description="Shorthand for description_fr.")
    title_fr = _text(160)
    title_en = _text(160)
    description_fr = _text(20000)
    description_en = _text(20000)
    contract = fields.String(validate=validate.OneOf(CONTRACTS))
    country = fields.String(
        validate=validate.Length(equal=2), metadata={"description": "ISO 3166 alpha-2."}
    )
    city = _text(120)
    remote = fields.String(validate=validate.OneOf(REMOTES))
    languages = fields.List(
        fields.String(validate=validate.OneOf(LANGUAGES)),
        allow_none=True,
        metadata={"description": "ISO 639-1 codes."},
    )
    salary_min = _salary()
    salary_max = _salary()
    currency = fields.String(allow_none=True, validate=validate.Length(equal=3))
    apply_deadline = fields.Date(allow_none=True)

    @post_load
    def expand_shorthands(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """``title``/``description`` fill the French field when it is not sent."""
        for field in SHORTHANDS:
            if field in data:
                value = data.pop(field)
                data.setdefault(f"{field}_fr", value)
        return data


class PartnerJobSchema(Schema):
    """A job as its partner's team sees it."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True)
    partner = fields.Function(lambda job: job.partner.name, dump_only=True)
    title = fields.String(dump_only=True, metadata={"description": "In the caller's language."})
    description = fields.String(dump_only=True)
    title_fr = fields.String(dump_only=True, allow_none=True)
    title_en = fields.String(dump_only=True, allow_none=True)
    description_fr = fields.String(dump_only=True, allow_none=True)
    description_en = fields.String(dump_only=True, allow_none=True)
    contract = fields.String(dump_only=True)
    country = fields.String(dump_only=True)
    city = fields.String(dump_only=True, allow_none=True)
    remote = fields.String(dump_only=True)
    languages = fields.List(fields.String(), dump_only=True)
    salary_min = fields.Integer(dump_only=True, allow_none=True)
    salary_max = fields.Integer(dump_only=True, allow_none=True)
    currency = fields.String(dump_only=True, allow_none=True)
    apply_deadline = fields.Date(dump_only=True, allow_none=True)
    listed_until = fields.DateTime(dump_only=True, allow_none=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    filled_through_network = fields.Boolean(dump_only=True, allow_none=True)
    moderator_message = fields.String(dump_only=True, allow_none=True)
    refusal_reason = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    submitted_at = fields.DateTime(dump_only=True, allow_none=True)
    published_at = fields.DateTime(dump_only=True, allow_none=True)


class ModeratorJobSchema(PartnerJobSchema):
    """A job as a moderator sees it: the partner's id too."""

    partner_id = fields.Integer(dump_only=True)


class JobDecisionSchema(Schema):
    """A moderator's decision: ``reason`` is required to refuse, a message to request changes."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MESSAGE_MAX_LENGTH)
    )
    message = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MESSAGE_MAX_LENGTH)
    )
