"""Reasons a moderator may give when refusing an alumni registration."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

REFUSAL_REASONS = {
    "not_in_network": _l("The school is not part of the network."),
    "evidence_insufficient": _l("The information given does not prove that you graduated."),
    "identity_mismatch": _l("The name does not match the school's records."),
    "duplicate": _l("An account already exists for this person."),
    "other": _l("Another reason, explained in the message."),
}


def refusal_label(code: str | None) -> str:
    return str(REFUSAL_REASONS.get(code or "", REFUSAL_REASONS["other"]))
