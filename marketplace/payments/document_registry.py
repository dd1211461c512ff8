"""What the domains tell the payment documents: the days a payment paid for, the name of what
it bought, the buyer of a partner payment and the team that receives its documents.

The core does not import the domain packages: each registers these from its ``init_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from marketplace.payments.models import Payment, PaymentKind

Period = tuple[date, date]
_SERVICE_PERIODS: dict[PaymentKind, Callable[[Payment], Period | None]] = {}
_DESIGNATIONS: dict[PaymentKind, Callable[[Payment], str]] = {}
_buyer_of: list[Callable[[Payment], dict[str, Any] | None]] = []
_team_of: list[Callable[[Payment], list[tuple[str, str]]]] = []


def register_service_period(kind: PaymentKind, period: Callable[[Payment], Period | None]) -> None:
    """Say how to find the days (start, end exclusive) a payment of ``kind`` paid for."""
    _SERVICE_PERIODS[PaymentKind(kind)] = period


def register_designation(kind: PaymentKind, designation: Callable[[Payment], str]) -> None:
    """Say how to name what a payment of ``kind`` bought (called in the document's language)."""
    _DESIGNATIONS[PaymentKind(kind)] = designation


def register_partner_billing(
    *,
    buyer: Callable[[Payment], dict[str, Any] | None],
    team: Callable[[Payment], list[tuple[str, str]]],
) -> None:
    """The partners package: the buyer of a partner payment (its billing identity, as a dict of
    ``name, address_lines, postal_code, city, country, siren, siret, vat_number, po_reference,
    email``) and the (e-mail, language) of the team members who receive its credit notes."""
    _buyer_of[:] = [buyer]
    _team_of[:] = [team]


def service_period(payment: Payment) -> Period | None:
    """The days (start, end exclusive) the payment paid for, or None."""
    find = _SERVICE_PERIODS.get(payment.kind)
    return find(payment) if find is not None else None


def designation(payment: Payment) -> str:
    """The name of what the payment bought (in the current locale)."""
    describe = _DESIGNATIONS.get(payment.kind)
    return describe(payment) if describe is not None else payment.description


def partner_buyer(payment: Payment) -> dict[str, Any] | None:
    """The billing identity of the partner who made ``payment``, or None."""
    return _buyer_of[0](payment) if _buyer_of else None


def partner_team(payment: Payment) -> list[tuple[str, str]]:
    """The (e-mail, language) of the active team of the partner who made ``payment``."""
    return _team_of[0](payment) if _team_of else []
