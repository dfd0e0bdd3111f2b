"""Who is acting, from where, in which request: read by services when they write audit rows.

Kept in context variables so services never need the request object.
"""

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip_address: str | None


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "audit_request_context", default=None
)


def current() -> RequestContext | None:
    return _current.get()


@contextmanager
def bind(
    *, request_id: str | None = None, ip_address: str | None = None
) -> Iterator[RequestContext]:
    """Bind a request id and client address for the duration of a block."""
    context = RequestContext(request_id=request_id or uuid.uuid4().hex, ip_address=ip_address)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
