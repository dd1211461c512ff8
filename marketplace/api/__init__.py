"""Shared pieces of the JSON API: authentication of callers and common schemas."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, TypeVar

import flask_smorest
from flask import Flask, abort, g, request
from flask_login import current_user
from marshmallow import fields, validate

from marketplace.extensions import api as smorest_api
from marketplace.extensions import csrf, limiter
from marketplace.routing import MAX_PAGE

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# Dates a filter may name: at year 1 or 9999 turning a day into a zoned timestamp overflowed.
REASONABLE_DATE = validate.Range(min=date(1900, 1, 1), max=date(9998, 12, 31))


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint whose ``paginate`` bounds the page number (422 above).

    The bound is a validator of the ``page`` field, so the OpenAPI document states it too.
    """

    def paginate(self, pager=None, **kwargs: Any) -> Callable[[F], F]:
        smorest_decorator = super().paginate(pager, **kwargs)

        def decorator(func: F) -> F:
            wrapper = smorest_decorator(func)
            page_schema = wrapper._apidoc["pagination"]["parameters"]["schema"]
            default_page = page_schema._declared_fields["page"].load_default
            page_schema._declared_fields["page"] = fields.Integer(
                load_default=default_page, validate=validate.Range(min=1, max=MAX_PAGE)
            )
            return wrapper

        return decorator


def api_caller():
    """The authenticated caller: a bearer token, or a browser session on GET only.

    A browser session is not accepted on writes: the API is exempt from CSRF, so a
    cookie alone must never change state.
    """
    if not current_user.is_authenticated:
        return None
    if g.get("auth_by_token"):
        return current_user
    if request.method in SAFE_METHODS:
        return current_user
    return None


def auth_required(*, roles: tuple[str, ...] = (), verified: bool = False) -> Callable[[F], F]:
    """401 without a valid caller; 403 without one of ``roles`` or without verification."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            user = api_caller()
            if user is None:
                abort(401)
            if roles and not user.has_role(*roles, "admin"):
                abort(403)
            if roles and not g.get("auth_by_token"):
                from flask import session

                if not session.get("mfa"):
                    abort(401)
            if verified and not user.is_verified_alumnus:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


# A NUL escape, or a ``\uD800``-``\uDFFF`` escape (only a pair of them makes a character).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def _storable(value: Any) -> bool:
    """Whether every string in a decoded JSON value can be stored: no NUL, valid Unicode."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def refuse_unstorable_text() -> None:
    """400 for a NUL character or a lone surrogate in the path, query, form or JSON body.

    Neither is text a person types; PostgreSQL refuses NUL in text and the drivers refuse
    lone surrogates (``"\\ud800"`` in JSON), so such input reached the database as a 500.
    Uploaded files are not looked at (a PDF holds NUL bytes).
    """
    fields = [request.path, *request.args.keys(), *request.args.values()]
    if request.mimetype in FORM_TYPES:
        fields += [*request.form.keys(), *request.form.values()]
    if any(value and "\x00" in value for value in fields):
        abort(400, description="Text must not contain NUL characters.")
    if not request.is_json:
        return
    body = request.get_data(cache=True)
    if not _SUSPECT_ESCAPE.search(body):
        return
    try:
        decoded = json.loads(body)
    except ValueError:
        return  # malformed JSON: the API's parser answers it
    if not _storable(decoded):
        abort(400, description="Text must be valid Unicode without NUL characters.")


# Far deeper than any body of the API (three or four levels); Python's decoder recurses once
# per level and a body a few thousand levels deep raised RecursionError (a 500).
MAX_JSON_DEPTH = 32
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings are text)."""
    depth = deepest = 0
    for token in _JSON_TOKEN.finditer(body):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def refuse_deep_json() -> None:
    """400 for a JSON body nested deeper than ``MAX_JSON_DEPTH``, before anything decodes it."""
    if not request.is_json:
        return
    body = request.get_data(cache=True)
    # Cheap first: a body with few brackets cannot nest deeply.
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    if json_depth(body) > MAX_JSON_DEPTH:
        abort(400, description=f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")


def register_api_blueprints(*blueprints: flask_smorest.Blueprint) -> None:
    """Plug JSON blueprints into the API under ``/api/v1`` (packages call it from init_app)."""
    for blueprint in blueprints:
        smorest_api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
        # Bearer-token calls carry no cookie to forge; the API refuses session auth on writes.
        csrf.exempt(blueprint)
        # One budget for the whole API per caller: per account signed in, per IP otherwise.
        limiter.shared_limit("300/minute", scope="api")(blueprint)


def register_request_guards(app: Flask) -> None:
    """Checks of every request that no single view should have to repeat."""
    app.before_request(refuse_deep_json)
    app.before_request(refuse_unstorable_text)
