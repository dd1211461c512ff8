"""Offer lifecycle services: create, edit, submit, moderate, pause, archive, expire.

Every function flushes and never commits; each status change adds an ``OfferStatusChange``
row (the history the partner sees) and staff decisions are audited and e-mailed to the
partner's active team. Edits to a live offer wait in ``pending_changes`` for review while the
approved version stays public. The code pool of unique-codes offers is ``code_pool``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.catalog.models import Category
from marketplace.database import utcnow
from marketplace.errors import Conflict, InvalidInput
from marketplace.extensions import db
from marketplace.i18n import COUNTRY_CODES, N_
from marketplace.notifications.services import queue_mail
from marketplace.text import fold
from offers.models import (
    Audience,
    LimitPeriod,
    Offer,
    OfferCode,
    OfferCountry,
    OfferStatus,
    OfferStatusChange,
    RedemptionMethod,
)
from partners.access import active_members
from partners.models import Partner

logger = logging.getLogger(__name__)

SEARCH_FIELDS = ("title", "summary", "description")
TEXT_FIELDS = (
    "title_fr",
    "title_en",
    "summary_fr",
    "summary_en",
    "description_fr",
    "description_en",
    "city",
    "shared_code",
    "link_url",
)
# Every field a partner sets; on a live offer all of them go through review.
TERMS = (
    *TEXT_FIELDS,
    "category",
    "countries",
    "online",
    "starts_at",
    "ends_at",
    "audience",
    "redemption_method",
    "total_limit",
    "per_member_limit",
    "limit_period",
    "reveal_ttl_minutes",
)
MAX_LENGTHS = {
    "title_fr": 160,
    "title_en": 160,
    "summary_fr": 300,
    "summary_en": 300,
    "description_fr": 20000,
    "description_en": 20000,
    "city": 120,
    "shared_code": 80,
    "link_url": 500,
}
MESSAGE_MAX_LENGTH = 2000
EDITABLE = {OfferStatus.DRAFT, OfferStatus.CHANGES_REQUESTED, OfferStatus.REJECTED}
LIVE = {OfferStatus.PUBLISHED, OfferStatus.PAUSED}


class OfferStateConflict(Conflict):
    """The offer's status does not allow this action."""

    code = "offer_state"


class InvalidOffer(InvalidInput):
    """A field of the offer is not valid, or the offer is incomplete."""

    code = "invalid_offer"


# ---------------------------------------------------------------- search text


def refresh_search_text(offer: Offer, *, partner_name: str | None = None) -> None:
    """Recompute ``search_fr`` and ``search_en`` from the offer's live fields and its category's
    name (someone looking for "formation" finds the training offers)."""
    name = partner_name if partner_name is not None else offer.partner.name
    category = offer.category
    for lang in ("fr", "en"):
        parts = [getattr(offer, f"{field}_{lang}") for field in SEARCH_FIELDS]
        parts += [offer.city, name, getattr(category, f"name_{lang}", None)]
        setattr(offer, f"search_{lang}", fold(" ".join(part for part in parts if part)))


# ---------------------------------------------------------------- terms: clean, snapshot, apply


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_datetime(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as error:
            raise InvalidOffer(_("%(field)s: not a date and time", field=field)) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _optional_positive(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise InvalidOffer(_("%(field)s: not a number", field=field)) from error
    if number < 1:
        raise InvalidOffer(_("%(field)s: must be at least 1", field=field))
    return number


def _enum_value(kind: type, value: Any, field: str) -> str:
    try:
        return kind(value).value
    except ValueError as error:
        raise InvalidOffer(_("%(field)s: unknown value", field=field)) from error


def clean_terms(data: dict[str, Any]) -> dict[str, Any]:
    """The known terms of ``data``, validated, in their JSON form (as in ``pending_changes``)."""
    terms: dict[str, Any] = {}
    for field in TEXT_FIELDS:
        if field in data:
            value = data[field]
            value = value.replace("\x00", "").strip() if isinstance(value, str) else value
            if value and len(value) > MAX_LENGTHS[field]:
                raise InvalidOffer(_("%(field)s: too long", field=field))
            terms[field] = value or None
    if terms.get("link_url") and not terms["link_url"].lower().startswith("https://"):
        raise InvalidOffer(_("%(field)s: must start with https://", field="link_url"))
    if "category" in data:
        slug = data["category"] or None
        if slug and db.session.scalar(select(Category.id).where(Category.slug == slug)) is None:
            raise InvalidOffer(_("%(field)s: unknown category", field="category"))
        terms["category"] = slug
    if "countries" in data:
        codes = sorted({str(code).strip().upper() for code in data["countries"] or () if code})
        unknown = [code for code in codes if code not in COUNTRY_CODES]
        if unknown:
            raise InvalidOffer(_("countries: unknown country %(codes)s", codes=", ".join(unknown)))
        terms["countries"] = codes
    if "online" in data:
        terms["online"] = bool(data["online"])
    for field in ("starts_at", "ends_at"):
        if field in data:
            terms[field] = _iso(_parse_datetime(data[field], field))
    if "audience" in data:
        terms["audience"] = _enum_value(Audience, data["audience"], "audience")
    if "redemption_method" in data:
        terms["redemption_method"] = _enum_value(
            RedemptionMethod, data["redemption_method"], "redemption_method"
        )
    if "limit_period" in data:
        terms["limit_period"] = _enum_value(LimitPeriod, data["limit_period"], "limit_period")
    for field in ("total_limit", "reveal_ttl_minutes"):
        if field in data:
            terms[field] = _optional_positive(data[field], field)
    if "per_member_limit" in data:
        terms["per_member_limit"] = (
            _optional_positive(data["per_member_limit"], "per_member_limit") or 1
        )
    return terms


def snapshot(offer: Offer) -> dict[str, Any]:
    """The offer's current terms in their JSON form."""
    terms: dict[str, Any] = {field: getattr(offer, field) for field in TEXT_FIELDS}
    terms.update(
        category=offer.category.slug if offer.category else None,
        countries=sorted(offer.countries),
        online=offer.online,
        starts_at=_iso(offer.starts_at),
        ends_at=_iso(offer.ends_at),
        audience=offer.audience.value,
        redemption_method=offer.redemption_method.value,
        total_limit=offer.total_limit,
        per_member_limit=offer.per_member_limit,
        limit_period=offer.limit_period.value,
        reveal_ttl_minutes=offer.reveal_ttl_minutes,
    )
    return terms


def _check_dates(terms: dict[str, Any]) -> None:
    starts, ends = terms.get("starts_at"), terms.get("ends_at")
    if starts and ends and datetime.fromisoformat(ends) <= datetime.fromisoformat(starts):
        raise InvalidOffer(_("%(field)s: must be after starts_at", field="ends_at"))


def _apply(offer: Offer, terms: dict[str, Any]) -> None:
    """Write JSON-form ``terms`` onto the offer's columns and country rows."""
    for field in TEXT_FIELDS:
        if field in terms:
            setattr(offer, field, terms[field])
    if "category" in terms:
        slug = terms["category"]
        offer.category = (
            db.session.scalar(select(Category).where(Category.slug == slug)) if slug else None
        )
    if "countries" in terms:
        wanted = set(terms["countries"])
        offer.country_rows = [row for row in offer.country_rows if row.country in wanted]
        have = set(offer.countries)
        offer.country_rows += [OfferCountry(country=code) for code in sorted(wanted - have)]
    if "online" in terms:
        offer.online = terms["online"]
    for field in ("starts_at", "ends_at"):
        if field in terms:
            setattr(offer, field, _parse_datetime(terms[field], field))
    if "audience" in terms:
        offer.audience = Audience(terms["audience"])
    if "redemption_method" in terms:
        offer.redemption_method = RedemptionMethod(terms["redemption_method"])
    if "limit_period" in terms:
        offer.limit_period = LimitPeriod(terms["limit_period"])
    for field in ("total_limit", "per_member_limit", "reveal_ttl_minutes"):
        if field in terms:
            setattr(offer, field, terms[field])
    refresh_search_text(offer)


def preview_offer(offer: Offer) -> Offer:
    """The offer as alumni will see it once approved (its proposed changes applied): a copy
    that is never added to the session, so nothing of it can be saved."""
    copy = Offer(
        id=offer.id,
        partner=offer.partner,
        status=OfferStatus.PUBLISHED,
        picture=offer.picture,
        redeemed_count=offer.redeemed_count,
        link_url=offer.link_url,
    )
    with db.session.no_autoflush:
        _apply(copy, {**snapshot(offer), **(offer.pending_changes or {})})
    return copy


def pending_diff(offer: Offer) -> list[tuple[str, Any, Any]]:
    """``(field, live value, proposed value)`` for each pending change of a live offer."""
    live = snapshot(offer)
    return [
        (field, live.get(field), value)
        for field, value in (offer.pending_changes or {}).items()
        if field in TERMS
    ]


def completeness_problems(offer: Offer, terms: dict[str, Any] | None = None) -> list[str]:
    """What is missing before the offer (or its proposed terms) can be reviewed."""
    terms = terms if terms is not None else snapshot(offer)
    problems = []
    if not any(
        terms.get(f"title_{lang}") and terms.get(f"summary_{lang}") for lang in ("fr", "en")
    ):
        problems.append(_("a title and a summary in at least one language"))
    method = terms.get("redemption_method")
    if method == RedemptionMethod.SHARED_CODE and not terms.get("shared_code"):
        problems.append(_("the shared code"))
    if method == RedemptionMethod.LINK and not (terms.get("link_url") or "").startswith("https://"):
        problems.append(_("an https link"))
    if method == RedemptionMethod.UNIQUE_CODES and offer.id is not None:
        has_code = db.session.scalar(
            select(OfferCode.id).where(OfferCode.offer_id == offer.id).limit(1)
        )
        if has_code is None:
            problems.append(_("at least one code in the pool"))
    if method == RedemptionMethod.UNIQUE_CODES and offer.id is None:
        problems.append(_("at least one code in the pool"))
    return problems


def _require_complete(offer: Offer, terms: dict[str, Any] | None = None) -> None:
    problems = completeness_problems(offer, terms)
    if problems:
        raise InvalidOffer(
            _("The offer is incomplete: missing %(what)s.", what="; ".join(problems))
        )


# ---------------------------------------------------------------- history and mail


def _history(
    offer: Offer,
    *,
    actor: User | None,
    to_status: OfferStatus,
    from_status: OfferStatus | None,
    message: str | None = None,
) -> None:
    db.session.add(
        OfferStatusChange(
            offer_id=offer.id,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            actor_id=actor.id if actor else None,
            message=message,
        )
    )


def _move(
    offer: Offer, to_status: OfferStatus, *, actor: User | None, message: str | None = None
) -> None:
    previous = offer.status
    offer.status = to_status
    _history(offer, actor=actor, from_status=previous, to_status=to_status, message=message)
    logger.info(
        "offer %s %s -> %s by %s", offer.id, previous, to_status, actor.id if actor else None
    )


DECISION_SUBJECTS = {
    "approved": N_("Your offer is published"),
    "changes_approved": N_("The changes to your offer are published"),
    "rejected": N_("Your offer was not accepted"),
    "changes_rejected": N_("The changes to your offer were not accepted"),
    "changes_requested": N_("Changes are requested on your offer"),
}


def _mail_team(offer: Offer, decision: str, message: str | None = None) -> None:
    for user in active_members(offer.partner_id):
        queue_mail(
            to=user.email,
            template="offers/offer_decision",
            subject=DECISION_SUBJECTS[decision],
            locale=user.locale,
            user=user,
            offer=offer,
            decision=decision,
            message=message,
        )


def _decide(offer: Offer, *, actor: User, action: str, decision: str, message: str | None) -> None:
    audit.record(
        f"offer.{action}",
        actor=actor,
        object_type="offer",
        object_id=offer.id,
        partner_id=offer.partner_id,
        message=message,
    )
    _mail_team(offer, decision, message)


def _required_message(message: str | None, what: str) -> str:
    text = (message or "").strip()
    if not text:
        raise InvalidOffer(_("A %(what)s is required.", what=what))
    if len(text) > MESSAGE_MAX_LENGTH:
        raise InvalidOffer(_("The %(what)s is too long.", what=what))
    return text


# ---------------------------------------------------------------- partner actions


def create_offer(partner: Partner, *, actor: User, data: dict[str, Any]) -> Offer:
    """A new draft offer of ``partner``."""
    terms = clean_terms(data)
    _check_dates(terms)
    offer = Offer(partner=partner, status=OfferStatus.DRAFT, created_by_id=actor.id)
    db.session.add(offer)
    _apply(offer, terms)
    db.session.flush()
    _history(offer, actor=actor, from_status=None, to_status=OfferStatus.DRAFT)
    logger.info("offer %s created for partner %s by %s", offer.id, partner.id, actor.id)
    return offer


def update_offer(offer: Offer, *, actor: User, data: dict[str, Any]) -> bool:
    """Edit in place (draft, changes requested, rejected) or propose changes to a live offer.

    Returns True when the changes wait for review (live offer), False when applied.
    """
    terms = clean_terms(data)
    if offer.status in EDITABLE:
        _check_dates({**snapshot(offer), **terms})
        _apply(offer, terms)
        db.session.flush()
        return False
    if offer.status not in LIVE:
        raise OfferStateConflict(_("This offer cannot be edited in its current state."))
    live = snapshot(offer)
    proposed = {**live, **(offer.pending_changes or {}), **terms}
    _check_dates(proposed)
    changes = {field: value for field, value in proposed.items() if live.get(field) != value}
    if changes:
        _require_complete(offer, proposed)
    offer.pending_changes = changes or None
    offer.moderator_message = None
    offer.submitted_at = utcnow() if changes else offer.submitted_at
    _history(
        offer,
        actor=actor,
        from_status=offer.status,
        to_status=offer.status,
        message="changes submitted for review" if changes else "changes withdrawn",
    )
    db.session.flush()
    logger.info("offer %s: live changes %s by %s", offer.id, sorted(changes), actor.id)
    return bool(changes)


def submit_offer(offer: Offer, *, actor: User) -> None:
    """Send a draft (or an offer sent back) to the moderators."""
    if offer.status not in EDITABLE:
        raise OfferStateConflict(_("Only a draft or an offer sent back can be submitted."))
    _require_complete(offer)
    offer.submitted_at = utcnow()
    offer.moderator_message = None
    _move(offer, OfferStatus.SUBMITTED, actor=actor)
    db.session.flush()


def pause_offer(offer: Offer, *, actor: User) -> None:
    """Hide a published offer for a while."""
    if offer.status != OfferStatus.PUBLISHED:
        raise OfferStateConflict(_("Only a published offer can be paused."))
    _move(offer, OfferStatus.PAUSED, actor=actor)
    db.session.flush()


def resume_offer(offer: Offer, *, actor: User) -> None:
    """Publish a paused offer again (unless it has ended)."""
    if offer.status != OfferStatus.PAUSED:
        raise OfferStateConflict(_("Only a paused offer can be resumed."))
    if offer.ends_at is not None and offer.ends_at <= utcnow():
        raise OfferStateConflict(_("This offer has ended."))
    _move(offer, OfferStatus.PUBLISHED, actor=actor)
    db.session.flush()


def archive_offer(offer: Offer, *, actor: User) -> None:
    """Withdraw an offer for good (its page and history stay)."""
    if offer.status == OfferStatus.ARCHIVED:
        raise OfferStateConflict(_("This offer is already archived."))
    offer.pending_changes = None
    _move(offer, OfferStatus.ARCHIVED, actor=actor)
    db.session.flush()


# ---------------------------------------------------------------- moderation


def needs_review(offer: Offer) -> bool:
    """Submitted, or live with changes waiting for a moderator."""
    return offer.status == OfferStatus.SUBMITTED or (
        offer.status in LIVE and bool(offer.pending_changes) and offer.moderator_message is None
    )


def _reviewable(offer: Offer) -> None:
    if not needs_review(offer):
        raise OfferStateConflict(_("This offer is not waiting for review."))


def approve_offer(offer: Offer, *, actor: User) -> None:
    """Publish a submitted offer, or apply the pending changes of a live one."""
    _reviewable(offer)
    offer.refusal_reason = None
    offer.moderator_message = None
    if offer.status == OfferStatus.SUBMITTED:
        offer.published_at = utcnow()
        refresh_search_text(offer)
        _move(offer, OfferStatus.PUBLISHED, actor=actor)
        _decide(offer, actor=actor, action="approved", decision="approved", message=None)
    else:
        _apply(offer, offer.pending_changes or {})
        offer.pending_changes = None
        _history(
            offer,
            actor=actor,
            from_status=offer.status,
            to_status=offer.status,
            message="changes approved",
        )
        _decide(
            offer, actor=actor, action="changes_approved", decision="changes_approved", message=None
        )
    db.session.flush()


def reject_offer(offer: Offer, *, actor: User, reason: str | None) -> None:
    """Refuse a submitted offer, or the pending changes of a live one, with a reason."""
    _reviewable(offer)
    reason = _required_message(reason, _("reason"))
    offer.refusal_reason = reason
    if offer.status == OfferStatus.SUBMITTED:
        _move(offer, OfferStatus.REJECTED, actor=actor, message=reason)
        _decide(offer, actor=actor, action="rejected", decision="rejected", message=reason)
    else:
        # The approved version stays live; the proposal is dropped.
        offer.pending_changes = None
        _history(
            offer, actor=actor, from_status=offer.status, to_status=offer.status, message=reason
        )
        _decide(
            offer,
            actor=actor,
            action="changes_rejected",
            decision="changes_rejected",
            message=reason,
        )
    db.session.flush()


def request_offer_changes(offer: Offer, *, actor: User, message: str | None) -> None:
    """Send an offer (or a live offer's proposed changes) back to the partner with a message."""
    _reviewable(offer)
    message = _required_message(message, _("message"))
    offer.moderator_message = message
    if offer.status == OfferStatus.SUBMITTED:
        _move(offer, OfferStatus.CHANGES_REQUESTED, actor=actor, message=message)
    else:
        # The proposal stays with the partner, out of the queue until they edit it again.
        _history(
            offer, actor=actor, from_status=offer.status, to_status=offer.status, message=message
        )
    _decide(
        offer,
        actor=actor,
        action="changes_requested",
        decision="changes_requested",
        message=message,
    )
    db.session.flush()


# ---------------------------------------------------------------- expiry


def expire_due_offers(now: datetime) -> int:
    """Mark published or paused offers whose end has passed as expired; returns how many."""
    offers = db.session.scalars(
        select(Offer)
        .where(Offer.status.in_(tuple(LIVE)), Offer.ends_at.is_not(None), Offer.ends_at <= now)
        .order_by(Offer.id)
    ).all()
    for offer in offers:
        offer.pending_changes = None
        _move(offer, OfferStatus.EXPIRED, actor=None)
    db.session.flush()
    return len(offers)
