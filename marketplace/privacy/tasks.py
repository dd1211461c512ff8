"""Retention of the privacy package, run by ``flask tasks run-due``.

``account-deletion`` anonymises the accounts whose 7-day grace period is over. Unconfirmed
registrations (30 days) are purged by the core's ``retention`` task (marketplace/tasks.py),
applications and CVs by the jobs package (jobs/retention.py). The services flush; this task
commits, once per account.
"""

from __future__ import annotations

import logging
from datetime import datetime

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.privacy.services import anonymise_user, deletion_blockers, due_for_anonymisation

logger = logging.getLogger(__name__)


def anonymise_accounts(now: datetime) -> str:
    """Anonymise every account past its grace period, one commit each."""
    done = blocked = 0
    for user_id in due_for_anonymisation(now):
        user = db.session.get(User, user_id)
        if user is None or user.deletion_requested_at is None:
            continue
        if deletion_blockers(user):
            # Became staff or a partner's last owner meanwhile: kept until that is settled.
            logger.warning("account %s due for deletion is blocked", user.id)
            blocked += 1
            continue
        files = anonymise_user(user, now=now)
        db.session.commit()
        # Files go only once the rows are gone for good, so a failed commit loses nothing.
        for path in files:
            path.unlink(missing_ok=True)
        logger.info("account %s anonymised", user.id)
        done += 1
    db.session.commit()
    line = f"{done} account(s) anonymised after their grace period"
    return line + (f", {blocked} blocked" if blocked else "")
