"""Asking every persona for one route, and printing a table line the way the tables spell it."""

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.test import Client

from tests.access.world import PERSONAS

Statuses = tuple[int, ...]


def answer(client: Client, method: str, path: str) -> int:
    # Never close or read the response: the test client has already finished the request, and
    # a second close() would fire request_finished, which closes the world's connection. Streams
    # (the queue's Server-Sent Events) are left unread, so their generator never starts.
    return getattr(client, method)(path).status_code


def observe(client_for: Callable[[str], Client], method: str, path: str) -> Statuses:
    # Throttles count per user and per address: start each route from zero, as a test does.
    cache.clear()
    return tuple(answer(client_for(persona), method, path) for persona in PERSONAS)


def table_line(key: str, statuses: Statuses) -> str:
    return f"    {key!r}: {statuses!r},".replace("'", '"')


def describe(expected: Statuses, observed: Statuses) -> str:
    differences = [
        f"{persona}: expected {want}, got {got}"
        for persona, want, got in zip(PERSONAS, expected, observed, strict=True)
        if want != got
    ]
    return "; ".join(differences)


def header() -> str:
    return "# " + ", ".join(PERSONAS)


def missing_message(table: str, lines: list[str], extra: Any = "") -> str:
    return (
        f"{len(lines)} route(s) have no line in {table}. Check each status below is what you "
        f"mean (404 for someone else's object, 302 to the login for the signed-out), then "
        f"paste:\n{header()}\n" + "\n".join(lines) + (f"\n{extra}" if extra else "")
    )
