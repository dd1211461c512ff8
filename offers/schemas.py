"""JSON in and out of the offers APIs (public, partner, moderation).

Role variants of one base: ``PublicOfferSchema`` is what anyone sees (``ReadOfferSchema`` adds
what the caller can do with it); ``PartnerOfferSchema`` adds what a partner's team sees of its
own offers (codes, link, pending changes, moderator messages); ``ModeratorOfferSchema`` adds
the partner's id.
``OfferInputSchema`` takes the writable fields only: a client's ``status``, ``partner_id`` or
``redeemed_count`` is dropped with every other unknown field.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_dump, post_load, validate

from offers import search
from offers.models import Audience, LimitPeriod, Redemption, RedemptionMethod
from offers.reader_state import ReaderState
from offers.redemption import voucher_state
from offers.services import MESSAGE_MAX_LENGTH
from offers.wallet_views import check_url

METHODS = [method.value for method in RedemptionMethod]
AUDIENCES = [audience.value for audience in Audience]
PERIODS = [period.value for period in LimitPeriod]
SHORTHANDS = ("title", "summary", "description")


def _text(max_length: int | None = None, **metadata: Any) -> fields.String:
    validators = [validate.Length(max=max_length)] if max_length else []
    return fields.String(allow_none=True, validate=validators, metadata=metadata)


class OfferInputSchema(Schema):
    """The writable fields of an offer (every one optional: a PATCH sends only what changes)."""

    class Meta:
        unknown = EXCLUDE

    title = _text(160, description="Shorthand for title_fr.")
    summary = _text(300, description="Shorthand for summary_fr.")
    description = _text(20000, description="Shorthand for description_fr (Markdown).")
    title_fr = _text(160)
    title_en = _text(160)
    summary_fr = _text(300)
    summary_en = _text(300)
    description_fr = _text(20000, description="Markdown.")
    description_en = _text(20000, description="Markdown.")
    category = _text(60, description="A category slug.")
    countries = fields.List(
        fields.String(validate=validate.Length(equal=2)),
        allow_none=True,
        metadata={"description": "ISO 3166 alpha-2 codes; empty means worldwide."},
    )
    city = _text(120)
    online = fields.Boolean()
    starts_at = fields.AwareDateTime(allow_none=True, default_timezone=None)
    ends_at = fields.AwareDateTime(allow_none=True, default_timezone=None)
    audience = fields.String(validate=validate.OneOf(AUDIENCES))
    redemption_method = fields.String(validate=validate.OneOf(METHODS))
    shared_code = _text(80)
    link_url = _text(500, description="An https:// address.")
    # Bounded like the portal form; past 2**31 the INTEGER column refused it (a 500).
    total_limit = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=1_000_000))
    per_member_limit = fields.Integer(validate=validate.Range(min=1, max=1000))
    limit_period = fields.String(validate=validate.OneOf(PERIODS))
    reveal_ttl_minutes = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=525_600)
    )

    @post_load
    def expand_shorthands(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """``title``/``summary``/``description`` fill the French field when it is not sent."""
        for field in SHORTHANDS:
            if field in data:
                value = data.pop(field)
                data.setdefault(f"{field}_fr", value)
        return data


class OfferQuerySchema(Schema):
    """The search and filters of ``GET /offers``."""

    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=validate.Length(max=200))
    category = fields.String(load_default="", metadata={"description": "A category slug."})
    country = fields.String(
        load_default="",
        validate=validate.Length(max=2),
        metadata={"description": "ISO 3166 alpha-2; worldwide offers always match."},
    )
    city = fields.String(load_default="")
    online = fields.Boolean(load_default=None, allow_none=True)
    partner = fields.String(load_default="", metadata={"description": "A partner id or slug."})
    sort = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf([sort.value for sort in search.Sort]),
    )


class PublicOfferSchema(Schema):
    """An offer as the public sees it: no shared code, no partner link (the base of the
    partner's and the moderator's variants)."""

    id = fields.Integer(dump_only=True)
    title = fields.String(dump_only=True, metadata={"description": "In the reader's language."})
    summary = fields.String(dump_only=True)
    description = fields.String(dump_only=True, metadata={"description": "Markdown."})
    title_fr = fields.String(dump_only=True, allow_none=True)
    title_en = fields.String(dump_only=True, allow_none=True)
    summary_fr = fields.String(dump_only=True, allow_none=True)
    summary_en = fields.String(dump_only=True, allow_none=True)
    category = fields.Function(
        lambda offer: offer.category.slug if offer.category else None, dump_only=True
    )
    countries = fields.List(fields.String(), dump_only=True)
    city = fields.String(dump_only=True, allow_none=True)
    online = fields.Boolean(dump_only=True)
    starts_at = fields.DateTime(dump_only=True, allow_none=True)
    ends_at = fields.DateTime(dump_only=True, allow_none=True)
    audience = fields.String(dump_only=True)
    redemption_method = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    partner = fields.Function(lambda offer: offer.partner.name, dump_only=True)
    redeemed_count = fields.Integer(dump_only=True)


class ReadOfferSchema(PublicOfferSchema):
    """One offer, and for a signed-in caller what they can do with it."""

    reader_state = fields.String(
        dump_only=True,
        validate=validate.OneOf([state.value for state in ReaderState]),
        metadata={
            "description": "What the caller can do with the offer (only with a token or "
            "a browser session): the same state the offer page shows."
        },
    )


class PartnerOfferSchema(PublicOfferSchema):
    """An offer as its partner's team sees it: the public fields and the offer's settings."""

    class Meta:
        unknown = EXCLUDE

    description_fr = fields.String(dump_only=True, allow_none=True)
    description_en = fields.String(dump_only=True, allow_none=True)
    shared_code = fields.String(dump_only=True, allow_none=True)
    link_url = fields.String(dump_only=True, allow_none=True)
    total_limit = fields.Integer(dump_only=True, allow_none=True)
    per_member_limit = fields.Integer(dump_only=True)
    limit_period = fields.String(dump_only=True)
    reveal_ttl_minutes = fields.Integer(dump_only=True, allow_none=True)
    pending_changes = fields.Dict(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Changes to a live offer waiting for review."},
    )
    moderator_message = fields.String(dump_only=True, allow_none=True)
    refusal_reason = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    submitted_at = fields.DateTime(dump_only=True, allow_none=True)
    published_at = fields.DateTime(dump_only=True, allow_none=True)


class ModeratorOfferSchema(PartnerOfferSchema):
    """An offer as a moderator sees it: the partner's id too."""

    partner_id = fields.Integer(dump_only=True)


class CodesInputSchema(Schema):
    """Codes to add to a unique-codes pool."""

    class Meta:
        unknown = EXCLUDE

    codes = fields.List(
        fields.String(), required=True, validate=validate.Length(min=1, max=100_000)
    )


class CodesResultSchema(Schema):
    """How many codes were added and how many duplicates were skipped."""

    added = fields.Integer(dump_only=True)
    duplicates = fields.Integer(dump_only=True)


class OfferDecisionSchema(Schema):
    """A moderator's decision: ``reason`` is required to refuse, a message to request changes."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MESSAGE_MAX_LENGTH)
    )
    message = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MESSAGE_MAX_LENGTH)
    )


class RedemptionSchema(Schema):
    """A member's redemption: the code, the pass address or the partner link they got."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(dump_only=True)
    offer_id = fields.Integer(dump_only=True)
    offer_title = fields.Method("_offer_title", dump_only=True)
    code = fields.Method("_code", dump_only=True, allow_none=True)
    voucher_url = fields.Method(
        "_voucher_url",
        dump_only=True,
        metadata={"description": "the partner's check page, the address the QR pass holds"},
    )
    link = fields.Method("_link", dump_only=True)
    redeemed_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True)
    validated_at = fields.DateTime(dump_only=True)

    def _offer_title(self, redemption: Redemption) -> str:
        return redemption.offer.title

    def _code(self, redemption: Redemption) -> str | None:
        if voucher_state(redemption) == "expired":
            return None
        return redemption.code

    def _voucher_url(self, redemption: Redemption) -> str | None:
        return check_url(redemption.voucher_token) if redemption.voucher_token else None

    def _link(self, redemption: Redemption) -> str | None:
        return redemption.offer.link_url

    @post_dump
    def _drop_empty(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """``code``, ``voucher_url`` and ``link`` appear only when the offer gives one."""
        for key in ("code", "voucher_url", "link", "expires_at", "validated_at"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class PartnerRedemptionSchema(Schema):
    """A redemption as the partner sees it: no member identity beyond a first name."""

    id = fields.Integer(dump_only=True)
    offer_id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True, allow_none=True)
    redeemed_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True, allow_none=True)
    validated_at = fields.DateTime(dump_only=True, allow_none=True)
    state = fields.Method("_state", dump_only=True)

    def _state(self, redemption: Redemption) -> str:
        return voucher_state(redemption)
