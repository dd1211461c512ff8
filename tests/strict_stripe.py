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

This module is the entry point (``StrictStripe``, ``flatten``); the parameters and helpers are in
``tests/strict_stripe_rules.py``, the webhooks in ``tests/strict_stripe_webhooks.py`` and the
objects the proxy adds to localstripe in ``tests/strict_stripe_objects.py``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from tests.strict_stripe_objects import ObjectsMixin
from tests.strict_stripe_rules import (
    COMMON,
    SECRET_KEY,
    STRIPPED,
    _allowed,
    _AnswerLost,
    _expand_list,
    _json,
    _QuietHandler,
    _secret_key,
    _status_line,
    error_body,
    flatten,
    unflatten,
)
from tests.strict_stripe_webhooks import Endpoint, Webhooks


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


class StrictStripe(ObjectsMixin):
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
