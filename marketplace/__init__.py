"""The alumni partner marketplace: the application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, g
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace import (
    database,  # noqa: F401 - registers the SQLite connection settings
    model_registry,  # noqa: F401 - every core model on the metadata
)
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
    # The domain packages (jobs, offers, partners) are imported only here, to plug them in.
    from jobs import api as jobs_api
    from jobs import application_api
    from jobs import moderation_api as job_moderation_api
    from jobs import partner_api as partner_jobs_api
    from jobs import views as jobs_views
    from marketplace import views
    from marketplace.accounts import api as accounts_api
    from marketplace.accounts import views as accounts_views
    from marketplace.admin import views as admin_views
    from marketplace.api import docs_views as api_docs_views
    from marketplace.catalog import api as catalog_api
    from marketplace.membership import api as membership_api
    from marketplace.membership import me_api as my_membership_api
    from marketplace.membership import views as membership_views
    from marketplace.moderation import api as moderation_api
    from marketplace.moderation import views as moderation_views
    from marketplace.notifications import views as notification_views
    from marketplace.payments import api as payments_api
    from marketplace.payments import document_api, document_views
    from marketplace.payments import views as payment_views
    from marketplace.privacy import views as privacy_views
    from marketplace.treasury import api as treasury_api
    from marketplace.treasury import views as treasury_views
    from offers import api as offers_api
    from offers import moderation_api as offer_moderation_api
    from offers import partner_api as partner_offers_api
    from offers import redemption_api
    from offers import views as offers_views
    from partners import api as partners_api
    from partners import billing_api as partner_billing_api
    from partners import plan_views as partner_plan_views
    from partners import views as partners_views

    for blueprint in (
        views.bp,
        accounts_views.bp,
        moderation_views.bp,
        admin_views.bp,
        partners_views.bp,
        offers_views.bp,
        jobs_views.bp,
        notification_views.bp,
        membership_views.bp,
        payment_views.bp,
        document_views.bp,
        treasury_views.bp,
        privacy_views.bp,
        partner_plan_views.bp,
        api_docs_views.bp,
    ):
        app.register_blueprint(blueprint)
    api_blueprints = (
        accounts_api.bp,
        catalog_api.bp,
        membership_api.bp,
        my_membership_api.bp,
        payments_api.bp,
        document_api.bp,
        moderation_api.bp,
        partners_api.bp,
        partner_billing_api.bp,
        offers_api.bp,
        partner_offers_api.bp,
        offer_moderation_api.bp,
        redemption_api.bp,
        jobs_api.bp,
        partner_jobs_api.bp,
        job_moderation_api.bp,
        application_api.bp,
        treasury_api.bp,
    )
    for blueprint in api_blueprints:
        smorest_api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
        # Bearer-token calls carry no cookie to forge; the API refuses session auth on writes.
        csrf.exempt(blueprint)
        # One budget for the whole API per caller: per account signed in, per IP otherwise.
        limiter.shared_limit("300/minute", scope="api")(blueprint)
    # The partner dashboard's figures and to-dos come from the domains (partners imports
    # neither offers nor jobs).
    from jobs import dashboard as jobs_dashboard
    from offers import dashboard as offers_dashboard
    from partners import dashboard as partner_dashboard

    partner_dashboard.register_source("offers", offers_dashboard.SOURCE)
    partner_dashboard.register_source("jobs", jobs_dashboard.SOURCE)
    # Saved-search alerts: importing these registers each domain's source with the digests.
    import jobs.alerts  # noqa: F401
    import marketplace.privacy.domains  # noqa: F401 - jobs, offers, partners personal data
    import marketplace.privacy.tasks  # noqa: F401 - anonymisation after the deletion grace
    import offers.alerts  # noqa: F401
    from marketplace import payments

    payments.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from marketplace.errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from marketplace.cli import seed_cli, tasks_cli, users_cli
    from partners.commands import partners_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(tasks_cli)
    app.cli.add_command(partners_cli)
    from marketplace.notifications.queue import notifications_cli

    app.cli.add_command(notifications_cli)
    from marketplace.payments.commands import payments_cli

    app.cli.add_command(payments_cli)


def register_hooks(app: Flask) -> None:
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

    @app.context_processor
    def inject_globals() -> dict[str, Any]:
        from flask_babel import get_locale

        return {
            "csp_nonce": g.get("csp_nonce", ""),
            "current_locale": str(get_locale() or "fr"),
            "association_name": app.config["ASSOCIATION_NAME"],
        }
