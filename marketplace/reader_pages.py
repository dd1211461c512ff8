"""Whole pages for signed-in readers: rendered once per kind of reader, the personal bits
spliced in at each request (issue 17).

A signed-in reader's offer listing or offer page differs from another's only by what the
reader is (verified or pending, member, country: the view's ``signature``), by the staff and
partner links of the navigation, and by two strings: the first name in the navigation and
the CSRF token of the forms. So the page is rendered once per signature, language and time
zone, with a *slot* (a string derived from the secret key, which nobody can type) in place of
each of those two strings, kept in the application cache under the versions of the tables it
shows (60 s at most, as a visitor's), and served to the next reader of the same kind with
their own name and token put in the slots, without running the view.

What keeps it right:

- The view says which offers the page shows (``shows_offers``); a reader who redeemed one
  of them (their code, their limit: ``personal``) gets a rendering of their own, kept under
  their id and the versions of their redemptions (``own_versions``), as is a rendering the
  view says is personal (``personal_rendering``).
- Only GETs; never with a flashed message waiting, nor while the account's deletion is
  scheduled (its banner is the reader's own).
- The answer itself stays ``Cache-Control: no-store`` (a signed-in page), and the reader was
  checked as on every page (session version, disabled account, session age) before the view.
- Work a page does on each view (the offer page's view counter) is replayed from the stored
  page (``page_cache.when_served``), as for visitors.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from functools import lru_cache, wraps
from typing import Any, NamedTuple

from flask import Flask, current_app, g, request, session
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from marketplace import cache as cache_module
from marketplace import page_cache
from marketplace.accounts.loader import kind_facts
from marketplace.extensions import limiter

SECONDS = 60


class Entry(NamedTuple):
    """A stored page: its HTML with slots, the offers it shows, the work of each view, and
    whether it shows something of its reader's own (then it is kept for them alone)."""

    html: str
    offer_ids: tuple[int, ...]
    actions: tuple[tuple[str, Any], ...]
    personal: bool = False


def _slot(name: str) -> str:
    return _slot_of(current_app.secret_key, name)


@lru_cache(maxsize=16)
def _slot_of(secret_key: str, name: str) -> str:
    """A slot's string: derived from the secret key, so nobody can type it (computed once)."""
    digest = hmac.new(secret_key.encode(), f"reader-page-slot:{name}".encode(), hashlib.sha256)
    return f"slot-{digest.hexdigest()[:24]}"


def reader_first_name() -> str:
    """The navigation's first name (the ``reader_first_name`` template global): a slot while
    a page is rendered for every reader of its kind."""
    if g.get("_reader_page") is not None:
        return _slot("name")
    return current_user.first_name if current_user.is_authenticated else ""


def shows_offers(offer_ids: Iterable[int]) -> None:
    """The page being rendered shows these offers (a reader who redeemed one gets their own)."""
    state = g.get("_reader_page")
    if state is not None:
        state["offer_ids"].update(offer_ids)


def personal_rendering() -> None:
    """The page being rendered shows something of its reader's own: keep it for them alone."""
    state = g.get("_reader_page")
    if state is not None:
        state["personal"] = True


def _eligible() -> bool:
    return (
        request.method == "GET"
        and current_user.is_authenticated
        and current_app.config.get("PAGE_CACHE_ENABLED", True)
        and cache_module.available()
        and "_flashes" not in session
        and current_user.deletion_due_at is None
    )


def _key(signature: tuple[Any, ...]) -> tuple[Any, ...]:
    return (
        request.endpoint,
        request.path,
        request.query_string.decode("latin-1"),
        str(get_locale()),
        str(get_timezone()),
        *signature,
        *sorted(current_user.roles),
        *kind_facts(current_user),
    )


def _splice(html: str) -> str:
    """The stored page with this reader's name and CSRF token in their slots."""
    return html.replace(_slot("csrf"), generate_csrf()).replace(
        _slot("name"), str(escape(current_user.first_name))
    )


def reader_page(
    tables: Iterable[str],
    *,
    signature: Callable[[], tuple[Any, ...]],
    personal: Callable[[tuple[int, ...]], bool] = lambda offer_ids: False,
    own_versions: Callable[[], tuple[str, ...]] = tuple,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve the decorated view's page to signed-in readers from the cache, per ``signature``
    (what the page depends on about its reader, besides roles and loaded facts, which every
    key holds); ``personal(offer_ids)``: whether this reader has something of their own on a
    page showing those offers (by default, nobody has); such a reader's own rendering is
    kept for them alone, under ``own_versions()`` besides ``tables`` (their redemptions)."""
    names = tuple(tables)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _eligible():
                return view(*args, **kwargs)
            key = _key(signature())

            def own_lookup() -> tuple[cache_module.Slot | None, Entry | None]:
                """The reader's own rendering: their id in the key, their versions too."""
                own = (*names, *own_versions())
                return cache_module.lookup("own-page", own, (*key, current_user.id))

            slot, entry = cache_module.lookup("reader-page", names, key)
            own_slot = None
            if entry is None or personal(entry.offer_ids):
                # Theirs (a reader who redeemed an offer of the page), if they have one: the
                # shared rendering may be missing because they were the first of their kind.
                own_slot, entry = own_lookup()
            if entry is not None:
                page_cache.replay_hit_actions(entry.actions)
                return _splice(entry.html)
            result, entry = _render(view, args, kwargs)
            if entry is not None:
                if entry.personal or personal(entry.offer_ids):
                    slot = own_slot or own_lookup()[0]
                seconds = int(current_app.config.get("PAGE_CACHE_SECONDS", SECONDS))
                cache_module.store(slot, entry, timeout=min(seconds, SECONDS))
            return _splice(result) if isinstance(result, str) else result

        wrapper.reader_page = True  # type: ignore[attr-defined]
        return wrapper

    return decorator


def _is_reader_page() -> bool:
    """Whether the request is for a page of this module's (its views carry no rate limit:
    reads, mostly served from the cache; Flask-Limiter skips them instead of resolving none)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "reader_page", False))


def _render(
    view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Entry | None]:
    """The view's answer rendered with slots, and the entry to keep (None: a personal page,
    or no page: a redirect, an error)."""
    state: dict[str, Any] = {"offer_ids": set(), "personal": False}
    g._reader_page = state
    # Every CSRF token of the page (forms' fields and ``csrf_token()`` alike) comes from
    # ``generate_csrf``, which reuses the one it finds in ``g``: the slot, while rendering.
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    g.pop(field, None)
    setattr(g, field, _slot("csrf"))
    try:
        with page_cache.collecting_hit_actions() as actions:
            result = view(*args, **kwargs)
    finally:
        g.pop(field, None)
        g._reader_page = None
    if not isinstance(result, str):
        return result, None
    offer_ids = tuple(sorted(state["offer_ids"]))
    return result, Entry(result, offer_ids, tuple(actions), state["personal"])


# Once per process (the limiter is one object for every app of the process).
limiter.request_filter(_is_reader_page)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["reader_first_name"] = reader_first_name
