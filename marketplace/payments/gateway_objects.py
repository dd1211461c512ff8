"""What the gateway returns: our own frozen dataclasses, never Stripe SDK objects.

``marketplace/payments/gateway.py`` builds them from Stripe's dicts at the boundary (stripe >= 15
objects are not dicts: ``.to_dict()`` first) and is the only module that imports ``stripe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    last_error_code: str | None = None
    created: int = 0
    metadata: dict = field(default_factory=dict)


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
class RefundInfo:
    """A refund; ``settled`` is its balance transaction (what left the balance) once known."""

    id: str
    amount: int
    status: str
    charge: str | None
    payment_intent: str | None
    currency: str = ""
    created: int = 0
    failure_reason: str | None = None
    metadata: dict = field(default_factory=dict)
    settled: BalanceTransactionInfo | None = None


@dataclass(frozen=True)
class ChargeInfo:
    """A charge with what Stripe settled for it (``settled``: its balance transaction)."""

    id: str
    amount: int
    amount_refunded: int
    currency: str
    disputed: bool
    payment_intent: str | None
    customer: str | None = None
    settled: BalanceTransactionInfo | None = None

    @property
    def fee(self) -> int | None:
        return self.settled.fee if self.settled is not None else None


@dataclass(frozen=True)
class DisputeInfo:
    """A dispute with the balance transactions that withdrew and reinstated the funds."""

    id: str
    charge: str | None
    payment_intent: str | None
    amount: int
    currency: str
    status: str
    reason: str | None
    transactions: tuple[BalanceTransactionInfo, ...] = ()


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
    failure_code: str | None = None


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
class WebhookEndpointInfo:
    """A webhook endpoint of the Stripe account (``payments check-stripe``)."""

    id: str
    url: str
    enabled_events: tuple[str, ...]
    api_version: str | None
    status: str


@dataclass(frozen=True)
class AccountInfo:
    id: str
    default_currency: str
    country: str | None


@dataclass(frozen=True)
class EventInfo:
    id: str
    type: str
    object_id: str | None
    object_type: str | None
    data: dict = field(default_factory=dict)
