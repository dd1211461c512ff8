"""JSON in and out of the applications API.

Role variants: ``MemberApplicationSchema`` is what a candidate sees of their own applications
(with the status history, never the partner's notes); ``PartnerApplicationSchema`` is what the
partner's team sees (the candidate's name and e-mail, the private notes).
``ApplicationStatusInputSchema`` takes ``status`` and an optional ``note``, nothing else.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from jobs.application_services import MAX_NOTE, PIPELINE_STATUSES

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
