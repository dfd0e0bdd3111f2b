"""Run callables in real threads, all released at once, each on its own database connection."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread after a barrier; return each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            # Connect before the barrier, so the threads race on the work and not on
            # opening connections one after another.
            connection.ensure_connection()
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as error:  # the test inspects what each thread met
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return results
