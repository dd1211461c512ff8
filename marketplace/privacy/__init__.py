"""Privacy (GDPR / RGPD): legal pages, consents, data export, account deletion and retention.

``models`` holds the legal pages admins edit and the append-only history of consents;
``services`` the state changes (page edits, consents, deletion requests, anonymisation);
``export`` builds the "download my data" zip from the sources registered in ``registry``
(the core's in ``sources``, each domain's in its ``privacy`` module); ``tasks`` holds the due
task that anonymises accounts whose 7-day grace period is over.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the privacy package adds to the application."""
    from marketplace.privacy import sources, tasks, views
    from marketplace.privacy.registry import register_personal_data
    from marketplace.tasks import add_due_task

    app.register_blueprint(views.bp)
    register_personal_data(
        "account",
        export=sources.export_account,
        files=sources.profile_files,
        anonymise=sources.anonymise_profile,
    )
    register_personal_data("alumni_profile", export=sources.export_profile)
    register_personal_data("memberships", export=sources.export_memberships)
    register_personal_data(
        "payments", export=sources.export_payments, anonymise=sources.anonymise_payments
    )
    register_personal_data("payment_profile", export=sources.export_payment_profile)
    register_personal_data(
        "saved_searches",
        export=sources.export_saved_searches,
        anonymise=sources.anonymise_saved_searches,
    )
    register_personal_data(
        "consents", export=sources.export_consents, anonymise=sources.anonymise_consents
    )
    register_personal_data("audit_log", export=sources.export_audit)
    add_due_task("account-deletion", tasks.anonymise_accounts)
