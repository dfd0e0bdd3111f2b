"""Refuse webhook URLs that point into our own network (SSRF), unless a setting allows it."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeDestination(ValueError):
    """The URL cannot be used for webhooks; the message says why."""


def check_destination(url: str) -> None:
    """Raise UnsafeDestination unless ``url`` is http(s) to public addresses only.

    Checked when an endpoint is saved and again before every delivery, since DNS can change.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeDestination("Use an http:// or https:// URL with a host name.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise UnsafeDestination(f"The host {parts.hostname} does not resolve.") from error
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        return
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UnsafeDestination(
                f"{parts.hostname} points at {address}, a private or local address; webhooks "
                "only go to public addresses."
            )
