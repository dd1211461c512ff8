"""Text helpers shared by the domains."""

from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    """Lower-case ``text`` without accents (NFKD, combining marks dropped), for search."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def normalise_email(email: str) -> str:
    """The one form of an e-mail address used for uniqueness, sign-in and rate limits.

    NFKC first, so full-width and other compatibility forms (``ａｌｉｃｅ＠example.org``)
    become the plain characters they look like; then outer spaces go and the address is
    lower-cased: the domain is case-blind by the DNS, and the local part has always been
    treated case-blind here (one account per address whatever its capitals).
    """
    folded = unicodedata.normalize("NFKC", email).strip().lower()
    return unicodedata.normalize("NFKC", folded)
