"""Language: the user's choice, else the visitor's, else the browser's, else French."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user


def N_(msgid: str) -> str:  # noqa: N802 - gettext's conventional name
    """Mark a string for extraction, translated later (e-mail subjects, in the reader's locale)."""
    return msgid


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return (
        request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def localized(row: object, field: str) -> str:
    """``row.<field>_en`` or ``_fr`` in the reader's language, falling back to the other one."""
    locale = get_locale()
    first, second = ("en", "fr") if locale and locale.language == "en" else ("fr", "en")
    return getattr(row, f"{field}_{first}") or getattr(row, f"{field}_{second}") or ""
