"""Retention of applications and CVs (DESIGN "Privacy"), run by ``flask tasks run-due``.

Applications are deleted 3 months after a refusal (2 years with the candidate's consent) or a
withdrawal; the CVs of closed or expired jobs are removed 6 months after the job ended, the
application row staying for the partner's records with ``cv_deleted_at`` set.
"""

from __future__ import annotations

from datetime import datetime

from jobs.application_services import purge_closed_job_cvs, purge_refused_applications


def purge_applications(now: datetime) -> str:
    """Delete refused and withdrawn applications past their retention period."""
    count = purge_refused_applications(now)
    return f"{count} refused or withdrawn application(s) past retention deleted"


def purge_job_cvs(now: datetime) -> str:
    """Remove the CVs of jobs that ended more than 6 months ago."""
    count = purge_closed_job_cvs(now)
    return f"{count} CV(s) of jobs ended over 6 months ago removed"
