"""Partner offers, code pools, redemption, vouchers and offer analytics."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the offers package adds to the application, in one place.

    A paid featured placement: ``payments.services.fulfil`` calls the fulfilment registered
    here, ``featured.fulfil_featured_payment``, in the transaction that marks the payment
    succeeded; a full refund or a lost dispute calls ``featured.reverse_featured_payment``;
    its invoice names the placement with ``featured.placement_designation`` and dates it with
    ``featured.placement_paid_for``. The partners' billing pages sell it
    (``partners.billing.buy_featured``) through the ``FeaturedOffers`` registered below.
    """
    from marketplace.accounts.loader import register_cached_fact
    from marketplace.api import register_api_blueprints
    from marketplace.cache import ignore_writes_to
    from marketplace.notifications.alerts import register_alert_source
    from marketplace.page_cache import register_hit_action, register_rider
    from marketplace.payments.document_registry import register_designation, register_service_period
    from marketplace.payments.models import PaymentKind
    from marketplace.payments.services import register_fulfilment, register_reversal
    from marketplace.privacy.registry import register_personal_data
    from marketplace.seed import add_demo_step
    from marketplace.seed_scale import add_scale_step
    from marketplace.tasks import add_due_task
    from marketplace.treasury.demo import register_demo_partner_payment
    from offers import (
        alerts,
        api,
        dashboard,
        demo,
        featured,
        moderation_api,
        partner_api,
        partner_hooks,
        privacy,
        reader_state,
        redemption_api,
        seed_scale,
        tasks,
        view_counts,
        views,
    )
    from partners import billing as partner_billing
    from partners import dashboard as partner_dashboard
    from partners import tasks as partner_tasks

    app.register_blueprint(views.bp)
    register_api_blueprints(api.bp, partner_api.bp, moderation_api.bp, redemption_api.bp)

    register_fulfilment(PaymentKind.FEATURED, featured.fulfil_featured_payment)
    register_reversal(PaymentKind.FEATURED, featured.reverse_featured_payment)
    register_service_period(PaymentKind.FEATURED, featured.placement_paid_for)
    register_designation(PaymentKind.FEATURED, featured.placement_designation)
    # The partners' billing pages sell placements of the offers found through these.
    partner_billing.register_featured_offers(
        partner_billing.FeaturedOffers(
            featurable_or_404=partner_hooks.featurable_offer_or_404,
            published=partner_hooks.published_offers_of,
            placements=partner_hooks.placements_of,
            of_payments=partner_hooks.offers_of_payments,
            is_featured=featured.is_featured,
        )
    )
    # The offer cards' "Featured" badge.
    app.jinja_env.globals["offer_is_featured"] = featured.is_featured

    add_due_task("offer-expiry", tasks.run_offer_expiry)
    # Offer views are counted in Redis (or a buffer) and written to the statistics by a task;
    # a page served whole from the cache still counts its view, and the views go to Redis
    # with the page lookups' round trips.
    add_due_task("offer-views", view_counts.flush)
    register_hit_action("offer-view", view_counts.served_from_cache)
    # The member's redeemed offers travel with their cached row (no query on their pages).
    register_cached_fact(
        reader_state.REDEEMED_FACT,
        reader_state.load_redeemed_offer_ids,
        versions=lambda user_id: (reader_state.redeemed_by(user_id),),
    )
    register_rider("offer-views", view_counts.ride)
    register_alert_source(
        "offers",
        find=alerts.find_offers,
        label=alerts.LABEL,
        subject=alerts.SUBJECT,
        criteria=alerts.CRITERIA,
        listing_endpoint="offers.index",
    )
    register_personal_data("redemptions", export=privacy.export_redemptions)
    partner_dashboard.register_source("offers", dashboard.SOURCE)
    partner_tasks.register_partner_history(partner_hooks.partner_has_offers)
    # After the partners' membership step: the demo offers include members-only ones.
    add_demo_step("offers", demo.seed_offers, after="memberships")
    # After the demo ledger, whose memberships the members-only redemptions need.
    add_demo_step("redemptions", demo.seed_redemptions, after="treasury ledger")
    register_demo_partner_payment(demo.featured_offer_of_payment)
    add_scale_step("offers", seed_scale.seed_offers)
    add_scale_step("redemptions", seed_scale.seed_redemptions)
    add_scale_step("featured placements", seed_scale.write_featured_placements)
    # A redemption moves an offer's counters; a listing shows none of them (only the "most
    # redeemed" order uses one, and may lag by views.LISTING_CACHE_SECONDS), so redemptions
    # keep the cached listings.
    ignore_writes_to(
        "offers", ("redeemed_count", "updated_at", "low_stock_notified_at", "sold_out_notified_at")
    )
