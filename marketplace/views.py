"""Site-wide pages: home, language switch, health check."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from marketplace.extensions import csrf, db
from marketplace.page_cache import LANGUAGE_COOKIE
from marketplace.security import safe_next

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    return render_template("main/index.html")


# A year: the choice outlives the browser session.
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


@bp.post("/language")
@csrf.exempt
def set_language():
    """Remember the chosen language: in a cookie, and on the account if signed in.

    Choosing a language is no state change a forged request could abuse, so a visitor needs
    no CSRF token (nor a session): the switch works from a page served whole from the cache
    (``marketplace.page_cache``), and a visitor's next pages stay cacheable. Changing a
    signed-in person's account still needs the token.
    """
    if current_user.is_authenticated and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    locale = request.form.get("locale", "")
    response = redirect(safe_next(request.form.get("next")) or url_for("main.index"))
    if locale in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANGUAGE_COOKIE,
            locale,
            max_age=LANGUAGE_COOKIE_SECONDS,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
        if session:  # a session already there keeps its language in step (after sign-out)
            session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return response


@bp.get("/healthz")
def health():
    """Alive when the database answers; "degraded" while a configured Redis does not.

    Still 200 when degraded: the site serves without Redis (limits per process, no cache,
    mail waiting in the outbox), so a load balancer should keep sending traffic.
    """
    db.session.execute(text("SELECT 1"))
    body = {"status": "ok", "database": "ok"}
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        body["redis"] = "ok" if _redis_answers(redis_url) else "unreachable"
        if body["redis"] != "ok":
            body["status"] = "degraded"
    return body


def _redis_answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()
