"""A stricter Stripe for the tests: a small HTTP proxy in front of the session's localstripe.

localstripe is kinder than Stripe. Every request of the app, of the browser journeys (Stripe.js
stand-in) and of the tests' own "Stripe dashboard" goes through this proxy, which applies what
the pinned API version documents and localstripe ignores (each rule cites its source):

- ``Stripe-Version`` must be the version the gateway pins (server calls with a secret key;
  https://docs.stripe.com/api/versioning). Stripe.js calls (publishable key) are exempt.
- Unknown parameters answer 400 ``parameter_unknown`` for the endpoints the app uses
  (https://docs.stripe.com/error-codes#parameter-unknown), with each endpoint's parameters
  from the API reference (https://docs.stripe.com/api/payment_intents/create, ...).
- Since 2023-08-16 PaymentIntents and SetupIntents have automatic payment methods on by
  default: confirming needs a ``return_url`` unless ``payment_method_types`` is given,
  redirects are turned off (``automatic_payment_methods[allow_redirects]=never``) or the
  payment is ``off_session``
  (https://docs.stripe.com/changelog/2023-08-16/automatic-payment-methods).
- Since 2022-11-15 a Charge no longer embeds its ``refunds`` unless expanded
  (https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand) and a
  PaymentIntent has no ``charges`` (``latest_charge`` is an id unless expanded,
  https://docs.stripe.com/changelog/2022-11-15/removes-charges-attribute-paymentintent).
- Idempotency keys: the same key with the same parameters replays the first answer, with
  other parameters answers 400 ``idempotency_error``, while the first is still running 409
  ``idempotency_key_in_use`` (https://docs.stripe.com/api/idempotent_requests).
- Fees: every charge's balance transaction is settled in EUR, the account's currency, with
  Stripe's European card price (1.5 % + 0.25 €, https://stripe.com/fr/pricing); a charge in
  another currency is converted at a fixed rate given as ``exchange_rate``
  (https://docs.stripe.com/currencies/conversions). Refunds are converted the same way.
- Webhooks: events are signed again at each delivery (the timestamp is the delivery's,
  https://docs.stripe.com/webhooks#verify-events), and the test can hold them to deliver
  them late, twice and out of order (https://docs.stripe.com/webhooks#event-ordering,
  https://docs.stripe.com/webhooks#handle-duplicate-events).

What localstripe lacks and the app needs is implemented here over localstripe's own data:
``GET /v1/refunds?created[gte]=`` (the daily refund sweep), ``GET /v1/payment_intents`` by
``customer`` or ``created``, ``GET /v1/payouts?created[gte]=``, disputes
(``GET /v1/disputes/{id}``, opened and closed by the test with their balance transactions
and ``charge.dispute.*`` webhooks), a payout's balance transactions
(``GET /v1/balance_transactions?payout=``), a paid payout that fails later
(``payout.failed``), ``charge.refunded`` / ``refund.*`` events for refunds made through the
API (localstripe sends no ``charge.*`` or ``refund.*`` events), ``GET /v1/webhook_endpoints``
and ``GET /v1/account`` (``payments check-stripe``). The test can also make the proxy lose
an answer: the request reaches localstripe, then the connection is cut.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

from marketplace.money import from_minor, to_minor

SECRET_KEY = "sk_test_localstripe"
# Stripe's European card pricing: 1.5 % + 0.25 € per successful charge.
FEE_PERCENT = Decimal("0.015")
FEE_FIXED = 25
DISPUTE_FEE = 1500  # 15,00 € withdrawn with a disputed amount
ACCOUNT_CURRENCY = "eur"
# One unit of the currency in euros (fixed, so every test reads the same conversion).
EUR_RATES = {
    "eur": Decimal("1"),
    "usd": Decimal("0.92"),
    "gbp": Decimal("1.17"),
    "chf": Decimal("1.05"),
    "cad": Decimal("0.68"),
    "jpy": Decimal("0.0062"),
    "xof": Decimal("1") / Decimal("655.957"),  # the CFA franc's fixed parity
    "xaf": Decimal("1") / Decimal("655.957"),
    "mad": Decimal("0.092"),
    "kwd": Decimal("3.0"),
}


def _names(text: str) -> set[str]:
    return set(text.split())


# The parameters of each endpoint the app calls, from the API reference of the pinned version
# (https://docs.stripe.com/api/payment_intents/create and the pages beside it).
COMMON = {"expand"}
ENDPOINT_PARAMETERS: list[tuple[str, re.Pattern[str], set[str]]] = [
    (
        "POST",
        re.compile(r"/v1/customers"),
        _names("name email description metadata phone address payment_method"),
    ),
    (
        "POST",
        re.compile(r"/v1/setup_intents"),
        _names(
            "customer usage payment_method_types automatic_payment_methods metadata "
            "payment_method confirm return_url description"
        ),
    ),
    (
        "POST",
        re.compile(r"/v1/payment_intents"),
        _names(
            "amount currency customer payment_method payment_method_types "
            "automatic_payment_methods confirm off_session return_url metadata description "
            "receipt_email setup_future_usage capture_method statement_descriptor_suffix "
            "error_on_requires_action"
        ),
    ),
    ("POST", re.compile(r"/v1/payment_intents/pi_\w+/cancel"), _names("cancellation_reason")),
    (
        "POST",
        re.compile(r"/v1/refunds"),
        _names("payment_intent charge amount reason metadata instructions_email"),
    ),
    (
        "GET",
        re.compile(r"/v1/(payment_intents|charges|refunds|setup_intents|payouts|disputes)/\w+"),
        _names("client_secret"),
    ),
    ("GET", re.compile(r"/v1/(balance_transactions|payment_methods)/\w+"), set()),
    (
        "GET",
        re.compile(r"/v1/payment_intents"),
        _names("customer created limit starting_after ending_before"),
    ),
    (
        "GET",
        re.compile(r"/v1/refunds"),
        _names("charge payment_intent created limit starting_after ending_before"),
    ),
    (
        "GET",
        re.compile(r"/v1/balance_transactions"),
        _names("payout type source created currency limit starting_after"),
    ),
    (
        "GET",
        re.compile(r"/v1/payouts"),
        _names("created status arrival_date limit starting_after destination"),
    ),
    ("GET", re.compile(r"/v1/webhook_endpoints"), _names("limit starting_after")),
    ("GET", re.compile(r"/v1/account"), set()),
]
# What the proxy accepts for Stripe and strips before localstripe, which refuses it.
STRIPPED = {
    "/v1/payment_intents": {"return_url", "automatic_payment_methods", "description"},
    "/v1/setup_intents": {"return_url", "automatic_payment_methods", "description"},
    "/v1/refunds": {"reason", "instructions_email"},
    "/v1/customers": {"phone", "address", "payment_method"},
}


# ---------------------------------------------------------------- Stripe's form encoding


def unflatten(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][0]=x`` pairs as nested data (lists where every key is an index)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "[]":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested data as Stripe's form pairs."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(flatten(value, name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    pairs.extend(flatten(item, f"{name}[{index}]"))
                else:
                    pairs.append((f"{name}[{index}]", str(item)))
        else:
            pairs.append((name, str(value)))
    return pairs


def error_body(
    message: str, *, code: str | None = None, param: str | None = None, kind: str | None = None
) -> dict:
    body: dict[str, Any] = {"type": kind or "invalid_request_error", "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return {"error": body}


# ---------------------------------------------------------------- money of the account


def in_euros(amount: int, currency: str) -> tuple[int, Decimal | None]:
    """A minor amount of ``currency`` converted to euro cents, and the rate (None for EUR)."""
    currency = currency.lower()
    if currency == ACCOUNT_CURRENCY:
        return amount, None
    rate = EUR_RATES[currency]
    value = (from_minor(abs(amount), currency) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    euros = to_minor(value, "EUR")
    return (euros if amount >= 0 else -euros), rate


def card_fee(euros: int) -> int:
    """Stripe's fee on a charge of ``euros`` cents."""
    return int((Decimal(euros) * FEE_PERCENT).quantize(Decimal("1"), ROUND_HALF_UP)) + FEE_FIXED


# ---------------------------------------------------------------- webhooks


@dataclass
class Endpoint:
    """A webhook endpoint the app registered (``POST /_config/webhooks/{id}``)."""

    id: str
    url: str
    secret: str
    events: list[str] | None = None


@dataclass
class Delivery:
    event: dict
    endpoint: Endpoint
    statuses: list[int] = field(default_factory=list)


class Webhooks:
    """Delivers events to the registered endpoints: at once, or held and released later."""

    def __init__(self, shape: Callable[[Any, set[str]], Any]) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.held: list[Delivery] = []
        self.delivered: list[Delivery] = []
        self.holding = False
        self.twice = False
        self._shape = shape
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def reset(self) -> None:
        with self._lock:
            self.holding = False
            self.twice = False
            self.held.clear()
            self.delivered.clear()

    def emit(self, event_type: str, obj: dict) -> dict:
        """Send an event about ``obj`` (shaped for the pinned version) to every endpoint."""
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": None,
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": self._shape(obj, set())},
        }
        self.accept(event)
        return event

    def accept(self, event: dict, only: str | None = None) -> None:
        """An event for the endpoints (from localstripe's relay for one endpoint, ``only``, or
        from the proxy for all)."""
        event["data"]["object"] = self._shape(event["data"]["object"], set())
        for endpoint in list(self.endpoints.values()):
            if only is not None and endpoint.id != only:
                continue
            if endpoint.events is not None and event["type"] not in endpoint.events:
                continue
            delivery = Delivery(event, endpoint)
            with self._lock:
                if self.holding:
                    self.held.append(delivery)
                    continue
                self._pending += 1
            threading.Thread(target=self._send_now, args=(delivery,), daemon=True).start()

    def _send_now(self, delivery: Delivery) -> None:
        try:
            self.send(delivery)
            if self.twice:
                self.send(delivery)
        finally:
            with self._lock:
                self._pending -= 1
                self._idle.notify_all()

    def send(self, delivery: Delivery) -> int:
        """One signed delivery (signed now, as each Stripe attempt is); the answer's status."""
        payload = json.dumps(delivery.event, indent=2).encode()
        stamp = int(time.time())
        digest = hmac.new(
            delivery.endpoint.secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256
        ).hexdigest()
        try:
            response = requests.post(
                delivery.endpoint.url,
                data=payload,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": f"t={stamp},v1={digest}",
                },
                timeout=30,
            )
            status = response.status_code
        except requests.RequestException:
            status = 0
        delivery.statuses.append(status)
        with self._lock:
            self.delivered.append(delivery)
        return status

    def release(self, *, order: str = "as_sent", twice: bool = False, seed: int = 0) -> list[int]:
        """Deliver the held events (``reversed`` or ``shuffled``, each ``twice``); statuses."""
        with self._lock:
            batch, self.held = self.held, []
            self.holding = False
        if order == "reversed":
            batch.reverse()
        elif order == "shuffled":
            random.Random(seed).shuffle(batch)
        statuses = []
        for delivery in batch:
            statuses.append(self.send(delivery))
            if twice:
                statuses.append(self.send(delivery))
        return statuses

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Wait until no delivery is under way."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("webhook deliveries still running")
                self._idle.wait(left)

    def types(self) -> list[str]:
        return [delivery.event["type"] for delivery in self.delivered]


# ---------------------------------------------------------------- the proxy


@dataclass
class Stored:
    """The first answer given for an idempotency key."""

    fingerprint: str
    status: int = 0
    body: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Fault:
    """Lose the answer to requests matching ``method`` and ``path`` (a regular expression)."""

    method: str
    path: re.Pattern[str]
    times: int


class StrictStripe:
    """The WSGI proxy; ``base`` is its URL once served (``serve``)."""

    def __init__(self, upstream: str, api_version: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.api_version = api_version
        self.base = ""
        self.webhooks = Webhooks(self.shape)
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.idempotency_keys: list[tuple[str, str]] = []
        self._idempotency: dict[tuple[str, str], Stored] = {}
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._disputes: dict[str, dict] = {}
        self._transactions: dict[str, dict] = {}  # balance transactions made by the proxy
        self._charge_disputes: dict[str, str] = {}
        self._payouts: dict[str, list[str]] = {}
        self._payout_overrides: dict[str, dict] = {}
        self._fees: dict[str, int] = {}
        self._strict_setup_intents: set[str] = set()
        self._announced_refunds: set[str] = set()

    # -- test controls ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget a test's faults, held webhooks and request log (Stripe's data stays)."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.idempotency_keys.clear()
        self.webhooks.reset()

    def lose_answer(self, method: str, path: str, times: int = 1) -> None:
        """The next ``times`` matching requests reach Stripe, but their answer is lost."""
        with self._lock:
            self._faults.append(Fault(method.upper(), re.compile(path), times))

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        """The parameters of the logged requests matching ``method`` and ``path`` (a regex)."""
        pattern = re.compile(path)
        return [
            params
            for logged_method, logged_path, params in list(self.requests)
            if logged_method == method.upper() and pattern.fullmatch(logged_path)
        ]

    def contains(self, payout_id: str, transactions: Iterable[str] | dict[str, int]) -> None:
        """Declare the balance transactions paid out in ``payout_id`` (a dict sets their fee)."""
        if isinstance(transactions, dict):
            self._fees.update(transactions)
            self._payouts[payout_id] = list(transactions)
        else:
            self._payouts[payout_id] = list(transactions)

    def upstream_post(self, path: str, **data: Any) -> dict:
        """Do at localstripe what only Stripe itself does (pay a payout out, ...)."""
        response = requests.post(
            f"{self.upstream}{path}", data=flatten(data), auth=(SECRET_KEY, ""), timeout=10
        )
        response.raise_for_status()
        return response.json()

    def upstream_get(self, path: str, **params: Any) -> dict:
        """localstripe's own view of an object (no shaping)."""
        response = requests.get(
            f"{self.upstream}{path}", params=params, auth=(SECRET_KEY, ""), timeout=10
        )
        response.raise_for_status()
        return response.json()

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

    # -- serving ---------------------------------------------------------------------------

    def serve(self) -> Callable[[], None]:
        """Serve on a free port of 127.0.0.1 in a thread; returns the function that stops it."""
        server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=_QuietHandler)
        self.base = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()

        def stop() -> None:
            server.shutdown()
            thread.join(timeout=10)

        return stop

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            status, headers, body = self.handle(request, environ)
        except _AnswerLost:
            # The socket is shut: werkzeug's write fails as a dropped connection.
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
            return [b""]
        start_response(status, headers)
        return [body]

    def handle(self, request: Request, environ: dict) -> tuple[str, list, bytes]:
        path = request.path
        if path.startswith("/_config/webhooks/"):
            return self._register_webhook(request)
        if path.startswith("/_relay/"):
            self.webhooks.accept(json.loads(request.get_data()), only=path.rsplit("/", 1)[-1])
            return _json(200, {"received": True})
        raw = request.get_data()
        params = self._params(request, raw)
        server_call = _secret_key(request) is not None
        if path.startswith("/v1/") and server_call:
            with self._lock:
                self.requests.append((request.method, path, params))
                if request.headers.get("Idempotency-Key"):
                    self.idempotency_keys.append((path, request.headers["Idempotency-Key"]))
            refused = self._refuse(request, params)
            if refused is not None:
                return refused
            local = self._local(request, params)
            if local is not None:
                return local
            key = request.headers.get("Idempotency-Key")
            if request.method == "POST" and key:
                return self._idempotent(request, params, key, environ)
            return self._forward(request, params, environ)
        if path.startswith("/v1/setup_intents/") and path.endswith("/confirm"):
            refused = self._setup_confirm_rule(path, params)
            if refused is not None:
                return refused
        return self._pass_through(request, raw)

    def _params(self, request: Request, raw: bytes) -> dict[str, Any]:
        if request.method == "GET":
            return unflatten(parse_qsl(request.query_string.decode(), keep_blank_values=True))
        content_type = request.headers.get("Content-Type", "")
        if "application/x-www-form-urlencoded" in content_type:
            return unflatten(parse_qsl(raw.decode(), keep_blank_values=True))
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    # -- the rules -------------------------------------------------------------------------

    def _refuse(self, request: Request, params: dict[str, Any]) -> tuple[str, list, bytes] | None:
        version = request.headers.get("Stripe-Version")
        if version != self.api_version:
            return _json(
                400,
                error_body(
                    f"This test Stripe speaks the pinned version {self.api_version} only; "
                    f"the request said Stripe-Version: {version!r}.",
                    code="api_version_invalid",
                ),
            )
        allowed = _allowed(request.method, request.path)
        if allowed is not None:
            for name in params:
                if name not in allowed and name not in COMMON:
                    return _json(
                        400,
                        error_body(
                            f"Received unknown parameter: {name}",
                            code="parameter_unknown",
                            param=name,
                        ),
                    )
        if request.method == "POST" and request.path == "/v1/payment_intents":
            return self._return_url_rule(params)
        return None

    def _return_url_rule(self, params: dict[str, Any]) -> tuple[str, list, bytes] | None:
        """2023-08-16: confirming an intent with automatic payment methods needs a return_url."""
        if str(params.get("confirm", "")).lower() != "true":
            return None
        automatic = params.get("automatic_payment_methods") or {}
        if (
            params.get("payment_method_types")
            or str(params.get("off_session", "")).lower() == "true"
            or params.get("return_url")
            or (isinstance(automatic, dict) and automatic.get("allow_redirects") == "never")
        ):
            return None
        return _json(
            400,
            error_body(
                "A `return_url` must be specified because this Payment Intent is configured to "
                "automatically accept the payment methods enabled in the Dashboard, some of "
                "which may require a full page redirect to succeed. If you do not want to "
                "accept redirect-based payment methods, set "
                "`automatic_payment_methods[enabled]` to `true` and "
                "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup "
                "Intents and Payment Intents.",
                param="return_url",
            ),
        )

    def _setup_confirm_rule(self, path: str, params: dict) -> tuple[str, list, bytes] | None:
        """Stripe.js confirming a SetupIntent made with automatic payment methods: return_url."""
        setup_id = path.split("/")[3]
        if setup_id in self._strict_setup_intents and not params.get("return_url"):
            return _json(
                400,
                error_body(
                    "A `return_url` must be specified to confirm this SetupIntent "
                    "(automatic payment methods are on by default since 2023-08-16).",
                    param="return_url",
                ),
            )
        return None

    def _idempotent(
        self, request: Request, params: dict, key: str, environ: dict
    ) -> tuple[str, list, bytes]:
        fingerprint = json.dumps([request.path, params], sort_keys=True)
        scope = (_secret_key(request) or "", key)
        with self._lock:
            stored = self._idempotency.get(scope)
            first = stored is None
            if first:
                stored = self._idempotency[scope] = Stored(fingerprint)
        assert stored is not None
        if not first:
            if stored.fingerprint != fingerprint:
                return _json(
                    400,
                    error_body(
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        kind="idempotency_error",
                    ),
                )
            if not stored.done.is_set():
                return _json(
                    409,
                    error_body(
                        "There is currently another in-progress request using this "
                        "idempotency key. Please try again later.",
                        code="idempotency_key_in_use",
                        kind="invalid_request_error",
                    ),
                )
            self._maybe_lose(request, environ)
            return (
                _status_line(stored.status),
                [("Content-Type", "application/json"), ("Idempotent-Replayed", "true")],
                stored.body,
            )
        try:
            status, headers, body = self._forward(request, params, environ, lose=False)
        except Exception:
            with self._lock:
                self._idempotency.pop(scope, None)
            raise
        stored.status, stored.body = int(status.split()[0]), body
        stored.done.set()
        self._maybe_lose(request, environ)
        return status, headers, body

    def _maybe_lose(self, request: Request, environ: dict) -> None:
        with self._lock:
            for fault in self._faults:
                matches = fault.method == request.method and fault.path.fullmatch(request.path)
                if fault.times > 0 and matches:
                    fault.times -= 1
                    break
            else:
                return
        # Stripe did the work; the answer never reaches the app.
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        raise _AnswerLost()

    # -- forwarding ------------------------------------------------------------------------

    def _forward(
        self, request: Request, params: dict, environ: dict, *, lose: bool = True
    ) -> tuple[str, list, bytes]:
        expand = set(_expand_list(params.get("expand")))
        sent = {k: v for k, v in params.items() if k not in STRIPPED.get(request.path, set())}
        if request.method == "POST" and request.path == "/v1/setup_intents":
            sent.pop("confirm", None)
        if request.method == "GET":
            upstream = requests.get(
                f"{self.upstream}{request.path}",
                params=flatten({k: v for k, v in sent.items() if k != "expand"}),
                auth=(SECRET_KEY, ""),
                timeout=15,
            )
        else:
            upstream = requests.request(
                request.method,
                f"{self.upstream}{request.path}",
                data=urlencode(flatten({k: v for k, v in sent.items() if k != "expand"})),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                auth=(SECRET_KEY, ""),
                timeout=15,
            )
        try:
            data = upstream.json()
        except ValueError:
            data = None
        if upstream.ok and isinstance(data, dict):
            data = self._after(request, params, data)
            data = self.shape(data, expand)
        if lose:
            self._maybe_lose(request, environ)
        return (
            _json(upstream.status_code, data)
            if data is not None
            else (
                _status_line(upstream.status_code),
                [("Content-Type", upstream.headers.get("Content-Type", "text/plain"))],
                upstream.content,
            )
        )

    def _after(self, request: Request, params: dict, data: dict) -> dict:
        """Side effects Stripe has and localstripe lacks (events, remembered rules)."""
        if request.method == "POST" and request.path == "/v1/setup_intents":
            automatic = params.get("automatic_payment_methods") or {}
            if not params.get("payment_method_types") and not (
                isinstance(automatic, dict) and automatic.get("allow_redirects") == "never"
            ):
                self._strict_setup_intents.add(data["id"])
        if request.method == "POST" and request.path == "/v1/refunds":
            self._announce_refund(data)
        return data

    def _announce_refund(self, refund: dict) -> None:
        """Stripe sends ``refund.created`` and ``charge.refunded`` for a refund, once."""
        if refund["id"] in self._announced_refunds:
            return
        self._announced_refunds.add(refund["id"])
        charge = self.upstream_get(f"/v1/charges/{refund['charge']}")
        self.webhooks.emit("refund.created", refund)
        self.webhooks.emit("charge.refunded", charge)

    def _pass_through(self, request: Request, raw: bytes) -> tuple[str, list, bytes]:
        headers = {
            name: request.headers[name]
            for name in ("Authorization", "Content-Type", "Origin")
            if name in request.headers
        }
        upstream = requests.request(
            request.method,
            f"{self.upstream}{request.full_path.rstrip('?')}",
            headers=headers,
            data=raw,
            timeout=15,
        )
        kept = [
            (name, value)
            for name, value in upstream.headers.items()
            if name.lower().startswith("access-control-") or name.lower() == "content-type"
        ]
        body = upstream.content
        if upstream.ok and "json" in upstream.headers.get("Content-Type", ""):
            with contextlib.suppress(ValueError):
                body = json.dumps(self.shape(upstream.json(), set())).encode()
        return _status_line(upstream.status_code), kept, body

    def _register_webhook(self, request: Request) -> tuple[str, list, bytes]:
        form = unflatten(parse_qsl(request.get_data().decode(), keep_blank_values=True))
        hook_id = request.path.rsplit("/", 1)[-1]
        events = form.get("events")
        self.webhooks.endpoints[hook_id] = Endpoint(
            hook_id, form["url"], form["secret"], events if isinstance(events, list) else None
        )
        # localstripe sends its events to the relay, which signs and delivers them again.
        requests.post(
            f"{self.upstream}/_config/webhooks/{hook_id}",
            data={"url": f"{self.base}/_relay/{hook_id}", "secret": form["secret"]},
            timeout=10,
        ).raise_for_status()
        return _json(200, {})

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


class _QuietHandler(WSGIRequestHandler):
    """No access log line per Stripe call in the test output."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _AnswerLost(Exception):
    """The connection was cut after Stripe did the work."""


def _below(name: str, expand: set[str]) -> set[str]:
    prefix = name + "."
    return {path[len(prefix) :] for path in expand if path.startswith(prefix)}


def _expand_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, dict):
        return [str(item) for item in value.values()]
    if isinstance(value, str):
        return [value]
    return []


def _allowed(method: str, path: str) -> set[str] | None:
    for endpoint_method, pattern, names in ENDPOINT_PARAMETERS:
        if endpoint_method == method and pattern.fullmatch(path):
            return names
    return None


def _secret_key(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        key = header[7:]
    elif header.startswith("Basic "):
        import base64

        key = base64.b64decode(header[6:]).decode().split(":")[0]
    else:
        return None
    return key if key.startswith("sk_") else None


def _listing(data: list[dict], url: str, params: dict) -> dict:
    limit = int(params.get("limit") or 10)
    start = 0
    after = params.get("starting_after")
    if after:
        for index, item in enumerate(data):
            if item.get("id") == after:
                start = index + 1
                break
    page = data[start : start + limit]
    return {"object": "list", "data": page, "has_more": start + limit < len(data), "url": url}


def _status_line(code: int) -> str:
    from http import HTTPStatus

    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _json(code: int, data: Any) -> tuple[str, list, bytes]:
    return _status_line(code), [("Content-Type", "application/json")], json.dumps(data).encode()
