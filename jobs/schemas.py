"""JSON in and out of the jobs APIs (public, partner, moderation, applications).

Role variants of one base: ``PublicJobSchema`` is what anyone sees; ``PartnerJobSchema`` adds
what the partner's team sees of its own jobs; ``ModeratorJobSchema`` adds the partner's id.
``MemberApplicationSchema`` is what a candidate sees of their own applications (with the status
history, never the partner's notes); ``PartnerApplicationSchema`` is what the partner's team
sees (the candidate's name and e-mail, the private notes).
``JobInputSchema`` takes the writable fields only: a client's ``status`` or ``partner`` is
dropped with every other unknown field. ``description`` (and ``title``) are shorthands for
the French version.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from jobs import search
from jobs.application_services import MAX_NOTE, PIPELINE_STATUSES
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


class JobQuerySchema(Schema):
    """The search and filters of ``GET /jobs``."""

    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=validate.Length(max=200))
    contract = fields.String(
        load_default="", validate=validate.OneOf(["", *(item.value for item in Contract)])
    )
    country = fields.String(
        load_default="", validate=validate.Length(max=2), metadata={"description": "ISO 3166."}
    )
    city = fields.String(load_default="", validate=validate.Length(max=120))
    remote = fields.String(
        load_default="", validate=validate.OneOf(["", *(item.value for item in Remote)])
    )
    language = fields.String(
        load_default="", validate=validate.Length(max=2), metadata={"description": "ISO 639-1."}
    )
    sort = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf([sort.value for sort in search.Sort]),
    )


class PublicJobSchema(Schema):
    """A job as the public sees it (the base of the partner's and the moderator's variants)."""

    id = fields.Integer(dump_only=True)
    title = fields.String(dump_only=True, metadata={"description": "In the reader's language."})
    description = fields.String(dump_only=True, metadata={"description": "Markdown."})
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
    published_at = fields.DateTime(dump_only=True, allow_none=True)
    status = fields.String(dump_only=True)
    partner = fields.Function(lambda job: job.partner.name, dump_only=True)


class PartnerJobSchema(PublicJobSchema):
    """A job as its partner's team sees it: the public fields, its listing and its review."""

    class Meta:
        unknown = EXCLUDE

    listed_until = fields.DateTime(dump_only=True, allow_none=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    filled_through_network = fields.Boolean(dump_only=True, allow_none=True)
    moderator_message = fields.String(dump_only=True, allow_none=True)
    refusal_reason = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    submitted_at = fields.DateTime(dump_only=True, allow_none=True)


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


# ---------------------------------------------------------------- applications

PIPELINE_VALUES = [status.value for status in PIPELINE_STATUSES]


class StatusChangeSchema(Schema):
    from_status = fields.String(allow_none=True, dump_only=True)
    to_status = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class NoteSchema(Schema):
    id = fields.Integer(dump_only=True)
    author = fields.String(dump_only=True)
    body = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ApplicationBaseSchema(Schema):
    id = fields.Integer(dump_only=True)
    job_id = fields.Integer(dump_only=True)
    job_title = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    cover_letter = fields.String(allow_none=True, dump_only=True)
    cv_available = fields.Boolean(dump_only=True)
    submitted_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class MemberApplicationSchema(ApplicationBaseSchema):
    """A candidate's own application, with its history."""

    partner = fields.String(dump_only=True)
    retention_consent = fields.Boolean(dump_only=True)
    withdrawn_at = fields.DateTime(allow_none=True, dump_only=True)
    history = fields.List(fields.Nested(StatusChangeSchema), dump_only=True)


class CandidateSchema(Schema):
    name = fields.String(dump_only=True)
    email = fields.String(dump_only=True)


class PartnerApplicationSchema(ApplicationBaseSchema):
    """An application as the partner's team sees it."""

    candidate = fields.Nested(CandidateSchema, allow_none=True, dump_only=True)
    cv_url = fields.String(allow_none=True, dump_only=True)
    notes = fields.List(fields.Nested(NoteSchema), dump_only=True)


class ApplicationStatusInputSchema(Schema):
    """A pipeline move: the new status, and an optional private note."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(required=True, validate=validate.OneOf(PIPELINE_VALUES))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_NOTE))


class PipelineQuerySchema(Schema):
    """Filters of a job's applications."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(
        load_default=None, validate=validate.OneOf([*PIPELINE_VALUES, "withdrawn"])
    )
    q = fields.String(load_default=None, validate=validate.Length(max=100))
