"""Whole pages for visitors: public pages served from the shared cache before the app runs.

A visitor's GET of a public page (home, offer and job listings and searches, offer and job
pages, legal pages) is the same for every visitor of one language, so it is rendered once and
kept in the application cache (Redis when ``REDIS_URL``, in-process otherwise; see
``marketplace/cache.py``). The lookup is a WSGI middleware around the Flask app: it runs
before sessions, CSRF, Babel, the user loader and the database are touched.

- *Visitor* means a request without the session and remember-me cookies and without an
  ``Authorization`` header: with neither, Flask-Login has nobody to load and the session is
  empty (no flashed message, no CSRF token, no form state). Anyone else goes through the app.
- The key is the host, the path, the query string and the language (the ``locale`` cookie
  set by the language switch, else the best match of ``Accept-Language``, else the default:
  the same choice ``marketplace.i18n.select_locale`` makes for a visitor), under the current
  versions of ``PAGE_TABLES``: a committed write to one of them moves its version, so the
  next request renders the page afresh. A page lives ``PAGE_CACHE_SECONDS`` at most (60 s:
  offers and jobs start and end with the clock, not with a write).
- The app decides what may be stored (``mark_cacheable`` in an ``after_request``): a 200 of
  a listed endpoint, for a visitor, that wrote nothing to the session (a form with a CSRF
  token, a flashed message) and sets no cookie. Such an answer says ``Cache-Control:
  public, max-age=60`` and ``Vary: Cookie, Accept-Language``, so a reverse proxy may keep it
  too; every other page says ``private`` (``no-store`` when signed in).
- Work a page does on each view (the offer page's view counter) is declared with
  ``register_hit_action`` and replayed by the middleware when it serves the stored page.
- Redis down: no cache (``marketplace.cache.available``), every page is rendered.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, request, session
from flask_caching.backends.rediscache import RedisCache
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header, parse_cookie

from marketplace import cache as cache_module

logger = logging.getLogger(__name__)

# Endpoints whose visitor answer is the same for every visitor of a language.
CACHEABLE_ENDPOINTS = {
    "main.index",
    "offers.index",
    "offers.detail",
    "jobs.index",
    "jobs.detail",
    "privacy.policy",
    "privacy.legal_notice",
    "privacy.partners",
}
# What those pages are computed from: a committed write to one of these tables renders them
# afresh (writes to columns declared with ``marketplace.cache.ignore_writes_to`` excepted).
PAGE_TABLES = (
    "offers",
    "offer_countries",
    "partners",
    "categories",
    "partner_plan_periods",
    "featured_placements",
    "jobs",
    "job_languages",
    "membership_tiers",
    "legal_pages",
    "association_details",
    "schools",
)
DEFAULT_SECONDS = 60
LANGUAGE_COOKIE = "locale"

_ENVIRON_KEY = "marketplace.page_cache"
_HIT_ACTIONS: dict[str, Callable[[Flask, Any], None]] = {}


def register_hit_action(name: str, action: Callable[[Flask, Any], None]) -> None:
    """Run ``action(app, argument)`` when a stored page that asked for ``name`` is served."""
    _HIT_ACTIONS[name] = action


def when_served(name: str, argument: Any) -> None:
    """Run the hit action ``name`` (``register_hit_action``) each time the page being
    rendered is served from the cache (the caller does the work itself for this rendering)."""
    state = request.environ.get(_ENVIRON_KEY)
    if state is not None:
        state.setdefault("actions", []).append((name, argument))


def visitor_language(app: Flask, environ: dict[str, Any], cookies: dict[str, str]) -> str:
    """The language a visitor's page is rendered in (as ``select_locale`` chooses it)."""
    languages = app.config["LANGUAGES"]
    chosen = cookies.get(LANGUAGE_COOKIE)
    if chosen in languages:
        return chosen
    accept = environ.get("HTTP_ACCEPT_LANGUAGE")
    if accept:
        best = parse_accept_header(accept, LanguageAccept).best_match(languages)
        if best:
            return best
    return app.config["BABEL_DEFAULT_LOCALE"]


class LocalPages:
    """Pages of this process when there is no Redis: at most ``size`` of them, the least
    recently served leaving first. Kept apart from the in-process application cache, whose
    pruning would otherwise evict the table versions (they never expire) before any page."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pages: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return found[1]

    def set(self, key: str, value: bytes, timeout: int) -> None:
        with self._lock:
            self._pages[key] = (time.monotonic() + timeout, value)
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


class PageCache:
    """The WSGI middleware (installed by ``init_app``)."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.local = LocalPages(int(app.config.get("PAGE_CACHE_LOCAL_PAGES", 2000)))

    def _backend(self) -> Any:
        return self.app.extensions["cache"][cache_module.cache]

    def _pages(self, backend: Any) -> Any:
        """Where pages are kept: Redis when the cache is Redis, else this process."""
        return backend if isinstance(backend, RedisCache) else self.local

    def _key(self, environ: dict[str, Any]) -> str | None:
        """The request's page key, or None when it is no visitor's GET."""
        config = self.app.config
        if not config.get("PAGE_CACHE_ENABLED", True) or environ.get("REQUEST_METHOD") != "GET":
            return None
        if environ.get("HTTP_AUTHORIZATION"):
            return None
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        if config["SESSION_COOKIE_NAME"] in cookies:
            return None
        if config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies:
            return None
        path = environ.get("PATH_INFO", "")
        if path.startswith(("/static/", "/api/")):
            return None
        language = visitor_language(self.app, environ, cookies)
        host = environ.get("HTTP_HOST", "")
        query = environ.get("QUERY_STRING", "")
        return f"{language}:{host}:{path}?{query}"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        key = self._key(environ)
        if key is None or not cache_module.available():
            return self.wsgi_app(environ, start_response)
        backend = self._backend()
        try:
            versions = backend.get_many(*[cache_module._version_key(t) for t in PAGE_TABLES])
            full_key = "page:" + ".".join(str(int(v or 0)) for v in versions) + ":" + key
            entry = self._pages(backend).get(full_key)
        except Exception as error:  # Redis down: no cache, the page is rendered
            cache_module._failed("reading a page", error)
            return self.wsgi_app(environ, start_response)
        if entry is not None:
            return self._serve(entry, start_response)
        return self._render_and_store(environ, start_response, backend, full_key)

    def _serve(self, entry: bytes, start_response: Callable[..., Any]) -> list[bytes]:
        status, headers, body, actions = pickle.loads(entry)  # noqa: S301 - our own cache
        for name, argument in actions:
            try:
                _HIT_ACTIONS[name](self.app, argument)
            except Exception:  # a counter must never cost the page
                logger.exception("page cache: %s failed", name)
        start_response(status, headers)
        return [body]

    def _render_and_store(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        backend: Any,
        full_key: str,
    ) -> Any:
        state: dict[str, Any] = {}
        environ[_ENVIRON_KEY] = state
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            sets_cookie = any(name.lower() == "set-cookie" for name, _ in headers)
            if exc_info is None and state.get("store") and sets_cookie:
                # A cookie is this reader's: neither we nor a proxy may keep the answer.
                state["store"] = False
                headers[:] = [(n, v) for n, v in headers if n.lower() != "cache-control"]
                headers.append(("Cache-Control", "private"))
            if exc_info is not None:
                return start_response(status, headers, exc_info)
            return start_response(status, headers)

        result = self.wsgi_app(environ, capture)
        if not state.get("store"):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        entry = pickle.dumps(
            (captured["status"], captured["headers"], body, state.get("actions", []))
        )
        try:
            self._pages(backend).set(full_key, entry, timeout=state["seconds"])
        except Exception as error:
            cache_module._failed("storing a page", error)
        return [body]


def _is_visitor_request() -> bool:
    config = current_app.config
    return (
        config["SESSION_COOKIE_NAME"] not in request.cookies
        and config.get("REMEMBER_COOKIE_NAME", "remember_token") not in request.cookies
        and "Authorization" not in request.headers
    )


def mark_cacheable(response: Any) -> Any:
    """``after_request``: say whether this answer may be kept, by us and by a proxy."""
    from flask_login import current_user

    if "Cache-Control" in response.headers:  # static files, pictures, logos: their own rule
        return response
    if response.status_code == 503:  # the database is gone: loading the user would wait
        response.headers["Cache-Control"] = "no-store"
        return response
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
        return response
    state = request.environ.get(_ENVIRON_KEY)
    cacheable = (
        request.method == "GET"
        and response.status_code == 200
        and request.endpoint in CACHEABLE_ENDPOINTS
        and _is_visitor_request()
        and not session.modified
        and not session  # nothing for this reader: no flash, no CSRF token, no form state
        and current_app.config.get("PAGE_CACHE_ENABLED", True)
    )
    if not cacheable:
        response.headers["Cache-Control"] = "private"
        return response
    seconds = min(int(current_app.config.get("PAGE_CACHE_SECONDS", DEFAULT_SECONDS)), 60)
    response.cache_control.public = True
    response.cache_control.max_age = seconds
    response.vary.update(("Cookie", "Accept-Language"))
    if state is not None:
        state["store"] = True
        state["seconds"] = seconds
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("PAGE_CACHE_ENABLED", True)
    app.config.setdefault("PAGE_CACHE_SECONDS", DEFAULT_SECONDS)
    app.after_request(mark_cacheable)
    middleware = PageCache(app, app.wsgi_app)
    app.extensions["page_cache"] = middleware
    app.wsgi_app = middleware  # type: ignore[method-assign]


def clear(app: Flask) -> None:
    """Forget this process's pages (tests; Redis pages go with the versions or in 60 s)."""
    app.extensions["page_cache"].local.clear()


@contextmanager
def collecting_hit_actions() -> Iterator[list[tuple[str, Any]]]:
    """The hit actions (``when_served``) of the page rendered inside the block, for a cache
    of signed-in pages (``marketplace/reader_pages.py``) to replay."""
    environ = request.environ
    saved = environ.get(_ENVIRON_KEY)
    state: dict[str, Any] = {}
    environ[_ENVIRON_KEY] = state
    actions: list[tuple[str, Any]] = []
    try:
        yield actions
    finally:
        actions.extend(state.get("actions", []))
        if saved is None:
            environ.pop(_ENVIRON_KEY, None)
        else:
            environ[_ENVIRON_KEY] = saved


def replay_hit_actions(actions: Iterable[tuple[str, Any]]) -> None:
    """Run the hit actions of a stored page served by the app itself (a signed-in page)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for name, argument in actions:
        try:
            _HIT_ACTIONS[name](app, argument)
        except Exception:  # a counter must never cost the page
            logger.exception("page cache: %s failed", name)
