"""URLs: ``<int:...>`` bounded to what the database can hold; absolute links on ``SITE_URL``.

Werkzeug's integer converter accepts any number of digits; an id past the 64-bit range
reached SQLite as an ``OverflowError`` (a 500) instead of "no such row". Bounding the
converter turns such a URL into a plain 404 on every route, and the OpenAPI document
states the bound (flask-smorest reads ``max`` from the converter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from flask import current_app, request
from werkzeug.routing import IntegerConverter, Map

# Primary keys are ``INTEGER``: 32-bit on PostgreSQL, and well inside SQLite's 64 bits.
MAX_ID = 2**31 - 1
# Far past any real list; a larger page number overflowed the SQL OFFSET (a 500).
MAX_PAGE = 100_000


F = TypeVar("F", bound=Callable[..., Any])


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` from 0 to ``MAX_ID`` unless the route gives its own ``max``."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def page_arg(name: str = "page") -> int:
    """The page number a listing page was asked for, from 1 to ``MAX_PAGE`` (1 when unreadable).

    The API refuses a page past the bound (422); a page for people shows the last page instead.
    """
    number = request.args.get(name, 1, type=int) or 1
    return min(max(number, 1), MAX_PAGE)


def absolute_url(endpoint: str, **values: Any) -> str:
    """An absolute link to ``endpoint``, on the site's public address (``SITE_URL``).

    ``url_for(..., _external=True)`` takes the host from the request: its ``Host`` header, or
    ``X-Forwarded-Host`` behind ProxyFix. A password reset asked with ``Host: evil.example``
    then mailed the victim a link to that host, token included. Every link that leaves the
    site (mails, API fields, QR codes) is built here instead, the same in a request, in
    cron and in a command. ``_anchor`` adds a fragment.
    """
    app = current_app
    site = urlsplit(app.config["SITE_URL"])
    anchor = values.pop("_anchor", None)
    app.inject_url_defaults(endpoint, values)
    adapter = app.url_map.bind(site.netloc, script_name=site.path or "/", url_scheme=site.scheme)
    url = adapter.build(endpoint, values, force_external=True)
    if anchor is not None:
        url += "#" + quote(str(anchor), safe="%!#$&'()*+,/:;=?@")
    return url


class RouteTable:
    """Routes a module declares for a blueprint defined in another module.

    The module decorates its views with ``@routes.get(...)`` / ``@routes.post(...)`` and the
    package's ``init_app`` adds them (``routes.add_to(bp)``) before registering the blueprint:
    endpoint names stay ``<blueprint>.<view>``, and the route module never imports the module
    of the blueprint back (no circle, no import at the bottom).
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, dict[str, Any], Callable[..., Any]]] = []
        self._added_to: list[Any] = []

    def route(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Declare ``rule`` for the decorated view (options as ``Blueprint.route``)."""

        def decorator(view: F) -> F:
            self._routes.append((rule, options, view))
            return view

        return decorator

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self.route(rule, methods=["GET"], **options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self.route(rule, methods=["POST"], **options)

    def add_to(self, blueprint: Any) -> None:
        """Add the routes to ``blueprint``, once (every app built afterwards shares them)."""
        if any(added is blueprint for added in self._added_to):
            return
        for rule, options, view in self._routes:
            blueprint.route(rule, **options)(view)
        self._added_to.append(blueprint)
