"""Retention of the privacy package, run by ``flask tasks run-due``.

``account-deletion`` anonymises the accounts whose 7-day grace period is over. Unconfirmed
registrations (30 days) are purged by the core's ``retention`` task (marketplace/tasks.py),
applications and CVs by the jobs package (jobs/retention.py).
"""

from __future__ import annotations

from datetime import datetime

from marketplace.privacy.services import anonymise_due_accounts


def anonymise_accounts(now: datetime) -> str:
    """Anonymise every account past its deletion grace period."""
    return anonymise_due_accounts(now)
