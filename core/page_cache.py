"""Rules shared by the pages kept rendered in each process's memory (``CACHES["pages"]``):
the buyer's order page and the verification queue's frame."""

import hashlib

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest


def page_cacheable(request: HttpRequest) -> bool:
    """Whether this request's page may be taken from, and kept in, the cache.

    Not with a one-time message waiting (len() reads them without consuming; iterating would),
    nor without a CSRF cookie yet: that render sets one, so its forms could not be reused.
    """
    return len(messages.get_messages(request)) == 0 and settings.CSRF_COOKIE_NAME in request.COOKIES


def csrf_cookie_digest(request: HttpRequest) -> str:
    """For cache keys: a page's forms carry a CSRF token tied to the browser's cookie."""
    cookie = request.COOKIES.get(settings.CSRF_COOKIE_NAME, "")
    return hashlib.sha256(cookie.encode()).hexdigest()[:16]
