"""Job postings, applications, CV storage and the applicant pipeline."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the jobs package adds to the application, in one place."""
    from jobs import (
        alerts,
        api,
        application_api,
        dashboard,
        demo,
        moderation_api,
        partner_api,
        privacy,
        retention,
        seed_scale,
        tasks,
        views,
    )
    from marketplace.api import register_api_blueprints
    from marketplace.notifications.alerts import register_alert_source
    from marketplace.privacy.registry import register_personal_data
    from marketplace.seed import add_demo_step
    from marketplace.seed_scale import add_scale_step
    from marketplace.tasks import add_due_task
    from partners import dashboard as partner_dashboard

    app.register_blueprint(views.bp)
    register_api_blueprints(api.bp, partner_api.bp, moderation_api.bp, application_api.bp)

    add_due_task("application-retention", retention.purge_applications)
    add_due_task("cv-retention", retention.purge_job_cvs)
    add_due_task("job-expiry-reminders", tasks.send_expiry_reminders)
    add_due_task("job-expiry", tasks.expire_due_jobs)
    register_alert_source(
        "jobs",
        find=alerts.find_jobs,
        label=alerts.LABEL,
        subject=alerts.SUBJECT,
        criteria=alerts.CRITERIA,
        listing_endpoint="jobs.index",
    )
    register_personal_data(
        "applications",
        export=privacy.export_applications,
        files=privacy.application_files,
        anonymise=privacy.anonymise_applications,
    )
    partner_dashboard.register_source("jobs", dashboard.SOURCE)
    add_demo_step("jobs", demo.seed_jobs, after="partners")
    add_demo_step("applications", demo.seed_applications, after="jobs")
    add_scale_step("jobs", seed_scale.seed_jobs)
    add_scale_step("applications", seed_scale.seed_applications)
