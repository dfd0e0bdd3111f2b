"""API abuse protection beyond plain rates: repeated failures earn growing penalties.

Every API answer of 401, 403 or 404 counts as a failure for the client's address (and user,
when signed in). Past ``API_FAILURE_ALLOWANCE`` failures within the window, the client is
refused for 2, 4, 8 … seconds (at most an hour) per further failure, with ``Retry-After``.
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
        wait = max((cache.get(f"{key}:until") or 0.0) for key in _keys(request)) - time.time()
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
