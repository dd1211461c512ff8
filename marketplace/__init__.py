"""The alumni partner marketplace: the application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, g
from werkzeug.middleware.proxy_fix import ProxyFix

# Every core model on the metadata; importing the models also installs the engine-wide SQLite
# settings of marketplace/database.py (WAL, foreign keys, BEGIN IMMEDIATE).
from marketplace import model_registry  # noqa: F401
from marketplace.cache import cache as app_cache  # not "cache": that is the submodule
from marketplace.config import build_config
from marketplace.extensions import api as smorest_api  # the subpackage marketplace.api owns "api"
from marketplace.extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``overrides`` replace configuration values (tests pass theirs here)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(build_config(app.instance_path, overrides))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)
    register_converters(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_hooks(app)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1, x_host=1
        )
    return app


def configure_logging(app: Flask) -> None:
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    # The Stripe library logs whole API bodies (client secrets, card details) at DEBUG:
    # keep them out of the logs even when the root logger is turned down to DEBUG.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    # fontTools logs every glyph of each font subset (a PDF document) at INFO.
    logging.getLogger("fontTools").setLevel(logging.WARNING)


def register_converters(app: Flask) -> None:
    from marketplace.api import register_request_guards
    from marketplace.routing import BoundedIntegerConverter

    # Before any route is added: an id too large for the database is a 404, not a 500.
    app.url_map.converters["int"] = BoundedIntegerConverter
    register_request_guards(app)


def register_extensions(app: Flask) -> None:
    from marketplace import money
    from marketplace.i18n import register_helpers, select_locale, select_timezone
    from marketplace.security import register_security

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    register_helpers(app)
    money.init_app(app)  # after the i18n helpers: its `money` filter is the one
    limiter.init_app(app)
    app_cache.init_app(app)
    smorest_api.init_app(app)
    register_security(app)


def register_blueprints(app: Flask) -> None:
    """Each package plugs in its pages, API, commands and registry entries, in this order.

    The core comes first; the domains (partners, then offers and jobs, which build on
    partners) are imported only here. What each adds is in its own ``init_app``.
    """
    import jobs
    import offers
    import partners
    from marketplace import (
        accounts,
        admin,
        catalog,
        membership,
        moderation,
        notifications,
        payments,
        privacy,
        treasury,
        views,
    )
    from marketplace.api import docs_views as api_docs_views

    app.register_blueprint(views.bp)
    app.register_blueprint(api_docs_views.bp)
    accounts.init_app(app)
    catalog.init_app(app)
    membership.init_app(app)
    payments.init_app(app)
    moderation.init_app(app)
    admin.init_app(app)
    notifications.init_app(app)
    treasury.init_app(app)
    privacy.init_app(app)
    partners.init_app(app)
    offers.init_app(app)
    jobs.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from marketplace.errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    """The core's commands; packages add theirs from their ``init_app``."""
    from marketplace.cli import seed_cli, tasks_cli, users_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(tasks_cli)


def register_hooks(app: Flask) -> None:
    from marketplace import page_cache, reader_pages
    from marketplace.notifications.services import deliver_after_request
    from marketplace.payments.documents import issue_due_documents
    from marketplace.routing import absolute_url

    # Mail templates build their links with it: on SITE_URL, never on the request's Host.
    app.jinja_env.globals["absolute_url"] = absolute_url

    @app.after_request
    def send_queued_mail(response):
        # Mail queued by a request goes out once its transaction has committed.
        if g.get("outbox_ids") and response.status_code < 400:
            deliver_after_request()
        return response

    @app.after_request
    def issue_documents(response):
        # Documents noted as due by the request's committed transaction, each issued in a
        # transaction of its own. Registered after the mail hook, so it runs before it (Flask
        # calls them in reverse) and the documents' e-mails leave with the request's.
        issue_due_documents()
        return response

    # Visitors' public pages from the cache, before the app's request work (the middleware
    # sits inside ProxyFix, which is installed after it, so it sees the forwarded host).
    page_cache.init_app(app)
    # Signed-in pages rendered once per kind of reader (views opt in with its decorator).
    reader_pages.init_app(app)

    @app.context_processor
    def inject_globals() -> dict[str, Any]:
        from flask_babel import get_locale

        return {
            "current_locale": str(get_locale() or "fr"),
            "association_name": app.config["ASSOCIATION_NAME"],
        }
