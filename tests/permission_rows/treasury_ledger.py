"""Treasury ledger, payouts, exports and chart of accounts (issue 6, points 3-6)."""

from __future__ import annotations

ROWS = {
    # endpoint:                        anon pend veri mod  tres adm
    "treasury.payouts": (302, 403, 403, 403, 200, 200),
    "treasury.payout": (302, 403, 403, 403, 404, 404),
    "treasury.exports_page": (302, 403, 403, 403, 200, 200),
    "treasury.payments_csv": (302, 403, 403, 403, 200, 200),
    "treasury.fec_export": (302, 403, 403, 403, 200, 200),
    "treasury.accounts": (302, 403, 403, 403, 403, 200),
    "treasury_api.get_payment": (401, 403, 403, 403, 404, 404),
    "treasury_api.list_payouts": (401, 403, 403, 403, 200, 200),
}
ARGUMENTS = {"payout_id": 999_999_999}  # no such payout
