"""System checks: a broken key ring fails loudly; the development key is flagged for deploys."""

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from verification.storage import KeyRing


@checks.register(checks.Tags.security)
def check_proof_key_ring(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        KeyRing.from_settings()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="verification.E001")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_proof_keys_are_explicit(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if settings.PROOF_ENCRYPTION_KEYS:
        return []
    return [
        checks.Warning(
            "Payment proofs are encrypted with a key derived from SECRET_KEY.",
            hint="Set PROOF_ENCRYPTION_KEYS ('key-id:base64 of 32 bytes', newest first) so "
            "rotating SECRET_KEY never makes stored proofs unreadable.",
            id="verification.W001",
        )
    ]
