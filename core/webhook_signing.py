"""Standard Webhooks signatures (https://www.standardwebhooks.com), both ways.

Outgoing deliveries carry ``webhook-id`` (stable across retries), ``webhook-timestamp`` and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per
active secret so receivers keep verifying while a secret rotates. Incoming webhooks are checked
by ``verify``: a timestamp within the tolerance in both directions, a constant-time compare
against any of several secrets, and, through ``verify_once``, replays of a seen id ignored.
"""

import base64
import hashlib
import hmac
import secrets as random_secrets
import time
from collections.abc import Mapping, Sequence

from django.core.cache import cache

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """The webhook is not authentic or not fresh; the message says which."""


def generate_secret() -> str:
    """Return a new random secret in the ``whsec_<base64>`` form receivers expect."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as error:
        raise WebhookVerificationError("the webhook secret is not valid base64") from error


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Return one ``v1,<signature>`` for the message under one secret."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def delivery_headers(
    *, secrets: Sequence[str], message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """Return the three headers of an outgoing delivery, signed with every active secret."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign a webhook")
    stamp = int(time.time()) if timestamp is None else timestamp
    signatures = " ".join(
        sign(secret=secret, message_id=message_id, timestamp=stamp, body=body) for secret in secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signatures,
    }


def verify(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check an incoming webhook and return its id, or raise ``WebhookVerificationError``."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    signature_header = lowered.get("webhook-signature", "")
    if not (message_id and raw_timestamp and signature_header):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a whole number") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is too old")
    if timestamp > current + tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is in the future")
    offered = [part.split(",", 1)[1] for part in signature_header.split() if part.startswith("v1,")]
    for secret in secrets:
        expected = sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body)[3:]
        # Compare against every offered signature without stopping early on a mismatch.
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return message_id
    raise WebhookVerificationError("no signature matches")


def verify_once(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    source: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> tuple[str, bool]:
    """Verify, then remember the id; return (id, is_first_time). A replay returns False.

    Ids are remembered for twice the tolerance: anything older is refused by its timestamp anyway.
    ``cache.add`` is atomic in Redis, so two copies arriving at once are told apart too.
    """
    message_id = verify(
        headers=headers, body=body, secrets=secrets, tolerance_seconds=tolerance_seconds
    )
    digest = hashlib.sha256(message_id.encode()).hexdigest()
    is_first = cache.add(f"webhook-seen:{source}:{digest}", 1, timeout=2 * tolerance_seconds)
    return message_id, bool(is_first)
