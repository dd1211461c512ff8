"""Forms of the admin pages: list filters (GET, no CSRF) and staff actions (POST)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from marketplace.accounts.models import Role
from marketplace.admin import services

GRANT = "grant"
REVOKE = "revoke"


def role_labels() -> dict[str, str]:
    """The staff roles as people read them."""
    return {
        Role.MODERATOR.value: str(_l("Moderator")),
        Role.TREASURER.value: str(_l("Treasurer")),
        Role.ADMIN.value: str(_l("Administrator")),
    }


class UserFilterForm(FlaskForm):
    """Search and filters of the user list."""

    class Meta:
        csrf = False

    q = SearchField(_l("Name or e-mail"), validators=[Optional(), Length(max=254)])
    role = SelectField(_l("Role"), validators=[Optional()], default="")
    state = SelectField(
        _l("State"),
        choices=[
            SelectChoice("", _l("All")),
            SelectChoice(services.ACTIVE, _l("Active")),
            SelectChoice(services.DISABLED, _l("Disabled")),
        ],
        validators=[Optional()],
        default="",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = [
            SelectChoice("", _l("All")),
            SelectChoice(services.ANY_STAFF, _l("Any staff role")),
            *(SelectChoice(value, label) for value, label in role_labels().items()),
            SelectChoice(services.NO_ROLE, _l("No staff role")),
        ]


class AuditFilterForm(FlaskForm):
    """Filters of the audit log."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), validators=[Optional()], default="")
    actor = SearchField(_l("Actor e-mail"), validators=[Optional(), Length(max=254)])

    def __init__(self, *args, actions: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.action.choices = [
            SelectChoice("", _l("All")),
            *(SelectChoice(action) for action in actions or []),
        ]


class RoleForm(FlaskForm):
    """Grant or revoke one staff role."""

    role = HiddenField(validators=[DataRequired(), AnyOf([r.value for r in Role])])
    action = HiddenField(validators=[DataRequired(), AnyOf([GRANT, REVOKE])])


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (disable, enable, reset two-factor)."""
