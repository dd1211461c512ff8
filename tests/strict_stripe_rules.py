"""The strict Stripe proxy's rules and helpers (``tests/strict_stripe.py``): the parameters each
endpoint accepts, form encoding, error bodies, the account's currency and card fees, the
listing and answer helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from werkzeug.serving import WSGIRequestHandler
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
