"""Domain errors and their mapping to HTTP: a page gets an error template, the API a JSON body."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    SecurityError,
    ServiceUnavailable,
)

from marketplace.extensions import api, db

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule said no; ``status`` is the HTTP answer, ``message`` is for people."""

    status = 400
    code = "domain_error"
    message = _l("This action is not possible.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or str(self.message))
        if message:
            self.message = message


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = _l("Not found.")


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
    message = _l("You are not allowed to do this.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = _l("This conflicts with the current state.")


class InvalidInput(DomainError):
    status = 422
    code = "invalid"
    message = _l("The data sent is not valid.")


class NotVerified(PermissionDenied):
    code = "not_verified"
    message = _l("Your alumni status has not been verified yet.")


ERROR_TEMPLATES = {403, 404, 410, 429, 500, 503}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _render_error(status: int, description: str | None = None):
    template = f"errors/{status if status in ERROR_TEMPLATES else 'generic'}.html"
    return render_template(template, status=status, description=description), status


def register_errorhandlers(app: Flask) -> None:
    """One place turns exceptions into responses for both pages and the API."""

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        if is_api_request():
            body, status, headers = api.handle_http_exception(error)
            # Every API error says what happened, even a bare abort() or a rate limit.
            body.setdefault("message", error.description)
            return body, status, headers
        response = _render_error(error.code or 500, None)
        if error.code == 405:
            return error
        return response

    @app.errorhandler(SecurityError)
    def handle_untrusted_host(error: SecurityError):
        # A Host (or X-Forwarded-Host) outside TRUSTED_HOSTS: no URL can be built for it, so
        # the answer is plain, without the site's layout (whose links need one).
        if is_api_request():
            body = {
                "code": 400,
                "status": HTTPStatus.BAD_REQUEST.phrase,
                "message": "Unknown host.",
            }
            return body, 400
        return "Unknown host.", 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(CSRFError)
    def handle_csrf(error: CSRFError):
        # An expired or missing form token: say so plainly, change nothing.
        return render_template("errors/csrf.html", status=400), 400

    @app.errorhandler(DomainError)
    def handle_domain(error: DomainError):
        db.session.rollback()
        if is_api_request():
            body = {
                "code": error.status,
                "status": HTTPStatus(error.status).phrase,
                "message": str(error.message),
                "errors": {"reason": error.code},
            }
            return body, error.status
        return _render_error(error.status, str(error.message))

    @app.errorhandler(OperationalError)
    def handle_database_down(error: OperationalError):
        # A lost connection or a lock timeout: nothing was committed, the client may retry.
        logger.warning("database unavailable: %s", type(error.orig).__name__)
        db.session.rollback()
        return handle_http(ServiceUnavailable())

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return handle_http(InternalServerError())
