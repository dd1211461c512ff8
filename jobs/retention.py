"""Retention of applications and CVs (DESIGN "Privacy"), run by ``flask tasks run-due``.

Applications are deleted 3 months after a refusal (2 years with the candidate's consent) or a
withdrawal; the CVs of closed or expired jobs are removed 6 months after the job ended, the
application row staying for the partner's records with ``cv_deleted_at`` set. The services
flush; these tasks commit, then remove the files.
"""

from __future__ import annotations

from datetime import datetime

from jobs.application_services import (
    delete_cv_file,
    purge_closed_job_cvs,
    purge_refused_applications,
)
from marketplace.extensions import db


def purge_applications(now: datetime) -> str:
    """Delete refused and withdrawn applications past their retention period; commit."""
    count, files = purge_refused_applications(now)
    db.session.commit()
    # Files go only once the rows are gone for good, so a failed commit loses nothing.
    for filename in files:
        delete_cv_file(filename)
    return f"{count} refused or withdrawn application(s) past retention deleted"


def purge_job_cvs(now: datetime) -> str:
    """Remove the CVs of jobs that ended more than 6 months ago; commit."""
    files = purge_closed_job_cvs(now)
    db.session.commit()
    for filename in files:
        delete_cv_file(filename)
    return f"{len(files)} CV(s) of jobs ended over 6 months ago removed"
