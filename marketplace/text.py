"""Text helpers shared by the domains."""

from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    """Lower-case ``text`` without accents (NFKD, combining marks dropped), for search."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
