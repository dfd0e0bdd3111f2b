"""core.cache: Django's Redis cache, with one redis client per connection pool."""

import threading
from collections.abc import Callable

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
    _from_four_threads(lambda: redis_cache.incr("shared-client-counter"))
    assert redis_cache.get("shared-client-counter") == 200


def _from_four_threads(call: Callable[[], object]) -> None:
    """Make ``call`` 50 times in each of 4 threads running at once."""

    def fifty() -> None:
        for _ in range(50):
            call()

    threads = [threading.Thread(target=fifty) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_count_up_counts_and_sets_the_expiry_once(redis_cache: SharedClientRedisCache) -> None:
    redis_cache.delete("count-up")
    full_key = redis_cache.make_and_validate_key("count-up")
    client = redis_cache._cache.get_client(full_key)

    assert redis_cache.count_up("count-up", 60) == 1
    client.expire(full_key, 30)  # as if 30 s had passed since the first count
    assert redis_cache.count_up("count-up", 60) == 2
    assert redis_cache.count_up("count-up", 60) == 3

    # The window is the first count's: later counts do not push the expiry back.
    assert 0 < client.ttl(full_key) <= 30
    assert redis_cache.get("count-up") == 3


def test_count_up_from_threads_loses_no_count(redis_cache: SharedClientRedisCache) -> None:
    redis_cache.delete("count-up-threads")
    _from_four_threads(lambda: redis_cache.count_up("count-up-threads", 60))
    assert redis_cache.get("count-up-threads") == 200


@pytest.fixture
def round_trips(
    redis_cache: SharedClientRedisCache, monkeypatch: pytest.MonkeyPatch
) -> list[object]:
    """Each connection the cache's client borrows from its pool: one per round trip."""
    pool = redis_cache._cache.get_client("any", write=True).connection_pool
    borrowed: list[object] = []
    real_get_connection = pool.get_connection

    def get_connection(*args: object, **kwargs: object) -> object:
        borrowed.append(args)
        return real_get_connection(*args, **kwargs)

    monkeypatch.setattr(pool, "get_connection", get_connection)
    return borrowed


def test_the_throttles_count_through_djangos_cache_proxy_in_one_round_trip(
    redis_cache: SharedClientRedisCache, round_trips: list[object]
) -> None:
    # DRF's throttles and the failure penalty hold django.core.cache.cache, a proxy object.
    from django.core.cache import cache as proxy

    from core.throttling import _count

    redis_cache.delete("count-up-proxy")
    round_trips.clear()
    assert (_count(proxy, "count-up-proxy", 60), _count(proxy, "count-up-proxy", 60)) == (1, 2)
    assert len(round_trips) == 2
