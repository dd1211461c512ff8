"""Rate limiting in one Redis round trip per request (issue 17).

Flask-Limiter evaluates a request's limits one at a time: with the moving window on Redis,
each limit is one script (``acquire_entry``) and the ``X-RateLimit-*`` headers one more read
(``get_moving_window``) after the view. The API redemption carries two limits (the API-wide
budget and its own), so three round trips. Yet the limits of a request are all known before
the first hit: ``OneTripLimiter`` hands them to ``OneTripMovingWindow``, which runs them in
one Lua script and keeps each limit's answer and window figures for the request; the hits
and the header step that Flask-Limiter then makes are answered from them.

The same semantics as the stock moving window: the same checks in the same order, stopping
at the first limit broken (``RATELIMIT_FAIL_ON_FIRST_BREACH``), on the same keys and lists
(``LIMITS:<key>``, newest timestamp first), so both can run side by side during a deploy.
Only the header figures differ: they are read when the hit is made, not after the view.

Without Redis (``memory://``) nothing changes: the stock strategy, no round trip to save. With
Redis down, Flask-Limiter's in-memory fallback takes over as before (the script raises the
connection error where the first hit would have).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import flask
from flask.globals import request_ctx
from flask_limiter import Limiter
from limits import RateLimitItem
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

if TYPE_CHECKING:
    from flask_limiter._limits import RuntimeLimit

# KEYS: one list per check. ARGV: now, 1 to stop at the first refusal, then four values per
# check: the limit, its window in seconds, the cost, 1 to hit (0 to test only). Each check is
# limits' acquire_moving_window.lua (or the test of moving_window.lua), followed by the
# window's figures as moving_window.lua reads them: its oldest entry and how many it holds.
ONE_TRIP_SCRIPT = """
local now = tonumber(ARGV[1])
local stop_at_refusal = ARGV[2] == '1'
local answers = {}
for i, key in ipairs(KEYS) do
    local at = 2 + (i - 1) * 4
    local limit = tonumber(ARGV[at + 1])
    local expiry = tonumber(ARGV[at + 2])
    local cost = tonumber(ARGV[at + 3])
    local start = now - expiry
    local allowed = cost <= limit
    if allowed then
        local entry = redis.call('lindex', key, limit - cost)
        allowed = not (entry and tonumber(entry) >= start)
    end
    if allowed and ARGV[at + 4] == '1' then
        local entries = {}
        for n = 1, cost do
            entries[n] = now
        end
        for n = 1, #entries, 5000 do
            redis.call('lpush', key, unpack(entries, n, math.min(n + 4999, #entries)))
        end
        redis.call('ltrim', key, 0, limit - 1)
        redis.call('expire', key, expiry)
    end
    -- The newest entries come first: find the last one still inside the window.
    local low, high, last = 0, limit - 1, nil
    while low <= high do
        local middle = math.floor((low + high) / 2)
        local value = tonumber(redis.call('lindex', key, middle))
        if value and value >= start then
            last = middle
            low = middle + 1
        else
            high = middle - 1
        end
    end
    local oldest = ''
    local count = 0
    if last then
        oldest = redis.call('lindex', key, last)
        count = last + 1
    end
    answers[i] = {allowed and 1 or 0, oldest, count}
    if stop_at_refusal and not allowed then
        break
    end
end
return answers
"""


@dataclass(frozen=True)
class Check:
    """One limit of the request as Flask-Limiter will ask for it: hit or test, at what cost."""

    item: RateLimitItem
    identifiers: tuple[str, ...]
    cost: int
    hit: bool

    @property
    def key(self) -> str:
        return self.item.key_for(*self.identifiers)


@dataclass
class Answers:
    """What the script answered, for the rest of the request (kept on its request context)."""

    # Per (key, cost, hit): the answers in the order Flask-Limiter will ask for them.
    allowed: dict[tuple[str, int, bool], deque[bool]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    windows: dict[str, WindowStats] = field(default_factory=dict)


class OneTripMovingWindow(MovingWindowRateLimiter):
    """The moving window on Redis, all of a request's checks answered by one script."""

    def __init__(self, storage: RedisStorage) -> None:
        super().__init__(storage)
        self.redis_storage = storage
        self.script = storage.get_connection().register_script(ONE_TRIP_SCRIPT)

    @staticmethod
    def _answers() -> Answers | None:
        if not request_ctx:
            return None
        return getattr(request_ctx._get_current_object(), "_one_trip_limits", None)

    def prepare(self, checks: list[Check], *, stop_at_refusal: bool) -> None:
        """Run ``checks`` in one round trip; the hits and reads that follow are answered."""
        if not checks:
            return
        now = time.time()
        arguments: list[float | int] = [now, int(stop_at_refusal)]
        for check in checks:
            arguments += [check.item.amount, check.item.get_expiry(), check.cost, int(check.hit)]
        replies = self.script(
            keys=[self.redis_storage.prefixed_key(check.key) for check in checks], args=arguments
        )
        answers = self._answers() or Answers()
        for check, (allowed, oldest, count) in zip(checks, replies, strict=False):
            answers.allowed[(check.key, check.cost, check.hit)].append(bool(allowed))
            start = float(oldest) if count else now
            answers.windows[check.key] = WindowStats(
                start + check.item.get_expiry(), check.item.amount - int(count)
            )
        request_ctx._get_current_object()._one_trip_limits = answers  # type: ignore[attr-defined]

    def _prepared(
        self, item: RateLimitItem, identifiers: tuple[str, ...], cost: int, hit: bool
    ) -> bool | None:
        """The prepared answer to this hit or test, or None when there is none."""
        answers = self._answers()
        if answers is None:
            return None
        key = item.key_for(*identifiers)
        pending = answers.allowed.get((key, cost, hit))
        if pending:
            return pending.popleft()
        # Not prepared (a conditional deduction after the view): the window moves on.
        answers.windows.pop(key, None)
        return None

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        allowed = self._prepared(item, identifiers, cost, True)
        return super().hit(item, *identifiers, cost=cost) if allowed is None else allowed

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        allowed = self._prepared(item, identifiers, cost, False)
        return super().test(item, *identifiers, cost=cost) if allowed is None else allowed

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        answers = self._answers()
        window = answers.windows.get(item.key_for(*identifiers)) if answers else None
        return window or super().get_window_stats(item, *identifiers)


class OneTripLimiter(Limiter):
    """Flask-Limiter, whose moving window on Redis costs one round trip per evaluation."""

    def init_app(self, app: flask.Flask) -> None:
        super().init_app(app)
        # Only a single Redis: a cluster or a sentinel set keeps the stock strategy.
        if (
            self.enabled
            and self._strategy == "moving-window"
            and type(self._storage) is RedisStorage
        ):
            self._limiter = OneTripMovingWindow(self._storage)

    def _Limiter__evaluate_limits(self, endpoint: str, limits: list[RuntimeLimit]) -> None:
        """Send the checks Flask-Limiter is about to make in one script, then let it make them.

        Overrides Flask-Limiter's private ``__evaluate_limits`` (4.1), which receives the
        request's final list of limits; the checks below are its loop, step for step, so a
        limit's ``key_func``, ``exempt_when`` and ``cost`` are asked twice and must answer
        the same within a request (ours do). Meta limits are read before the hits there, so
        with any the stock path runs. Pinned by tests/test_rate_limit_round_trips.py: were
        the override no longer called, a request would cost several round trips again.
        """
        # No limits (or the limiter off): nothing to send, and no strategy may exist.
        strategy = self.limiter if limits else None
        if isinstance(strategy, OneTripMovingWindow) and not self._has_meta_limits(limits):
            strategy.prepare(
                self._checks(endpoint, limits), stop_at_refusal=bool(self._fail_on_first_breach)
            )
        super()._Limiter__evaluate_limits(endpoint, limits)  # type: ignore[misc]

    def _has_meta_limits(self, limits: list[RuntimeLimit]) -> bool:
        return bool(self._meta_limits) or any(limit.meta_limits for limit in limits)

    def _checks(self, endpoint: str, limits: list[RuntimeLimit]) -> list[Check]:
        """The hits and tests ``__evaluate_limits`` will make, in its order."""
        checks = []
        for limit in sorted(limits, key=lambda x: x.limit):
            if limit.is_exempt or limit.method_exempt:
                continue
            arguments = [limit.key_func(), limit.scope_for(endpoint, flask.request.method)]
            if not all(arguments):
                continue
            if self._key_prefix:
                arguments = [self._key_prefix, *arguments]
            checks.append(
                Check(limit.limit, tuple(arguments), limit.deduction_amount, not limit.deduct_when)
            )
        return checks
