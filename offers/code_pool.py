"""The code pool of a unique-codes offer: codes read from an upload, and codes added.

Every function flushes and never commits.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.extensions import db
from offers.models import Offer, OfferCode, OfferStatus, RedemptionMethod
from offers.services import EDITABLE, LIVE, InvalidOffer, OfferStateConflict

logger = logging.getLogger(__name__)

MAX_CODE_LENGTH = 120
CODE_POOL_OPEN = {*EDITABLE, OfferStatus.SUBMITTED, *LIVE}
# Keeps one IN (...) list well under SQLite's bound-parameter limit.
CHUNK = 500
CODE_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def parse_code_file(text: str) -> list[str]:
    """Codes from an upload: one per line, or the first CSV column; a ``code`` header is skipped.

    Read line by line (a code never spans lines), so a file with bare ``\r`` line ends or a
    line past the csv module's field limit is read, not a ``csv.Error`` (a 500); such a line
    is kept whole and ``add_codes`` refuses it if it is too long.
    """
    lines = CODE_LINE_BREAK.split(text.lstrip("\ufeff"))
    if lines and lines[-1] == "":
        lines.pop()
    codes = []
    for index, line in enumerate(lines):
        try:
            row = next(csv.reader([line]), [])
        except csv.Error:
            row = [line]
        value = row[0].strip() if row else ""
        if index == 0 and value.lower() == "code":
            continue
        codes.append(value)
    return codes


def add_codes(offer: Offer, *, actor: User, codes: Iterable[str]) -> tuple[int, int]:
    """Add codes to a unique-codes pool; returns ``(added, duplicates)``, blanks skipped."""
    if offer.redemption_method != RedemptionMethod.UNIQUE_CODES:
        raise OfferStateConflict(_("Only an offer with unique codes has a code pool."))
    if offer.status not in CODE_POOL_OPEN:
        raise OfferStateConflict(_("Codes cannot be added to this offer any more."))
    wanted: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    for raw in codes:
        code = str(raw).replace("\x00", "").strip()
        if not code:
            continue
        if len(code) > MAX_CODE_LENGTH:
            raise InvalidOffer(_("A code is longer than %(max)s characters.", max=MAX_CODE_LENGTH))
        if code in seen:
            duplicates += 1
            continue
        seen.add(code)
        wanted.append(code)
    existing: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        existing.update(
            db.session.scalars(
                select(OfferCode.code).where(
                    OfferCode.offer_id == offer.id, OfferCode.code.in_(chunk)
                )
            )
        )
    new = [code for code in wanted if code not in existing]
    duplicates += len(wanted) - len(new)
    db.session.add_all(OfferCode(offer_id=offer.id, code=code) for code in new)
    if new:
        # A refilled pool may run low again: the partner is told again then.
        offer.low_stock_notified_at = None
        offer.sold_out_notified_at = None
    db.session.flush()
    logger.info(
        "offer %s: %s code(s) added, %s duplicate(s), by %s",
        offer.id,
        len(new),
        duplicates,
        actor.id,
    )
    return len(new), duplicates
