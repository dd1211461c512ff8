"""The treasurer's pages and API: the payment ledger, refunds and period sums."""
