"""Asking every persona for one route, and printing a table line the way the tables spell it."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.test import Client

from tests.access.fingerprint import writes, written_tables
from tests.access.world import PERSONAS

Statuses = tuple[int | None, ...]


def answer(client: Client, method: str, path: str, data: Any = None) -> int:
    # Never close or read the response: the test client has already finished the request, and
    # a second close() would fire request_finished, which closes the world's connection. Streams
    # (the queue's Server-Sent Events) are left unread, so their generator never starts.
    if data is None:
        return getattr(client, method)(path).status_code
    return getattr(client, method)(path, data).status_code


def observe(
    client_for: Callable[[str], Client], method: str, path: str, data: Any = None
) -> Statuses:
    return tuple(answer(client_for(persona), method, path, data) for persona in PERSONAS)


def observe_writes(
    client_for: Callable[[str], Client],
    method: str,
    path: str,
    data: Any = None,
    *,
    skip: frozenset[str] = frozenset(),
    may_write: frozenset[str] = frozenset(),
) -> tuple[Statuses, list[str]]:
    """Ask as every persona but ``skip``; return the statuses and the tables written by those
    not in ``may_write`` (who are asked last, once the others' writes are counted)."""
    statuses: dict[str, int | None] = dict.fromkeys(skip)
    checked = [p for p in PERSONAS if p not in skip and p not in may_write]
    before = writes()
    for persona in checked:
        statuses[persona] = answer(client_for(persona), method, path, data)
    written = written_tables(before, writes())
    for persona in PERSONAS:
        if persona not in statuses:
            statuses[persona] = answer(client_for(persona), method, path, data)
    return tuple(statuses[persona] for persona in PERSONAS), written


def writers(
    client_for: Callable[[str], Client], method: str, path: str, data: Any = None
) -> dict[str, list[str]]:
    """Name who wrote what, persona by persona (each undone): the diagnosis of a failure."""
    found = {}
    for persona in PERSONAS:
        with rolled_back():
            before = writes()
            answer(client_for(persona), method, path, data)
            if tables := written_tables(before, writes()):
                found[persona] = tables
    return found


@contextmanager
def rolled_back() -> Iterator[None]:
    """Undo one route's requests (a logout, a flushed session) before asking about the next.

    The cache is emptied too: throttles count per user and per address, and each route starts
    from zero as each test does (tests/conftest.py empties it before every test).
    """
    cache.clear()
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def parse(line: str) -> Statuses:
    """``"200 404 - 302"`` -> (200, 404, None, 302): one status per persona, "-" for not tried."""
    statuses = tuple(None if word == "-" else int(word) for word in line.split())
    assert len(statuses) == len(PERSONAS), f"{line!r}: one status per persona {PERSONAS}"
    return statuses


def spell(statuses: Statuses) -> str:
    return " ".join("-" if status is None else str(status) for status in statuses)


def table_line(key: str, statuses: Statuses) -> str:
    return f'    "{key}": "{spell(statuses)}",'


def describe(expected: Statuses, observed: Statuses) -> str:
    differences = [
        f"{persona}: expected {want}, got {got}"
        for persona, want, got in zip(PERSONAS, expected, observed, strict=True)
        if want is not None and want != got
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
