"""Command-line interface: users, seed, tasks (the contract is DESIGN.md, "Commands").

Commands commit once at the end, like a view; a refused action prints ``Error: ...`` on
stderr and exits with status 1.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click
import pyotp
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from marketplace.accounts.models import Role, User
from marketplace.accounts.services import find_user, issue_api_token
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.seed_scale import seed_scale_command

users_cli = AppGroup("users", help="Create users and API tokens.")
seed_cli = AppGroup("seed", help="Load demo or benchmark data.")
seed_cli.add_command(seed_scale_command)  # `seed scale`, issue 8
tasks_cli = AppGroup("tasks", help="Periodic work run by cron.")


def in_english(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command with English messages (no request, so no visitor's language to pick)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with force_locale("en"):
            return command(*args, **kwargs)

    return wrapper


def _refuse_in_production(what: str) -> None:
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException(f"{what} is refused in production.")


def _user_or_fail(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No account for {email}.")
    return user


# ---------------------------------------------------------------- users


@users_cli.command("create")
@click.argument("email")
@click.option("--password", required=True, help="Checked against the password policy.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice([role.value for role in Role]),
    help="A staff role (repeatable).",
)
@click.option("--alumni", is_flag=True, help="Add an alumni profile.")
@click.option(
    "--verified", is_flag=True, help="Mark the alumni profile verified (implies --alumni)."
)
@click.option("--name", "full_name", help="Full name (default: taken from the e-mail).")
@click.option("--school", help="An active school's name (default: the first active school).")
@click.option("--locale", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@in_english
def create_user_command(
    email: str,
    password: str,
    roles: tuple[str, ...],
    alumni: bool,
    verified: bool,
    full_name: str | None,
    school: str | None,
    locale: str,
) -> None:
    """Create a confirmed account, optionally staff and/or alumnus."""
    from marketplace.seed import create_account, find_school

    try:
        school_row = find_school(school) if (alumni or verified) else None
        user = create_account(
            email=email,
            password=password,
            full_name=full_name,
            locale=locale,
            roles=roles,
            alumni=alumni,
            verified=verified,
            school=school_row,
        )
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error.message)) from None
    db.session.commit()
    click.echo(f"Created user {user.id} {user.email}")


@users_cli.command("token")
@click.argument("email")
@click.option("--days", type=click.IntRange(min=1), help="Validity (default: API_TOKEN_DAYS).")
@in_english
def token_command(email: str, days: int | None) -> None:
    """Print a new API token, and nothing else, for scripts to capture."""
    user = _user_or_fail(email)
    token, _row = issue_api_token(user, days=days)
    db.session.commit()
    click.echo(token)


@users_cli.command("otp")
@click.argument("email")
@in_english
def otp_command(email: str) -> None:
    """Print a user's current two-factor code (development aid for the demo staff)."""
    _refuse_in_production("Printing two-factor codes")
    user = _user_or_fail(email)
    if not user.totp_secret:
        raise click.ClickException(f"{email} has no two-factor secret.")
    click.echo(pyotp.TOTP(user.totp_secret).now())


# ---------------------------------------------------------------- seed


@seed_cli.command("demo")
@in_english
def seed_demo_command() -> None:
    """Load the demo data (idempotent: existing rows are kept as they are)."""
    from marketplace.seed import DEMO_LOGINS, DEMO_PASSWORD, DEMO_STAFF, seed_demo

    # Known passwords and two-factor secrets must never reach a public site.
    _refuse_in_production("Loading demo accounts")
    report = seed_demo()
    db.session.commit()
    for name, created in report:
        click.echo(f"{name}: {created} created")
    click.echo(f"Every demo account's password: {DEMO_PASSWORD}")
    for email, _name, role, _secret in DEMO_STAFF:
        click.echo(f"  {role}: {email} (two-factor code: flask --app wsgi users otp {email})")
    for email, description in DEMO_LOGINS:
        click.echo(f"  {description}: {email}")


# ---------------------------------------------------------------- tasks


@tasks_cli.command("run-due")
@in_english
def run_due_command() -> None:
    """Run the periodic work that is due (cron calls this; safe to repeat)."""
    from marketplace.tasks import run_due

    run_due()
