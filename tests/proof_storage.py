"""A proof storage of the test's own, so a test can see exactly which files exist."""

from pathlib import Path
from typing import Any

from django.conf import settings as django_settings


def private_proof_storage(settings: Any, tmp_path: Path) -> Path:
    """Point the proofs storage at a fresh folder (no virus scanner) and return the folder."""
    root = tmp_path / "proofs"
    root.mkdir()
    settings.STORAGES = {
        **django_settings.STORAGES,
        "proofs": {
            "BACKEND": "verification.storage.EncryptedStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    settings.PROOF_CLAMD_SOCKET = ""
    return root
