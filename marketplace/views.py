"""Site-wide pages: home, language switch, health check."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from marketplace.extensions import db
from marketplace.security import safe_next

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    return render_template("main/index.html")


@bp.post("/language")
def set_language():
    """Remember the chosen language: on the account if signed in, else in the session."""
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("main.index"))


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
