"""Tell open queue pages that the queue changed: Redis pub/sub when Redis is configured.

Without Redis the stream polls the database instead (``VERIFICATION_STREAM_POLL_SECONDS``), so
publishing is then a no-op. Losing a message costs at most one poll interval of staleness, never
a wrong decision, so a Redis error is logged and swallowed.
"""

import logging
from functools import cache
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
CHANNEL = "gomflow:verification-queue"


@cache
def _client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2)


def is_enabled() -> bool:
    return bool(settings.REDIS_URL)


def publish() -> None:
    """Announce a change of the queue (call after commit)."""
    if not is_enabled():
        return
    try:
        _client(settings.REDIS_URL).publish(CHANNEL, "changed")
    except Exception:  # a missed ping only delays a live count
        logger.warning("could not publish a queue change", exc_info=True)


def subscribe() -> Any:
    """Return a Redis pub/sub subscribed to the queue channel, or None without Redis."""
    if not is_enabled():
        return None
    pubsub = _client(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    return pubsub
