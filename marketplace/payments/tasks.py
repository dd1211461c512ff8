"""Periodic payment work for ``flask tasks run-due`` (registered by ``payments.init_app``).

- payments still pending an hour later are synced, and confirms whose answer was lost are
  found again at Stripe by our metadata (``reconcile.resync_stale_payments``);
- refunds whose answer was lost are sent again with their own key;
- once a day, one ``Refund.list(created[gte]=...)`` picks up refunds made in Stripe's
  dashboard whose webhook never came (not one call per charge).
"""

from __future__ import annotations

from marketplace.payments import documents, reconcile, refunds

DUE_TASKS = (
    ("documents", documents.issue_missing_documents),
    ("payments-pending", reconcile.resync_stale_payments),
    ("payments-refunds-unanswered", refunds.retry_unanswered_refunds),
    ("payments-refund-sweep", refunds.sweep_refunds),
)
