"""What the strict Stripe proxy (``tests/strict_stripe.py``) adds to localstripe: disputes,
failed payouts and the balance transactions they make, objects shaped as the pinned version
does, and the listings localstripe lacks."""

from __future__ import annotations

import secrets
import time
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request

from tests.strict_stripe_rules import (
    ACCOUNT_CURRENCY,
    DISPUTE_FEE,
    _below,
    _expand_list,
    _json,
    _listing,
    card_fee,
    error_body,
    in_euros,
)


class ObjectsMixin:
    """The part of ``StrictStripe`` that makes and shows objects localstripe lacks (its state
    is set up by ``StrictStripe.__init__``)."""

    def open_dispute(self, charge_id: str, *, reason: str = "fraudulent") -> dict:
        """The cardholder disputes a charge: funds and the dispute fee are withdrawn."""
        charge = self.upstream_get(f"/v1/charges/{charge_id}")
        dispute_id = f"dp_{secrets.token_hex(10)}"
        euros, rate = in_euros(-charge["amount"], charge["currency"])
        withdrawal = self._transaction(
            amount=euros,
            fee=DISPUTE_FEE,
            source=dispute_id,
            kind="adjustment",
            category="dispute",
            rate=rate,
            description=f"Chargeback withdrawal for {charge_id}",
        )
        dispute = {
            "id": dispute_id,
            "object": "dispute",
            "amount": charge["amount"],
            "currency": charge["currency"],
            "charge": charge_id,
            "payment_intent": charge.get("payment_intent"),
            "reason": reason,
            "status": "needs_response",
            "is_charge_refundable": False,
            "balance_transactions": [withdrawal],
            "created": int(time.time()),
            "livemode": False,
            "metadata": {},
            "evidence_details": {"due_by": int(time.time()) + 7 * 86400, "has_evidence": False},
        }
        self._disputes[dispute_id] = dispute
        self._charge_disputes[charge_id] = dispute_id
        self.webhooks.emit("charge.dispute.created", dispute)
        self.webhooks.emit("charge.dispute.funds_withdrawn", dispute)
        return dispute

    def close_dispute(self, dispute_id: str, *, won: bool) -> dict:
        """The bank decides: a won dispute gives the funds back (the fee is not returned)."""
        dispute = self._disputes[dispute_id]
        dispute["status"] = "won" if won else "lost"
        if won:
            withdrawal = dispute["balance_transactions"][0]
            reinstatement = self._transaction(
                amount=-withdrawal["amount"],
                fee=0,
                source=dispute_id,
                kind="adjustment",
                category="dispute_reversal",
                rate=withdrawal["exchange_rate"],
                description=f"Chargeback reversal for {dispute['charge']}",
            )
            dispute["balance_transactions"].append(reinstatement)
            self.webhooks.emit("charge.dispute.funds_reinstated", dispute)
        self.webhooks.emit("charge.dispute.closed", dispute)
        return dispute

    def fail_payout(self, payout_id: str, code: str = "account_closed") -> dict:
        """A paid payout comes back from the bank (``payout.failed``)."""
        payout = self.upstream_get(f"/v1/payouts/{payout_id}")
        self._payout_overrides[payout_id] = {
            "status": "failed",
            "failure_code": code,
            "failure_message": "The bank account has been closed.",
        }
        self.webhooks.emit("payout.failed", {**payout, **self._payout_overrides[payout_id]})
        return {**payout, **self._payout_overrides[payout_id]}

    def _transaction(
        self,
        *,
        amount: int,
        fee: int,
        source: str,
        kind: str,
        category: str,
        rate: Decimal | None,
        description: str,
    ) -> dict:
        transaction = {
            "id": f"txn_{secrets.token_hex(10)}",
            "object": "balance_transaction",
            "amount": amount,
            "fee": fee,
            "fee_details": (
                [
                    {
                        "amount": fee,
                        "currency": "eur",
                        "description": "Dispute fee",
                        "type": "stripe_fee",
                    }
                ]
                if fee
                else []
            ),
            "net": amount - fee,
            "currency": ACCOUNT_CURRENCY,
            "exchange_rate": float(rate) if rate is not None else None,
            "source": source,
            "type": kind,
            "reporting_category": category,
            "status": "available",
            "description": description,
            "created": int(time.time()),
            "available_on": int(time.time()),
        }
        self._transactions[transaction["id"]] = transaction
        return transaction

    # -- shaping objects as the pinned version does ----------------------------------------

    def shape(self, obj: Any, expand: set[str]) -> Any:
        """Rewrite localstripe's objects into the pinned version's shape (see the module)."""
        if isinstance(obj, list):
            return [self.shape(item, expand) for item in obj]
        if not isinstance(obj, dict):
            return obj
        kind = obj.get("object")
        if kind == "list" or kind == "search_result":
            inner = {path[5:] for path in expand if path.startswith("data.")}
            return {**obj, "data": [self.shape(item, inner) for item in obj.get("data", [])]}
        obj = dict(obj)
        if kind == "payment_intent":
            # 2022-11-15: no `charges`; `latest_charge` is an id unless expanded.
            obj.pop("charges", None)
            obj.pop("invoice", None)
            obj["latest_charge"] = self._expandable(
                obj.get("latest_charge"), "latest_charge", expand
            )
            obj.setdefault("payment_method_types", ["card"])
        elif kind == "charge":
            # 2022-11-15: `refunds` only when expanded.
            if "refunds" in expand:
                obj["refunds"] = self.shape(obj.get("refunds"), _below("refunds", expand))
            else:
                obj.pop("refunds", None)
            obj.pop("invoice", None)
            obj["disputed"] = obj["id"] in self._charge_disputes
            obj["balance_transaction"] = self._expandable(
                obj.get("balance_transaction"), "balance_transaction", expand
            )
        elif kind == "refund":
            obj.pop("date", None)
            obj["balance_transaction"] = self._expandable(
                obj.get("balance_transaction"), "balance_transaction", expand
            )
        elif kind == "balance_transaction":
            obj = self._settle(obj)
        elif kind == "payout":
            obj.update(self._payout_overrides.get(obj["id"], {}))
        return obj

    def _expandable(self, value: Any, name: str, expand: set[str]) -> Any:
        if isinstance(value, dict):
            identifier = value.get("id")
            if name in expand or any(path.startswith(name + ".") for path in expand):
                return self.shape(value, _below(name, expand))
            return identifier
        if isinstance(value, str) and name in expand:
            fetched = self._fetch_object(value)
            return self.shape(fetched, _below(name, expand)) if fetched else value
        return value

    def _fetch_object(self, identifier: str) -> dict | None:
        if identifier in self._transactions:
            return self._transactions[identifier]
        prefixes = {"txn_": "balance_transactions", "ch_": "charges", "re_": "refunds"}
        for prefix, collection in prefixes.items():
            if identifier.startswith(prefix):
                return self.upstream_get(f"/v1/{collection}/{identifier}")
        return None

    def _settle(self, transaction: dict) -> dict:
        """A balance transaction as Stripe settles it in EUR: converted, with its fee."""
        if (
            transaction["id"] in self._transactions
            or transaction.get("currency") == "eur"
            and (transaction.get("type") not in ("charge", "refund"))
        ):
            return dict(transaction)
        amount, rate = in_euros(int(transaction["amount"]), transaction["currency"])
        fee = card_fee(amount) if transaction.get("type") == "charge" else 0
        fee = self._fees.get(transaction["id"], fee)
        return {
            **transaction,
            "amount": amount,
            "currency": ACCOUNT_CURRENCY,
            "exchange_rate": float(rate) if rate is not None else None,
            "fee": fee,
            "fee_details": (
                [
                    {
                        "amount": fee,
                        "currency": "eur",
                        "description": "Stripe processing fees",
                        "type": "stripe_fee",
                    }
                ]
                if fee
                else []
            ),
            "net": amount - fee,
        }

    # -- what localstripe lacks ------------------------------------------------------------

    def _local(self, request: Request, params: dict) -> tuple[str, list, bytes] | None:
        path, method = request.path, request.method
        expand = set(_expand_list(params.get("expand")))
        if method != "GET":
            return None
        if path.startswith("/v1/disputes/"):
            dispute = self._disputes.get(path.rsplit("/", 1)[-1])
            if dispute is None:
                return _json(404, error_body("No such dispute", code="resource_missing"))
            return _json(200, self.shape(dispute, expand))
        if path.startswith("/v1/balance_transactions/"):
            transaction = self._transactions.get(path.rsplit("/", 1)[-1])
            if transaction is not None:
                return _json(200, transaction)
            return None
        if path == "/v1/balance_transactions" and "payout" in params:
            items = [self._fetch_object(txn) for txn in self._payouts.get(params["payout"], [])]
            data = [self.shape(item, set()) for item in items if item]
            return _json(200, _listing(data, "/v1/balance_transactions", params))
        if path == "/v1/refunds" and "created" in params:
            refunds = self._all("/v1/refunds")
            bound = params["created"]
            gte = int(bound.get("gte", 0)) if isinstance(bound, dict) else int(bound)
            data = [
                self.shape(r, _below("data", expand)) for r in refunds if int(r["created"]) >= gte
            ]
            data.sort(key=lambda r: (r["created"], r["id"]), reverse=True)
            return _json(200, _listing(data, "/v1/refunds", params))
        if path == "/v1/payouts" and "created" in params:
            bound = params["created"]
            gte = int(bound.get("gte", 0)) if isinstance(bound, dict) else int(bound)
            found = [p for p in self._all("/v1/payouts") if int(p["created"]) >= gte]
            found.sort(key=lambda p: (p["created"], p["id"]), reverse=True)
            return _json(200, _listing([self.shape(p, set()) for p in found], path, params))
        if path == "/v1/payment_intents" and ({"customer", "created"} & set(params)):
            intents = self._all("/v1/payment_intents")
            if "customer" in params:
                intents = [i for i in intents if i.get("customer") == params["customer"]]
            if "created" in params:
                bound = params["created"]
                gte = int(bound.get("gte", 0)) if isinstance(bound, dict) else int(bound)
                intents = [i for i in intents if int(i["created"]) >= gte]
            intents.sort(key=lambda i: (i["created"], i["id"]), reverse=True)
            data = [self.shape(i, _below("data", expand)) for i in intents]
            return _json(200, _listing(data, "/v1/payment_intents", params))
        if path == "/v1/webhook_endpoints":
            data = [
                {
                    "id": f"we_{endpoint.id}",
                    "object": "webhook_endpoint",
                    "url": endpoint.url,
                    "api_version": self.api_version,
                    "enabled_events": endpoint.events or ["*"],
                    "status": "enabled",
                }
                for endpoint in self.webhooks.endpoints.values()
            ]
            return _json(200, _listing(data, "/v1/webhook_endpoints", params))
        if path == "/v1/account":
            return _json(
                200,
                {
                    "id": "acct_localstripe",
                    "object": "account",
                    "country": "FR",
                    "default_currency": ACCOUNT_CURRENCY,
                    "charges_enabled": True,
                },
            )
        return None

    def _all(self, path: str) -> list[dict]:
        """Every object of a localstripe collection (all pages)."""
        found: list[dict] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = self.upstream_get(path, **params)
            found.extend(page.get("data", []))
            if not page.get("has_more") or not page.get("data"):
                return found
            params["starting_after"] = page["data"][-1]["id"]
