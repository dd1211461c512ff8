"""``active_members``: the one query for a partner's active team."""

from __future__ import annotations

from marketplace.database import utcnow
from marketplace.extensions import db
from partners.access import active_members
from partners.models import PartnerMember, TeamRole


def test_active_members_are_the_enabled_representatives_oldest_first(
    app, create_partner, add_member
):
    team = create_partner()
    manager, _ = add_member(team)
    disabled, disabled_id = add_member(team)
    add_member(create_partner())
    with app.app_context():
        db.session.get(PartnerMember, disabled_id).disabled_at = utcnow()
        db.session.commit()
        assert [user.id for user in active_members(team.partner_id)] == [team.owner.id, manager.id]
        owners = active_members(team.partner_id, role=TeamRole.OWNER)
        assert [user.id for user in owners] == [team.owner.id]
