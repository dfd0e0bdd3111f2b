"""A private proof storage per test, as in the verification tests."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings


@pytest.fixture(autouse=True)
def proof_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = tmp_path / "proofs"
    root.mkdir()
    settings.STORAGES = {  # type: ignore[attr-defined]
        **django_settings.STORAGES,
        "proofs": {
            "BACKEND": "verification.storage.EncryptedStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    settings.PROOF_CLAMD_SOCKET = ""  # type: ignore[attr-defined]
    settings.PROOF_ENCRYPTION_KEYS = []  # type: ignore[attr-defined]
    return root
