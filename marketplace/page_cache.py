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
  the same choice ``marketplace.i18n.select_locale`` makes for a visitor). A page is kept
  with the versions of ``PAGE_TABLES`` it was rendered under, and served only while they are
  still the current ones: a committed write to one of those tables moves its version, so the
  next request renders the page afresh. A page lives ``PAGE_CACHE_SECONDS`` at most (60 s:
  offers and jobs start and end with the clock, not with a write).
- A hit costs one Redis round trip (issue 17): one pipeline reads the versions (a plain
  ``MGET``, no unpickling) and, unless this process still holds the page, the page itself;
  writes that may wait a second ride along (``register_rider``: the offer views). Each
  process keeps the pages it served last, ready to send (``PAGE_CACHE_LOCAL_BYTES``), so the
  page's 30-60 KB cross the network and are unpickled only when this process lacks them.
  Without Redis those kept pages are the only store.
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
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request, session
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
DEFAULT_LOCAL_BYTES = 32 * 1024 * 1024
LANGUAGE_COOKIE = "locale"
# Distinct Accept-Language values remembered with their language (browsers send a handful).
_LANGUAGES_REMEMBERED = 512

_ENVIRON_KEY = "marketplace.page_cache"
# One version for all of PAGE_TABLES (``marketplace.cache.version_group``): one key to read.
_VERSION_KEY = cache_module.group_version_key("pages")
_HIT_ACTIONS: dict[str, Callable[[Flask, Any], None]] = {}
# ``rider(app)``: the Redis commands it has waiting, and what keeps them if the round trip
# fails (None when nothing waits).
Rider = Callable[[Flask], tuple[list[tuple[Any, ...]], Callable[[], None]] | None]
_RIDERS: dict[str, Rider] = {}


def register_hit_action(name: str, action: Callable[[Flask, Any], None]) -> None:
    """Run ``action(app, argument)`` when a stored page that asked for ``name`` is served."""
    _HIT_ACTIONS[name] = action


def register_rider(name: str, rider: Rider) -> None:
    """Let ``rider`` send Redis writes that may wait with the next page lookup, in one
    pipeline: they cost no round trip of their own (the offer views, ``offers.view_counts``)."""
    _RIDERS[name] = rider


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


@dataclass(frozen=True, slots=True)
class Page:
    """A stored answer, ready to send: the versions it was rendered under, when it expires
    (wall clock: shared by every process through Redis), and what is replayed on a hit."""

    versions: bytes
    expires: float
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    actions: tuple[tuple[str, Any], ...]

    def size(self) -> int:
        return len(self.body) + sum(len(n) + len(v) for n, v in self.headers) + 256

    def dump(self) -> bytes:
        """Redis's copy: the versions first, so a stale copy is told apart before unpickling."""
        fields = (self.expires, self.status, self.headers, self.body, self.actions)
        return self.versions + b"\n" + pickle.dumps(fields, pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, raw: bytes | None, versions: bytes) -> Page | None:
        """The page in ``raw`` when it was rendered under ``versions`` and has not expired."""
        head = versions + b"\n"
        if raw is None or not raw.startswith(head):
            return None
        fields = pickle.loads(memoryview(raw)[len(head) :])  # noqa: S301 - our own cache
        page = cls(versions, *fields)
        return page if page.expires > time.time() else None


class LocalPages:
    """The pages this process served last, keyed by request (language, host, path, query),
    at most ``max_bytes`` of them, the least recently served leaving first. A page is sent
    from here only when its versions are the current ones (read on every request)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, Page] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.expires <= time.time():
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return page

    def set(self, key: str, page: Page) -> None:
        size = page.size()
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._pages:
                self._drop(key)
            self._pages[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def _drop(self, key: str) -> None:
        self._bytes -= self._pages.pop(key).size()

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0


class PageCache:
    """The WSGI middleware (installed by ``init_app``)."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.local = LocalPages(int(app.config["PAGE_CACHE_LOCAL_BYTES"]))
        self._languages: dict[str, str] = {}

    def _language(self, environ: dict[str, Any], cookies: dict[str, str]) -> str:
        """``visitor_language``, remembered per ``Accept-Language`` value."""
        if cookies.get(LANGUAGE_COOKIE) in self.app.config["LANGUAGES"]:
            return cookies[LANGUAGE_COOKIE]
        accept = environ.get("HTTP_ACCEPT_LANGUAGE", "")
        language = self._languages.get(accept)
        if language is None:
            language = visitor_language(self.app, environ, {})
            if len(self._languages) >= _LANGUAGES_REMEMBERED:
                self._languages.clear()
            self._languages[accept] = language
        return language

    def _key(self, environ: dict[str, Any]) -> str | None:
        """The request's page key, or None when it is no visitor's GET."""
        config = self.app.config
        if not config["PAGE_CACHE_ENABLED"] or environ.get("REQUEST_METHOD") != "GET":
            return None
        if environ.get("HTTP_AUTHORIZATION"):
            return None
        path = environ.get("PATH_INFO", "")
        if path.startswith(("/static/", "/api/")):
            return None
        cookies: dict[str, str] = {}
        raw = environ.get("HTTP_COOKIE")
        if raw:
            session_name = config["SESSION_COOKIE_NAME"]
            remember_name = config.get("REMEMBER_COOKIE_NAME", "remember_token")
            # Parsed only when one of the names we look for is in the header at all.
            if session_name in raw or remember_name in raw or LANGUAGE_COOKIE in raw:
                cookies = parse_cookie(raw)
                if session_name in cookies or remember_name in cookies:
                    return None
        language = self._language(environ, cookies)
        host = environ.get("HTTP_HOST", "")
        query = environ.get("QUERY_STRING", "")
        return f"{language}:{host}:{path}?{query}"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        key = self._key(environ)
        if key is None or not cache_module.available():
            return self.wsgi_app(environ, start_response)
        redis = cache_module.redis_of(self.app)
        try:
            if redis is None:
                versions, page = self._lookup_here(key)
            else:
                versions, page = self._lookup_in_redis(key, *redis)
        except Exception as error:  # Redis down: no cache, the page is rendered
            cache_module._failed("reading a page", error)
            return self.wsgi_app(environ, start_response)
        if page is not None:
            return self._serve(page, start_response)
        return self._render_and_store(environ, start_response, key, versions, redis)

    def _lookup_here(self, key: str) -> tuple[bytes, Page | None]:
        """Without Redis: the version from the in-process cache, the page from this process."""
        backend = self.app.extensions["cache"][cache_module.cache]  # no app context here
        versions = str(int(backend.get(_VERSION_KEY) or 0)).encode()
        page = self.local.get(key)
        return versions, page if page is not None and page.versions == versions else None

    def _lookup_in_redis(self, key: str, client: Any, prefix: str) -> tuple[bytes, Page | None]:
        """The current version and the page, in one round trip while nothing was written."""
        kept = self.local.get(key)
        page_key = f"{prefix}page:{key}"
        lookup = (
            ("GET", prefix + _VERSION_KEY) if kept else ("MGET", prefix + _VERSION_KEY, page_key)
        )
        rides = [ride for ride in (rider(self.app) for rider in _RIDERS.values()) if ride]
        if rides:
            pipe = client.pipeline(transaction=False)
            for command in (lookup, *(command for commands, _ in rides for command in commands)):
                pipe.execute_command(*command)
            try:
                found = pipe.execute()[0]
            except Exception:
                for _, put_back in rides:
                    put_back()
                raise
        else:
            found = client.execute_command(*lookup)
        if kept is not None:
            versions = found or b"0"
            if kept.versions == versions:
                return versions, kept
            # A write since: another process may have rendered the page already.
            raw = client.get(page_key)
        else:
            versions, raw = found[0] or b"0", found[1]
        page = Page.load(raw, versions)
        if page is not None:
            self.local.set(key, page)
        return versions, page

    def _serve(self, page: Page, start_response: Callable[..., Any]) -> list[bytes]:
        for name, argument in page.actions:
            try:
                _HIT_ACTIONS[name](self.app, argument)
            except Exception:  # a counter must never cost the page
                logger.exception("page cache: %s failed", name)
        start_response(page.status, list(page.headers))
        return [page.body]

    def _render_and_store(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        key: str,
        versions: bytes,
        redis: tuple[Any, str] | None,
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
        page = Page(
            versions,
            time.time() + state["seconds"],
            captured["status"],
            list(captured["headers"]),
            body,
            tuple(state.get("actions", ())),
        )
        self.local.set(key, page)
        if redis is not None:
            client, prefix = redis
            try:
                client.set(f"{prefix}page:{key}", page.dump(), ex=state["seconds"])
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
    app.config.setdefault("PAGE_CACHE_LOCAL_BYTES", DEFAULT_LOCAL_BYTES)
    cache_module.version_group("pages", PAGE_TABLES)
    app.after_request(mark_cacheable)
    middleware = PageCache(app, app.wsgi_app)
    app.extensions["page_cache"] = middleware
    app.wsgi_app = middleware  # type: ignore[method-assign]


def clear(app: Flask) -> None:
    """Forget this process's pages (tests; Redis's go in 60 s or when rendered again)."""
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
