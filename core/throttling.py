"""API abuse protection beyond plain rates: repeated failures earn growing penalties.

Every API answer of 401, 403 or 404 counts as a failure for the client's address (and user,
when signed in). Past ``API_FAILURE_ALLOWANCE`` failures within the window, the client is
refused for 2, 4, 8 … seconds (at most an hour) per further failure, with ``Retry-After``.
A penalty is enforced at once by the process that imposed it, and within ``CLEAR_SECONDS`` by
the others (each trusts for that long that a client it found clear is still clear).
"""

import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

_FAILURE_STATUSES = {401, 403, 404}
_WINDOW_SECONDS = 600
_LONGEST_PENALTY_SECONDS = 3600

# A client found serving no penalty is not asked about again for this long, in this process: a
# Redis round trip saved on nearly every API request. A penalty another process imposes meanwhile
# takes effect here up to this much later; one this process imposes, at once.
CLEAR_SECONDS = 1.0
_CLEAR_LIMIT = 10_000  # clients remembered per process; past it, the memory starts afresh
_clear_until: dict[str, float] = {}
monotonic = time.monotonic  # the tests move it


def _keys(request: Any) -> list[str]:
    keys = [f"api-fail:ip:{request.META.get('REMOTE_ADDR', '')}"]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        keys.append(f"api-fail:user:{user.pk}")
    return keys


def _count(store: Any, key: str, seconds: int) -> int:
    """Add one to the count under ``key`` (kept ``seconds`` from its first use); return it."""
    # Django's ``cache`` (what DRF's throttles hold) is a proxy: ask for the method, not the type.
    count_up = getattr(store, "count_up", None)
    if count_up is not None:
        return int(count_up(key, seconds))  # Redis: one round trip
    # Any other cache (make run's local memory): add() starts the count and its expiry once.
    store.add(key, 0, seconds)
    try:
        return store.incr(key)
    except ValueError:  # expired between add and incr: this one opens it again
        store.set(key, 1, seconds)
        return 1


def record_failure(request: Any) -> None:
    """Count one failure and, past the allowance, extend the client's penalty."""
    now = time.time()
    for key in _keys(request):
        failures = _count(cache, f"{key}:count", _WINDOW_SECONDS)
        excess = failures - settings.API_FAILURE_ALLOWANCE
        if excess > 0:
            penalty = min(2**excess, _LONGEST_PENALTY_SECONDS)
            cache.set(f"{key}:until", now + penalty, penalty)
            _clear_until.pop(key, None)


def _penalty_wait(keys: list[str]) -> float:
    """Seconds left of the longest penalty any of ``keys`` is serving (<= 0: none)."""
    # The process's own memory runs on the monotonic clock: a wall clock set back must not
    # stretch it.
    checked = monotonic()
    unknown = [key for key in keys if _clear_until.get(key, 0.0) <= checked]
    if not unknown:
        return 0.0
    until = cache.get_many([f"{key}:until" for key in unknown])
    wait = max(until.values(), default=0.0) - time.time()
    if wait <= 0:
        if len(_clear_until) >= _CLEAR_LIMIT:
            _clear_until.clear()
        for key in unknown:
            _clear_until[key] = checked + CLEAR_SECONDS
    return wait


def forget_clear_clients() -> None:
    """Ask Redis about every client again (tests start from a clean slate)."""
    _clear_until.clear()


class ApiFailurePenaltyMiddleware:
    """Refuse API clients serving a penalty before any work, and count their failures.

    A middleware rather than a DRF throttle: DRF checks permissions before throttles, so a
    client failing permissions would never reach the penalty.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/") or request.path.startswith("/api/health"):
            return self.get_response(request)
        wait = _penalty_wait(_keys(request))
        if wait > 0:
            response = JsonResponse(
                {
                    "detail": "Too many failed requests; wait before trying again.",
                    "code": "penalty",
                },
                status=429,
            )
            response["Retry-After"] = str(math.ceil(wait))
            return response
        response = self.get_response(request)
        if response.status_code in _FAILURE_STATUSES:
            record_failure(request)
        return response


class WindowRateThrottle(SimpleRateThrottle):
    """DRF's rates ("1200/min") counted per fixed window: one cache increment a request.

    DRF's own throttles keep the time of every request in the window as a list that each
    request reads, unpickles, trims, pickles and writes back (up to 1,200 entries at 1,200/min);
    that cost a money request 9 % of its time. A counter per window allows as many requests per
    window; across a window's edge a client may get up to twice the rate for a moment, which
    these limits (abuse protection, not billing) accept.
    """

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        key = f"{self.key}:w{window}"
        count = _count(self.cache, key, self.duration + 1)
        self.wait_seconds = (window + 1) * self.duration - now
        return count <= self.num_requests

    def wait(self) -> float | None:
        return self.wait_seconds


class UserWindowThrottle(WindowRateThrottle, UserRateThrottle):
    """``UserRateThrottle`` (scope "user", by user or address) counted per window."""


class AnonWindowThrottle(WindowRateThrottle, AnonRateThrottle):
    """``AnonRateThrottle`` (scope "anon", by address, signed-out only) counted per window."""
