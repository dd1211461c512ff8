"""The one module that talks to Stripe: our own dataclasses in, our own dataclasses out.

Works with real Stripe and with localstripe (``STRIPE_API_BASE``). Every create call carries an
idempotency key derived from our row; network calls time out after 10 seconds and are not retried
by the SDK (the caller, the webhook retry or the reconciliation job retries).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import stripe
from flask import current_app
from flask_babel import lazy_gettext as _l

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
EXTENSION_KEY = "stripe_gateway"
# At most this many pages of 100 are read by a list call (10,000 objects).
MAX_LIST_PAGES = 100
# Stripe's own default (https://docs.stripe.com/webhooks#replay-attacks), applied both ways.
WEBHOOK_TOLERANCE = 300


class GatewayError(Exception):
    """Stripe said no or failed; ``user_message`` is a safe, translatable sentence."""

    default_message = _l("The payment could not be processed. Please try again later.")

    def __init__(self, detail: str = "", user_message: str | None = None) -> None:
        super().__init__(detail or str(self.default_message))
        self.detail = detail
        self.user_message = user_message or str(self.default_message)


class GatewayUnavailable(GatewayError):
    """Network error, timeout or a 5xx from Stripe: the payment service is unreachable."""

    default_message = _l("The payment service is unreachable. Please try again in a few minutes.")


class CardDeclined(GatewayError):
    """The card was refused (HTTP 402); ``user_message`` carries Stripe's decline message."""

    default_message = _l("Your card was declined.")


class GatewayNotFound(GatewayError):
    """Stripe answered 404: it does not know the object asked for."""


class InvalidSignature(Exception):
    """A webhook whose signature, secret or timestamp does not verify."""


@dataclass(frozen=True)
class SetupIntentInfo:
    id: str
    client_secret: str | None
    status: str
    payment_method: str | None
    customer: str | None


@dataclass(frozen=True)
class PaymentIntentInfo:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str | None
    payment_method: str | None
    customer: str | None
    latest_charge: str | None
    last_error: str | None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RefundInfo:
    id: str
    amount: int
    status: str
    charge: str | None
    payment_intent: str | None


@dataclass(frozen=True)
class ChargeInfo:
    id: str
    amount: int
    amount_refunded: int
    currency: str
    fee: int | None
    disputed: bool
    payment_intent: str | None
    refunds: tuple[RefundInfo, ...] = ()


@dataclass(frozen=True)
class PaymentMethodInfo:
    """A saved card as the pages show it: brand and last four digits, never the number."""

    id: str
    brand: str | None
    last4: str | None


@dataclass(frozen=True)
class PayoutInfo:
    """A payout to the bank; dates are Unix timestamps as Stripe gives them."""

    id: str
    amount: int
    currency: str
    status: str
    arrival_date: int | None
    created: int | None
    automatic: bool


@dataclass(frozen=True)
class BalanceTransactionInfo:
    """One movement of the Stripe balance (a charge, a refund, a fee, the payout itself...)."""

    id: str
    type: str
    source: str | None
    amount: int
    fee: int
    net: int
    currency: str
    created: int | None


@dataclass(frozen=True)
class ListedPaymentIntent:
    """A PaymentIntent as Stripe lists it (``created`` is Unix time)."""

    id: str
    status: str
    amount: int
    currency: str
    created: int
    customer: str | None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EventInfo:
    id: str
    type: str
    object_id: str | None
    object_type: str | None
    data: dict = field(default_factory=dict)


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
        metadata=dict(data.get("metadata") or {}),
    )


def _refund(data: dict) -> RefundInfo:
    return RefundInfo(
        id=data["id"],
        amount=int(data.get("amount") or 0),
        status=data.get("status") or "",
        charge=_id(data.get("charge")),
        payment_intent=_id(data.get("payment_intent")),
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


class StripeClient:
    """A thin wrapper over ``stripe.StripeClient`` mapping errors and objects to ours."""

    def __init__(self, *, api_key: str, api_base: str, webhook_secret: str) -> None:
        self.webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        )

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> dict:
        """Run one SDK call; return a plain dict; raise our exceptions."""
        try:
            result = function(*args, **kwargs)
        except stripe.CardError as error:
            message = getattr(error, "user_message", None) or error.user_message
            logger.info("stripe %s: card declined (%s)", what, error.code)
            raise CardDeclined(
                f"{what}: card declined ({error.code})",
                user_message=str(message) if message else None,
            ) from error
        except stripe.APIConnectionError as error:
            logger.warning("stripe %s: unreachable (%s)", what, type(error).__name__)
            raise GatewayUnavailable(f"{what}: {type(error).__name__}") from error
        except stripe.StripeError as error:
            status = error.http_status or 0
            if status >= 500 or status == 0 or isinstance(error, stripe.RateLimitError):
                logger.warning("stripe %s: unavailable (HTTP %s)", what, status)
                raise GatewayUnavailable(f"{what}: HTTP {status}") from error
            logger.warning("stripe %s: error HTTP %s %s", what, status, error.user_message)
            if status == 404:
                raise GatewayNotFound(f"{what}: HTTP 404 {error.user_message or ''}") from error
            raise GatewayError(f"{what}: HTTP {status} {error.user_message or ''}") from error
        return result.to_dict() if hasattr(result, "to_dict") else dict(result)

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
        """Create an off-session SetupIntent for the card element."""
        data = self._call(
            "setup_intent.create",
            self._client.v1.setup_intents.create,
            params={"customer": customer, "usage": "off_session"},
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
        """Create and confirm (``confirm=true``) a PaymentIntent with a saved payment method."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": payment_method,
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

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo:
        """Fetch a PaymentIntent (the truth the ledger is synced with)."""
        data = self._call(
            "payment_intent.retrieve", self._client.v1.payment_intents.retrieve, payment_intent_id
        )
        return _payment_intent(data)

    def retrieve_charge(self, charge_id: str) -> ChargeInfo:
        """Fetch a charge with its refunds and its fee (from the balance transaction)."""
        data = self._call("charge.retrieve", self._client.v1.charges.retrieve, charge_id)
        fee: int | None = None
        transaction = data.get("balance_transaction")
        if isinstance(transaction, dict):
            fee = transaction.get("fee")
        elif isinstance(transaction, str) and transaction:
            balance = self._call(
                "balance_transaction.retrieve",
                self._client.v1.balance_transactions.retrieve,
                transaction,
            )
            fee = balance.get("fee")
        refunds_data = data.get("refunds") or {}
        refunds = tuple(
            _refund(item)
            for item in (
                refunds_data.get("data", []) if isinstance(refunds_data, dict) else refunds_data
            )
        )
        return ChargeInfo(
            id=data["id"],
            amount=int(data.get("amount") or 0),
            amount_refunded=int(data.get("amount_refunded") or 0),
            currency=str(data.get("currency") or "").lower(),
            fee=int(fee) if fee is not None else None,
            disputed=bool(data.get("disputed")),
            payment_intent=_id(data.get("payment_intent")),
            refunds=refunds,
        )

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
        self, *, payment_intent: str, amount: int | None, idempotency_key: str
    ) -> RefundInfo:
        """Refund a payment fully (``amount=None``) or partly."""
        params: dict[str, Any] = {"payment_intent": payment_intent}
        if amount is not None:
            params["amount"] = amount
        data = self._call(
            "refund.create",
            self._client.v1.refunds.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _refund(data)

    def retrieve_payout(self, payout_id: str) -> PayoutInfo:
        """Fetch a payout (the truth behind a ``payout.paid`` event)."""
        return _payout(self._call("payout.retrieve", self._client.v1.payouts.retrieve, payout_id))

    def list_payouts(self, *, created_since: int) -> list[PayoutInfo]:
        """Payouts created at or after ``created_since`` (Unix time), all pages.

        Only ``limit`` and ``starting_after`` are sent (localstripe refuses ``created[gte]``);
        Stripe lists newest first, so paging stops at the first page older than the bound.
        """
        found: list[PayoutInfo] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            data = self._call("payout.list", self._client.v1.payouts.list, params=params)
            items = [_payout(item) for item in data.get("data", [])]
            recent = [item for item in items if (item.created or 0) >= created_since]
            found.extend(recent)
            if not data.get("has_more") or not items or not recent:
                return found
            params["starting_after"] = items[-1].id

    def list_balance_transactions(
        self, *, payout: str | None = None
    ) -> list[BalanceTransactionInfo]:
        """The balance transactions (all pages), only those paid out in ``payout`` if given.

        localstripe answers 400 to the ``payout`` filter and links no transaction to a payout
        (its fees are always 0): without the filter it lists every charge and refund.
        """
        found: list[BalanceTransactionInfo] = []
        params: dict[str, Any] = {"limit": 100}
        if payout:
            params["payout"] = payout
        while True:
            data = self._call(
                "balance_transaction.list", self._client.v1.balance_transactions.list, params=params
            )
            items = [_balance_transaction(item) for item in data.get("data", [])]
            found.extend(items)
            if not data.get("has_more") or not items:
                return found
            params["starting_after"] = items[-1].id

    def list_payment_intents(self, created_after: int) -> list[ListedPaymentIntent]:
        """PaymentIntents created at or after ``created_after`` (Unix time), newest first.

        Stripe filters with ``created[gte]`` and lists newest first; localstripe refuses that
        filter (HTTP 400) and lists oldest first, so then every page is read and filtered here.
        """
        found: list[ListedPaymentIntent] = []
        params: dict[str, Any] = {"limit": 100, "created": {"gte": int(created_after)}}
        try:
            data = self._call(
                "payment_intent.list", self._client.v1.payment_intents.list, params=params
            )
        except GatewayUnavailable:
            raise
        except GatewayError:
            params = {"limit": 100}
            data = self._call(
                "payment_intent.list", self._client.v1.payment_intents.list, params=params
            )
        for _page in range(MAX_LIST_PAGES):
            items = [
                ListedPaymentIntent(
                    id=item["id"],
                    status=item.get("status") or "",
                    amount=int(item.get("amount") or 0),
                    currency=str(item.get("currency") or "").lower(),
                    created=int(item.get("created") or 0),
                    customer=_id(item.get("customer")),
                    metadata=dict(item.get("metadata") or {}),
                )
                for item in data.get("data", [])
            ]
            found.extend(item for item in items if item.created >= created_after)
            if not data.get("has_more") or not items:
                break
            params["starting_after"] = items[-1].id
            data = self._call(
                "payment_intent.list", self._client.v1.payment_intents.list, params=params
            )
        return sorted(found, key=lambda item: (item.created, item.id), reverse=True)

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
        )
        app.extensions[EXTENSION_KEY] = gateway
    return gateway
