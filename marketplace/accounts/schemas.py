"""JSON shapes of the accounts API: token requests and answers, the caller's profile."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

from marketplace.accounts.models import VerificationStatus
from marketplace.i18n import COUNTRY_CODES, is_timezone


class IsSet(fields.Boolean):
    """True when the attribute holds a value (a timestamp that was set), else False."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> bool:
        return value is not None


class SortedStrings(fields.List):
    """A set of strings, dumped as a sorted list (stable output for clients and tests)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any):
        return super()._serialize(sorted(value or ()), attr, obj, **kwargs)


class TokenRequestSchema(Schema):
    """Credentials exchanged for a bearer token."""

    class Meta:
        unknown = EXCLUDE

    # A plain string, not Email: a malformed address gets the same 401 as a wrong one.
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )
    otp = fields.String(
        load_default=None,
        allow_none=True,
        load_only=True,
        validate=validate.Length(max=64),
        metadata={"description": "Staff: a current TOTP code, or an unused recovery code."},
    )


class TokenSchema(Schema):
    """A new bearer token, shown once."""

    class Meta:
        unknown = EXCLUDE

    token = fields.String(
        dump_only=True, metadata={"description": "Send as `Authorization: Bearer <token>`."}
    )
    expires_at = fields.DateTime(dump_only=True)


class AlumniSchema(Schema):
    """What the association knows of the caller as an alumnus."""

    class Meta:
        unknown = EXCLUDE

    status = fields.Enum(VerificationStatus, by_value=True, dump_only=True)
    school = fields.Method(
        "school_name", dump_only=True, allow_none=True, metadata={"type": "string"}
    )
    graduation_year = fields.Integer(dump_only=True, allow_none=True)
    country = fields.String(
        dump_only=True, allow_none=True, metadata={"description": "ISO 3166 alpha-2"}
    )
    city = fields.String(dump_only=True, allow_none=True)

    def school_name(self, profile: Any) -> str | None:
        return profile.school.name if profile.school is not None else None


class MeSchema(Schema):
    """The caller's own account."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(dump_only=True)
    email = fields.String(dump_only=True)
    full_name = fields.String(dump_only=True)
    locale = fields.String(dump_only=True)
    timezone = fields.String(
        dump_only=True, metadata={"description": "IANA zone dates are shown in, e.g. Asia/Tokyo."}
    )
    roles = SortedStrings(dump_only=True, metadata={"description": "Staff roles held."})
    email_confirmed = IsSet(attribute="email_confirmed_at", dump_only=True)
    alumni = fields.Nested(
        AlumniSchema,
        attribute="alumni_profile",
        allow_none=True,
        dump_only=True,
        metadata={"description": "null when the caller registered as no alumnus."},
    )


class MeUpdateSchema(Schema):
    """What the caller may change of their own settings (absent fields stay as they are)."""

    class Meta:
        unknown = EXCLUDE

    locale = fields.String(validate=validate.OneOf(["fr", "en"]))
    timezone = fields.String(metadata={"description": "An IANA zone, e.g. Europe/Lisbon."})
    country = fields.String(
        metadata={"description": "ISO 3166 alpha-2 (alumni only): where the caller lives."}
    )
    city = fields.String(validate=validate.Length(min=1, max=120))

    @validates("timezone")
    def _known_zone(self, value: str, **kwargs: Any) -> None:
        if not is_timezone(value):
            raise ValidationError("Unknown time zone.")

    @validates("country")
    def _known_country(self, value: str, **kwargs: Any) -> None:
        if value.upper() not in COUNTRY_CODES:
            raise ValidationError("Unknown country code.")
