"""The one module that talks to Stripe: our own dataclasses in, our own dataclasses out.

Works with real Stripe and with localstripe behind the tests' stricter stand-in
(``STRIPE_API_BASE``). Every request carries the pinned ``Stripe-Version`` and follows that
version's documented shape (https://docs.stripe.com/upgrades):

- since 2023-08-16 automatic payment methods are on by default, so PaymentIntents and
  SetupIntents are created with ``payment_method_types=["card"]`` (confirming would otherwise
  need a ``return_url``: https://docs.stripe.com/changelog/2023-08-16/automatic-payment-methods);
- since 2022-11-15 a Charge does not embed its refunds (they are listed with
  ``Refund.list(charge=...)`` when ``amount_refunded`` says there are some) and a
  PaymentIntent has no ``charges`` (``latest_charge``, an id unless expanded:
  https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand).

Every create call carries an idempotency key the caller keeps with its row; network calls time
out after ``STRIPE_TIMEOUT`` seconds and are not retried by the SDK (the caller retries with the
same key, the webhook retry or the reconciliation job finds out what Stripe did).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import stripe
from flask import current_app
from flask_babel import lazy_gettext as _l

from marketplace.payments.gateway_objects import (
    AccountInfo,
    BalanceTransactionInfo,
    ChargeInfo,
    DisputeInfo,
    EventInfo,
    ListedPaymentIntent,
    PaymentIntentInfo,
    PaymentMethodInfo,
    PayoutInfo,
    RefundInfo,
    SetupIntentInfo,
    WebhookEndpointInfo,
)

logger = logging.getLogger(__name__)

# The Stripe API version this site speaks, sent with every request: requests and objects
# follow its documented shape, whatever the account's default version or the SDK's. It is
# the version of stripe-python 16's release (https://docs.stripe.com/api-versions); webhook
# endpoints must be created with the same version (``payments check-stripe`` checks it).
API_VERSION = "2026-09-30.endive"
TIMEOUT_SECONDS = 10
EXTENSION_KEY = "stripe_gateway"
# At most this many pages of 100 are read by a list call (10,000 objects).
MAX_LIST_PAGES = 100
# Stripe's own default (https://docs.stripe.com/webhooks#replay-attacks), applied both ways.
WEBHOOK_TOLERANCE = 300
# The only payment method the card page offers (no redirect-based method, no return_url).
PAYMENT_METHOD_TYPES = ["card"]


class GatewayError(Exception):
    """Stripe said no or failed; ``user_message`` is a safe, translatable sentence."""

    default_message = _l("The payment could not be processed. Please try again later.")

    def __init__(
        self, detail: str = "", user_message: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(detail or str(self.default_message))
        self.detail = detail
        self.user_message = user_message or str(self.default_message)
        self.code = code


class GatewayUnavailable(GatewayError):
    """Network error, timeout or a 5xx from Stripe: no answer, Stripe may or may not have acted."""

    default_message = _l("The payment service is unreachable. Please try again in a few minutes.")


class CardDeclined(GatewayError):
    """The card was refused (HTTP 402); ``code`` is Stripe's decline code."""

    default_message = _l("Your card was declined.")


class GatewayNotFound(GatewayError):
    """Stripe answered 404: it does not know the object asked for."""


class InvalidSignature(Exception):
    """A webhook whose signature, secret or timestamp does not verify."""


def _id(value: Any) -> str | None:
    """An id whether Stripe sent it as a string or as an expanded object."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("id")
    return str(value)


def _setup_intent(data: dict) -> SetupIntentInfo:
    return SetupIntentInfo(
        id=data["id"],
        client_secret=data.get("client_secret"),
        status=data.get("status") or "",
        payment_method=_id(data.get("payment_method")),
        customer=_id(data.get("customer")),
    )


def _payment_intent(data: dict) -> PaymentIntentInfo:
    last_error = data.get("last_payment_error") or None
    return PaymentIntentInfo(
        id=data["id"],
        status=data.get("status") or "",
        amount=int(data.get("amount") or 0),
        currency=str(data.get("currency") or "").lower(),
        client_secret=data.get("client_secret"),
        payment_method=_id(data.get("payment_method")),
        customer=_id(data.get("customer")),
        latest_charge=_id(data.get("latest_charge")),
        last_error=(last_error.get("message") or last_error.get("code")) if last_error else None,
        last_error_code=(
            (last_error.get("decline_code") or last_error.get("code")) if last_error else None
        ),
        created=int(data.get("created") or 0),
        metadata=dict(data.get("metadata") or {}),
    )


def _balance_transaction(data: dict) -> BalanceTransactionInfo:
    amount = int(data.get("amount") or 0)
    fee = int(data.get("fee") or 0)
    net = data.get("net")
    return BalanceTransactionInfo(
        id=data["id"],
        type=data.get("type") or "",
        source=_id(data.get("source")),
        amount=amount,
        fee=fee,
        net=int(net) if net is not None else amount - fee,
        currency=str(data.get("currency") or "").lower(),
        created=data.get("created"),
    )


def _settled(value: Any) -> BalanceTransactionInfo | None:
    """An expanded ``balance_transaction`` (an id alone says nothing about the money)."""
    return _balance_transaction(value) if isinstance(value, dict) else None


def _refund(data: dict) -> RefundInfo:
    return RefundInfo(
        id=data["id"],
        amount=int(data.get("amount") or 0),
        status=data.get("status") or "",
        charge=_id(data.get("charge")),
        payment_intent=_id(data.get("payment_intent")),
        currency=str(data.get("currency") or "").lower(),
        created=int(data.get("created") or 0),
        failure_reason=data.get("failure_reason"),
        metadata=dict(data.get("metadata") or {}),
        settled=_settled(data.get("balance_transaction")),
    )


def _charge(data: dict) -> ChargeInfo:
    return ChargeInfo(
        id=data["id"],
        amount=int(data.get("amount") or 0),
        amount_refunded=int(data.get("amount_refunded") or 0),
        currency=str(data.get("currency") or "").lower(),
        disputed=bool(data.get("disputed")),
        payment_intent=_id(data.get("payment_intent")),
        customer=_id(data.get("customer")),
        settled=_settled(data.get("balance_transaction")),
    )


def _dispute(data: dict) -> DisputeInfo:
    return DisputeInfo(
        id=data["id"],
        charge=_id(data.get("charge")),
        payment_intent=_id(data.get("payment_intent")),
        amount=int(data.get("amount") or 0),
        currency=str(data.get("currency") or "").lower(),
        status=data.get("status") or "",
        reason=data.get("reason"),
        transactions=tuple(
            _balance_transaction(item)
            for item in data.get("balance_transactions") or []
            if isinstance(item, dict)
        ),
    )


def _payout(data: dict) -> PayoutInfo:
    return PayoutInfo(
        id=data["id"],
        amount=int(data.get("amount") or 0),
        currency=str(data.get("currency") or "").lower(),
        status=data.get("status") or "",
        arrival_date=data.get("arrival_date"),
        created=data.get("created"),
        automatic=bool(data.get("automatic")),
        failure_code=data.get("failure_code"),
    )


class StripeClient:
    """A thin wrapper over ``stripe.StripeClient`` mapping errors and objects to ours."""

    def __init__(
        self,
        *,
        api_key: str,
        api_base: str,
        webhook_secret: str,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            api_key,
            stripe_version=API_VERSION,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> dict:
        """Run one SDK call; return a plain dict; raise our exceptions."""
        try:
            result = function(*args, **kwargs)
        except stripe.CardError as error:
            code = getattr(error, "code", None)
            decline = ((error.json_body or {}).get("error") or {}).get("decline_code")
            logger.info("stripe %s: card declined (%s %s)", what, code, decline)
            raise CardDeclined(
                f"{what}: card declined ({decline or code})",
                user_message=error.user_message or None,
                code=decline or code,
            ) from error
        except stripe.APIConnectionError as error:
            logger.warning("stripe %s: no answer (%s)", what, type(error).__name__)
            raise GatewayUnavailable(f"{what}: {type(error).__name__}") from error
        except stripe.StripeError as error:
            status = error.http_status or 0
            code = getattr(error, "code", None)
            if status >= 500 or status == 0 or isinstance(error, stripe.RateLimitError):
                logger.warning("stripe %s: unavailable (HTTP %s)", what, status)
                raise GatewayUnavailable(f"{what}: HTTP {status}", code=code) from error
            if status == 409 and code == "idempotency_key_in_use":
                # Our own earlier request with this key is still running at Stripe.
                logger.info("stripe %s: same idempotency key still in progress", what)
                raise GatewayUnavailable(f"{what}: HTTP 409 {code}", code=code) from error
            logger.warning("stripe %s: error HTTP %s %s %s", what, status, code, error.user_message)
            detail = f"{what}: HTTP {status} {code or ''} {error.user_message or ''}".strip()
            if status == 404:
                raise GatewayNotFound(detail, code=code or "resource_missing") from error
            raise GatewayError(detail, code=code) from error
        return result.to_dict() if hasattr(result, "to_dict") else dict(result)

    def _pages(self, what: str, function: Any, params: dict[str, Any]) -> list[dict]:
        """Every item of a list call, page after page (at most ``MAX_LIST_PAGES``)."""
        params = {"limit": 100, **params}
        found: list[dict] = []
        for _page in range(MAX_LIST_PAGES):
            data = self._call(what, function, params=params)
            items = data.get("data", [])
            found.extend(items)
            if not data.get("has_more") or not items:
                break
            params["starting_after"] = items[-1]["id"]
        return found

    def create_customer(self, *, email: str | None, name: str, idempotency_key: str) -> str:
        """Create a Stripe customer; return its id."""
        params: dict[str, Any] = {"name": name}
        if email:
            params["email"] = email
        data = self._call(
            "customer.create",
            self._client.v1.customers.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return data["id"]

    def create_setup_intent(self, *, customer: str, idempotency_key: str) -> SetupIntentInfo:
        """Create an off-session card SetupIntent for the card element."""
        data = self._call(
            "setup_intent.create",
            self._client.v1.setup_intents.create,
            params={
                "customer": customer,
                "usage": "off_session",
                "payment_method_types": PAYMENT_METHOD_TYPES,
            },
            options={"idempotency_key": idempotency_key},
        )
        return _setup_intent(data)

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntentInfo:
        """Fetch a SetupIntent."""
        data = self._call(
            "setup_intent.retrieve", self._client.v1.setup_intents.retrieve, setup_intent_id
        )
        return _setup_intent(data)

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        payment_method: str,
        off_session: bool = False,
        metadata: dict[str, str] | None = None,
        idempotency_key: str,
    ) -> PaymentIntentInfo:
        """Create and confirm (``confirm=true``) a card PaymentIntent with a saved card."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": payment_method,
            "payment_method_types": PAYMENT_METHOD_TYPES,
            "confirm": True,
            "metadata": {key: str(value) for key, value in (metadata or {}).items()},
        }
        if customer:
            params["customer"] = customer
        if off_session:
            params["off_session"] = True
        data = self._call(
            "payment_intent.create",
            self._client.v1.payment_intents.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _payment_intent(data)

    def cancel_payment_intent(self, payment_intent_id: str, *, idempotency_key: str) -> None:
        """Cancel an intent that can no longer be paid through us (a superseded attempt)."""
        self._call(
            "payment_intent.cancel",
            self._client.v1.payment_intents.cancel,
            payment_intent_id,
            params={"cancellation_reason": "abandoned"},
            options={"idempotency_key": idempotency_key},
        )

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo:
        """Fetch a PaymentIntent (the truth the ledger is synced with)."""
        data = self._call(
            "payment_intent.retrieve", self._client.v1.payment_intents.retrieve, payment_intent_id
        )
        return _payment_intent(data)

    def list_customer_payment_intents(self, customer: str) -> list[PaymentIntentInfo]:
        """Every PaymentIntent of a customer, newest first (strongly consistent, unlike search)."""
        items = self._pages(
            "payment_intent.list", self._client.v1.payment_intents.list, {"customer": customer}
        )
        return [_payment_intent(item) for item in items]

    def retrieve_charge(self, charge_id: str) -> ChargeInfo:
        """Fetch a charge with its balance transaction expanded (the settled amount and fee)."""
        data = self._call(
            "charge.retrieve",
            self._client.v1.charges.retrieve,
            charge_id,
            params={"expand": ["balance_transaction"]},
        )
        return _charge(data)

    def list_refunds(
        self, *, charge: str | None = None, created_since: int | None = None
    ) -> list[RefundInfo]:
        """Refunds of a charge, or created at or after ``created_since`` (Unix time), with
        their balance transactions; all pages."""
        params: dict[str, Any] = {"expand": ["data.balance_transaction"]}
        if charge:
            params["charge"] = charge
        if created_since is not None:
            params["created"] = {"gte": int(created_since)}
        items = self._pages("refund.list", self._client.v1.refunds.list, params)
        return [_refund(item) for item in items]

    def retrieve_refund(self, refund_id: str) -> RefundInfo:
        """Fetch a refund with its balance transaction."""
        data = self._call(
            "refund.retrieve",
            self._client.v1.refunds.retrieve,
            refund_id,
            params={"expand": ["balance_transaction"]},
        )
        return _refund(data)

    def retrieve_payment_method(self, payment_method_id: str) -> PaymentMethodInfo:
        """Fetch a payment method's card brand and last four digits (for the member's page)."""
        data = self._call(
            "payment_method.retrieve", self._client.v1.payment_methods.retrieve, payment_method_id
        )
        card = data.get("card") or {}
        return PaymentMethodInfo(
            id=data["id"],
            brand=(str(card["brand"]) if card.get("brand") else None),
            last4=(str(card["last4"]) if card.get("last4") else None),
        )

    def create_refund(
        self,
        *,
        payment_intent: str,
        amount: int | None,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> RefundInfo:
        """Refund a payment fully (``amount=None``) or partly."""
        params: dict[str, Any] = {
            "payment_intent": payment_intent,
            "expand": ["balance_transaction"],
        }
        if amount is not None:
            params["amount"] = amount
        if metadata:
            params["metadata"] = {key: str(value) for key, value in metadata.items()}
        data = self._call(
            "refund.create",
            self._client.v1.refunds.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _refund(data)

    def retrieve_dispute(self, dispute_id: str) -> DisputeInfo:
        """Fetch a dispute with its balance transactions (funds withdrawn, reinstated)."""
        data = self._call("dispute.retrieve", self._client.v1.disputes.retrieve, dispute_id)
        return _dispute(data)

    def retrieve_payout(self, payout_id: str) -> PayoutInfo:
        """Fetch a payout (the truth behind a ``payout.paid`` or ``payout.failed`` event)."""
        return _payout(self._call("payout.retrieve", self._client.v1.payouts.retrieve, payout_id))

    def list_payouts(self, *, created_since: int) -> list[PayoutInfo]:
        """Payouts created at or after ``created_since`` (Unix time), all pages."""
        items = self._pages(
            "payout.list", self._client.v1.payouts.list, {"created": {"gte": int(created_since)}}
        )
        return [_payout(item) for item in items]

    def list_balance_transactions(
        self, *, payout: str | None = None
    ) -> list[BalanceTransactionInfo]:
        """The balance transactions (all pages), only those paid out in ``payout`` if given."""
        params: dict[str, Any] = {"payout": payout} if payout else {}
        items = self._pages(
            "balance_transaction.list", self._client.v1.balance_transactions.list, params
        )
        return [_balance_transaction(item) for item in items]

    def list_payment_intents(self, created_after: int) -> list[ListedPaymentIntent]:
        """PaymentIntents created at or after ``created_after`` (Unix time), newest first."""
        items = self._pages(
            "payment_intent.list",
            self._client.v1.payment_intents.list,
            {"created": {"gte": int(created_after)}},
        )
        found = [
            ListedPaymentIntent(
                id=item["id"],
                status=item.get("status") or "",
                amount=int(item.get("amount") or 0),
                currency=str(item.get("currency") or "").lower(),
                created=int(item.get("created") or 0),
                customer=_id(item.get("customer")),
                metadata=dict(item.get("metadata") or {}),
            )
            for item in items
        ]
        return sorted(found, key=lambda item: (item.created, item.id), reverse=True)

    def retrieve_account(self) -> AccountInfo:
        """The Stripe account (its default currency, the one it settles in)."""
        data = self._call("account.retrieve", self._client.v1.accounts.retrieve_current)
        return AccountInfo(
            id=data.get("id") or "",
            default_currency=str(data.get("default_currency") or "").lower(),
            country=data.get("country"),
        )

    def list_webhook_endpoints(self) -> list[WebhookEndpointInfo]:
        """The account's webhook endpoints."""
        items = self._pages("webhook_endpoint.list", self._client.v1.webhook_endpoints.list, {})
        return [
            WebhookEndpointInfo(
                id=item["id"],
                url=item.get("url") or "",
                enabled_events=tuple(item.get("enabled_events") or ()),
                api_version=item.get("api_version"),
                status=item.get("status") or "",
            )
            for item in items
        ]

    # -- webhooks ------------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature_header: str | None) -> EventInfo:
        """Verify the signature on the raw body (300 s tolerance either way); return the event."""
        if not signature_header or not self.webhook_secret:
            raise InvalidSignature("missing signature")
        # The SDK refuses a timestamp older than the tolerance, not one ahead of our clock.
        if _signed_at(signature_header) > time.time() + WEBHOOK_TOLERANCE:
            raise InvalidSignature("timestamp outside the tolerance zone")
        try:
            event = stripe.Webhook.construct_event(
                payload, signature_header, self.webhook_secret, tolerance=WEBHOOK_TOLERANCE
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidSignature(str(error)) from error
        except ValueError as error:  # not JSON
            raise InvalidSignature("invalid payload") from error
        data = event.to_dict()
        obj = (data.get("data") or {}).get("object") or {}
        if not isinstance(obj, dict) or not data.get("id") or not data.get("type"):
            raise InvalidSignature("not an event")
        return EventInfo(
            id=str(data["id"]),
            type=str(data["type"]),
            object_id=obj.get("id"),
            object_type=obj.get("object"),
            data=obj,
        )


def _signed_at(signature_header: str) -> int:
    """The ``t=`` timestamp of a ``Stripe-Signature`` header (0 when absent or malformed)."""
    for part in signature_header.split(","):
        key, _sep, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return 0


def get_gateway() -> StripeClient:
    """The app's Stripe client, built from its configuration and cached in ``app.extensions``."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    gateway = app.extensions.get(EXTENSION_KEY)
    if gateway is None:
        gateway = StripeClient(
            api_key=app.config["STRIPE_SECRET_KEY"],
            api_base=app.config["STRIPE_API_BASE"],
            webhook_secret=app.config["STRIPE_WEBHOOK_SECRET"],
            timeout=app.config.get("STRIPE_TIMEOUT", TIMEOUT_SECONDS),
        )
        app.extensions[EXTENSION_KEY] = gateway
    return gateway
