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

_FAILURE_STATUSES = {401, 403, 404}
_WINDOW_SECONDS = 600
_LONGEST_PENALTY_SECONDS = 3600


def _keys(request: Any) -> list[str]:
    keys = [f"api-fail:ip:{request.META.get('REMOTE_ADDR', '')}"]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        keys.append(f"api-fail:user:{user.pk}")
    return keys


def record_failure(request: Any) -> None:
    """Count one failure and, past the allowance, extend the client's penalty."""
    now = time.time()
    for key in _keys(request):
        cache.add(f"{key}:count", 0, _WINDOW_SECONDS)
        try:
            failures = cache.incr(f"{key}:count")
        except ValueError:  # expired between add and incr
            cache.set(f"{key}:count", 1, _WINDOW_SECONDS)
            failures = 1
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
