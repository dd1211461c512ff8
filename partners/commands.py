"""``flask partners …``: create a partner for an existing account (DESIGN.md, "Commands").

Added to the app by ``partners.init_app``.
"""

from __future__ import annotations

import logging

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.accounts.services import find_user
from marketplace.database import utcnow
from marketplace.extensions import db
from partners.models import Partner, PartnerMember, PartnerStatus, TeamRole
from partners.services import unique_slug

logger = logging.getLogger(__name__)

partners_cli = AppGroup("partners", help="Create partner companies.")


def create_partner(
    *,
    name: str,
    owner: User,
    country: str = "FR",
    approved: bool = False,
    actor: User | None = None,
    website: str | None = None,
    description: str | None = None,
) -> Partner:
    """A partner whose contact and first owner is ``owner``, pending or already approved."""
    name = name.strip()
    if not name:
        raise click.BadParameter("The name is empty.", param_hint="NAME")
    now = utcnow()
    partner = Partner(
        name=name,
        slug=unique_slug(name),
        country=country.upper(),
        website=website,
        description=description,
        contact_name=owner.full_name or owner.email,
        contact_email=owner.email,
        status=PartnerStatus.APPROVED if approved else PartnerStatus.PENDING,
        applied_at=now,
        decided_at=now if approved else None,
        decided_by_id=actor.id if approved and actor is not None else None,
    )
    db.session.add(partner)
    db.session.flush()
    db.session.add(PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER))
    db.session.flush()
    if approved:
        audit.record(
            "partner.approved",
            actor=actor,
            object_type="partner",
            object_id=partner.id,
            via="command",
        )
    logger.info("partner %s created for owner %s (%s)", partner.id, owner.id, partner.status)
    return partner


@partners_cli.command("create")
@click.argument("name")
@click.option("--owner", "owner_email", required=True, help="E-mail of an existing account.")
@click.option("--country", default="FR", show_default=True, help="ISO country code.")
@click.option("--approved", is_flag=True, help="Approve the partner right away.")
def create_partner_command(name: str, owner_email: str, country: str, approved: bool) -> None:
    """Create a partner company whose owner is an existing account; print its id."""
    with force_locale("en"):
        owner = find_user(owner_email)
        if owner is None:
            raise click.ClickException(f"No account for {owner_email}.")
        if len(country) != 2 or not country.isalpha():
            raise click.BadParameter("Give a two-letter country code.", param_hint="--country")
        partner = create_partner(name=name, owner=owner, country=country, approved=approved)
        db.session.commit()
        click.echo(partner.id)
