"""The strict Stripe proxy's webhooks (``tests/strict_stripe.py``): endpoints, events signed
again at each delivery, held to be delivered late, twice and out of order."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests


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
