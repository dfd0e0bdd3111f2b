"""core.cache: Django's Redis cache, with one redis client per connection pool."""

import threading

import pytest
from django.core.cache import caches

from core.cache import SharedClientRedisCache


@pytest.fixture
def redis_cache() -> SharedClientRedisCache:
    cache = caches["default"]
    if not isinstance(cache, SharedClientRedisCache):
        pytest.fail("The suite runs with REDIS_URL set (scripts/with-test-services).")
    return cache


def test_every_operation_uses_the_same_client(redis_cache: SharedClientRedisCache) -> None:
    client = redis_cache._cache.get_client("a")
    assert redis_cache._cache.get_client("b", write=True) is client


def test_the_shared_client_serves_threads_at_once(redis_cache: SharedClientRedisCache) -> None:
    redis_cache.set("shared-client-counter", 0)

    def count() -> None:
        for _ in range(50):
            redis_cache.incr("shared-client-counter")

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert redis_cache.get("shared-client-counter") == 200
