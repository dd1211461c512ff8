"""Partner companies, their teams, invitations, the partner portal and partner plans."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the partners package adds to the application, in one place.

    ``partners`` knows neither offers nor jobs: they register their part of the partner
    dashboard (``dashboard.register_source``) from their own ``init_app``.
    """
    from marketplace.accounts.loader import register_reader_column
    from marketplace.api import register_api_blueprints
    from marketplace.payments.document_registry import (
        register_designation,
        register_partner_billing,
        register_service_period,
    )
    from marketplace.payments.models import PaymentKind
    from marketplace.payments.services import register_fulfilment, register_reversal
    from marketplace.privacy.registry import register_deletion_check, register_personal_data
    from marketplace.seed import add_demo_login, add_demo_step
    from marketplace.seed_scale import add_scale_step
    from marketplace.tasks import add_due_task
    from marketplace.treasury.demo import register_demo_partner_payment
    from partners import (
        access,
        api,
        billing,
        billing_api,
        commands,
        demo,
        moderation_views,
        plan_views,
        privacy,
        seed_scale,
        tasks,
        team_views,
        views,
    )

    # One blueprint (endpoints ``partners.*``): the application, dashboard and profile (views),
    # the team and invitations (team_views), the staff's queue (moderation_views).
    team_views.routes.add_to(views.bp)
    moderation_views.routes.add_to(views.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(plan_views.bp)
    register_api_blueprints(api.bp, billing_api.bp)
    app.cli.add_command(commands.partners_cli)

    # A paid partner plan opens a partnership period; a full refund or a lost dispute ends it.
    register_fulfilment(PaymentKind.PARTNER_PLAN, billing.fulfil_partner_plan_payment)
    register_reversal(PaymentKind.PARTNER_PLAN, billing.reverse_partner_plan_payment)
    register_service_period(PaymentKind.PARTNER_PLAN, billing.partnership_paid_for)
    register_designation(PaymentKind.PARTNER_PLAN, billing.partnership_designation)
    # Who buys a partner payment (its invoice's buyer) and who receives its credit notes.
    register_partner_billing(buyer=billing.billing_buyer, team=billing.billing_team)

    add_due_task("partner-applications", tasks.delete_orphan_applications)
    # Who is a partner is loaded with the signed-in user, in the same query.
    register_reader_column(
        "partner_member_id", access.active_membership_id, tables=("partner_members", "partners")
    )
    register_personal_data(
        "partner_memberships",
        export=privacy.export_partner_memberships,
        anonymise=privacy.anonymise_partner_memberships,
    )
    register_deletion_check(privacy.last_owner_check)
    # Demo partner payments name their partner and plan (offers adds a placement's offer).
    register_demo_partner_payment(demo.describe_partner_payment)
    for name, run in demo.DEMO_PARTNER_STEPS:
        add_demo_step(name, run)
    for email, description in demo.DEMO_PARTNER_LOGINS:
        add_demo_login(email, description)
    add_scale_step("partners", seed_scale.seed_partners)
    add_scale_step("partner plan periods", seed_scale.write_plan_periods)
