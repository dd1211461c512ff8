"""``flask payments ...``: ``reconcile [--since DATE]`` compares the ledger with Stripe and
fixes it; ``payouts`` fetches recent payouts; ``check-stripe`` says whether the Stripe account
is ready for this site before going live."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from marketplace.cli import in_english
from marketplace.payments import reconcile
from marketplace.tasks import site_request_context

payments_cli = AppGroup("payments", help="Payments and Stripe.")


@payments_cli.command("reconcile")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Also check every payment created since this date (YYYY-MM-DD).",
)
@in_english
def reconcile_command(since: datetime | None) -> None:
    """Sync open payments (and those since DATE) with Stripe; print what differed."""
    start = since.replace(tzinfo=UTC) if since is not None else None
    with site_request_context():
        lines = reconcile.reconcile(since=start)
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} difference(s)")


@payments_cli.command("payouts")
@in_english
def payouts_command() -> None:
    """Fetch the payouts of the last 30 days from Stripe and match them with the ledger."""
    from marketplace.treasury.payouts import sync_recent_payouts  # the treasury reads payments

    click.echo(sync_recent_payouts(datetime.now(UTC)))


@payments_cli.command("check-stripe")
@in_english
def check_stripe_command() -> None:
    """Before going live: the pinned API version, the account's currency, the webhook endpoint.

    Exits 1 when Stripe cannot be reached, when no enabled endpoint points at this site's
    webhook URL, when it lacks an event the site handles, or speaks another API version.
    """
    from flask import current_app

    from marketplace.payments import gateway, webhooks

    client = gateway.get_gateway()
    url = current_app.config["SITE_URL"].rstrip("/") + "/payments/stripe/webhook"
    problems: list[str] = []
    click.echo(f"API version pinned: {gateway.API_VERSION}")
    try:
        account = client.retrieve_account()
        endpoints = client.list_webhook_endpoints()
    except gateway.GatewayError as error:
        click.echo(f"Stripe could not be asked: {error.detail}")
        raise SystemExit(1) from error
    click.echo(f"Account {account.id}: default currency {account.default_currency.upper()}")
    if account.default_currency.upper() != "EUR":
        problems.append(
            f"the account settles in {account.default_currency.upper()}, the books are in EUR"
        )
    mine = [e for e in endpoints if e.url.rstrip("/") == url and e.status == "enabled"]
    if not mine:
        problems.append(f"no enabled webhook endpoint for {url}")
    else:
        endpoint = mine[0]
        click.echo(f"Webhook endpoint {endpoint.id}: {endpoint.url}")
        wanted = webhooks.handled_event_types()
        sent = set(endpoint.enabled_events)
        missing = [] if "*" in sent else [name for name in wanted if name not in sent]
        if missing:
            problems.append("the endpoint does not send: " + ", ".join(missing))
        if endpoint.api_version and endpoint.api_version != gateway.API_VERSION:
            problems.append(
                f"the endpoint speaks {endpoint.api_version}, the site {gateway.API_VERSION}"
            )
    for problem in problems:
        click.echo(f"MISSING: {problem}")
    if problems:
        raise SystemExit(1)
    click.echo("Ready: Stripe is set up for this site.")
