"""``flask payments reconcile [--since DATE]``: compare the ledger with Stripe and fix it."""

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
