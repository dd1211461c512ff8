"""The staff form that grants a membership period (until payments exist)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, NumberRange, Optional

from marketplace.extensions import db
from marketplace.membership.models import MembershipTier
from marketplace.membership.services import MAX_GRANT_MONTHS


class GrantMembershipForm(FlaskForm):
    """Months from today, and an optional tier."""

    months = IntegerField(
        _l("Length in months"),
        default=12,
        validators=[DataRequired(), NumberRange(min=1, max=MAX_GRANT_MONTHS)],
    )
    tier = SelectField(_l("Tier"), validators=[Optional()], default="")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        tiers = db.session.scalars(
            select(MembershipTier)
            .where(MembershipTier.active.is_(True))
            .order_by(MembershipTier.position, MembershipTier.amount)
        ).all()
        self.tier.choices = [
            SelectChoice("", _l("No tier")),
            *(SelectChoice(tier.code, tier.name) for tier in tiers),
        ]

    def selected_tier(self) -> MembershipTier | None:
        if not self.tier.data:
            return None
        return db.session.scalar(
            select(MembershipTier).where(MembershipTier.code == self.tier.data)
        )
