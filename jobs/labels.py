"""What the job pages call things: contracts, remote modes, languages and countries by name."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from flask_babel import get_locale

from jobs.forms import CONTRACT_LABELS, REMOTE_LABELS
from marketplace.i18n import country_name


def language_name(code: str) -> str:
    """The name of the language ``code`` in the reader's language (the code if unknown)."""
    try:
        name = Locale.parse(code).get_display_name(str(get_locale() or "fr"))
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return name or code


def page_labels() -> dict:
    """The helpers every public job page uses."""
    return {
        "contract_labels": CONTRACT_LABELS,
        "remote_labels": REMOTE_LABELS,
        "language_name": language_name,
        "country_name": country_name,
    }
