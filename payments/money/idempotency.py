"""``Idempotency-Key`` for API POSTs that move money.

Semantics: the same key with the same request replays the first response; the same key with a
different request is refused with 422; while the first request with a key is still running, a
second gets 409. Keys belong to the user who sent them and are kept at least
``IDEMPOTENCY_KEY_TTL_HOURS`` (never under 24 hours; purged by
``payments.purge_idempotency_keys``).

A keyed request runs in one transaction: it takes a PostgreSQL advisory lock named after
(user, key) without waiting (taken: another request with the key is running → 409), looks for an
earlier answer (replay or 422), else runs the view and stores its answer before committing.
The answer and the money it moved commit together, so neither can exist without the other, and
a request that dies mid-way leaves nothing behind: its key is simply free again.
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from payments.models import IdempotencyRecord

# The race test turns this off to show what the store lets through without its lock.
ATOMIC_RESERVATION = True

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
HEADER = "Idempotency-Key"


def _ttl() -> timedelta:
    return timedelta(hours=max(24, settings.IDEMPOTENCY_KEY_TTL_HOURS))


def fingerprint(request: Request) -> str:
    """Hash what makes two requests the same: method, path and the parsed body."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def service_key(request: Request, key: str) -> str:
    """Return the key handed to the money services: scoped to the user, unique per request."""
    return f"api:{request.user.pk}:{key}"


def _problem(status: int, detail: str) -> Response:
    return Response({"detail": detail, "code": "idempotency"}, status=status)


def key_lock_id(user_id: int, key: str) -> int:
    """The advisory lock named after (user, key): held while a request with the key runs."""
    digest = hashlib.sha256(f"{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def valid_key(key: str | None) -> bool:
    return key is not None and bool(_KEY.match(key))


def busy() -> Response:
    """The answer while another request with the same key is running."""
    return _problem(409, "A request with this Idempotency-Key is still running; retry shortly.")


def _claim(user_id: int, key: str) -> str:
    """Take the (user, key) advisory lock for this transaction without waiting.

    Return "locked", "busy" (another request holds it) or "unlocked" when no advisory lock is
    used: SQLite (the embedded default) has one writer at a time, and the race control.
    """
    if not ATOMIC_RESERVATION or connection.vendor != "postgresql":
        return "unlocked"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key_lock_id(user_id, key)])
        return "locked" if cursor.fetchone()[0] else "busy"


def _answer(existing: IdempotencyRecord, print_: str) -> Response:
    if existing.fingerprint != print_:
        return _problem(
            422, "This Idempotency-Key was used with a different request; use a new key."
        )
    replay = Response(existing.response_body, status=existing.response_status)
    replay["Idempotent-Replayed"] = "true"
    return replay


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a DRF ``post`` so it honours the ``Idempotency-Key`` header."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        if not _KEY.match(key):
            return _problem(400, "An Idempotency-Key is 1 to 200 printable characters.")
        print_ = fingerprint(request)
        user = request.user
        with transaction.atomic():
            claim = _claim(user.pk, key)
            if claim == "busy":
                return busy()
            existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
            if existing is not None and existing.created_at < timezone.now() - _ttl():
                existing.delete()
                existing = None
            if existing is not None:
                return _answer(existing, print_)
            response = view(self, request, *args, **kwargs)
            if response.status_code >= 500:
                # A server failure is not an answer: let the client retry with the same key.
                return response
            record = IdempotencyRecord(
                user=user,
                key=key,
                fingerprint=print_,
                response_status=response.status_code,
                response_body=response.data,
            )
            if claim == "locked":
                # Holding the key's lock with no answer stored, nobody else can store one.
                record.save(force_insert=True)
            else:
                try:
                    with transaction.atomic():
                        record.save(force_insert=True)
                except IntegrityError:
                    # Without the lock another request may have stored its answer first.
                    if not IdempotencyRecord.objects.filter(user=user, key=key).exists():
                        raise
        return response

    return wrapper


def idempotency_purge(*, now: Any = None) -> int:
    """Delete the keys older than the retention period; return how many."""
    cutoff = (now or timezone.now()) - _ttl()
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
