"""Payments through Stripe: ledger, webhooks, documents, refunds, reconciliation."""
