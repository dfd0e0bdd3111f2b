import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit import context

# A caller-supplied request id is kept only when it is a plain token, so logs cannot be forged.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's address as the WSGI server saw it (the proxy sets REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else None
        with context.bind(request_id=request_id, ip_address=client_ip(request)) as bound:
            request.request_id = bound.request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
        response["X-Request-ID"] = bound.request_id
        return response
