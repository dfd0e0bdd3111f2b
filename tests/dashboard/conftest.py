"""Dashboard fixtures: proof storage per test (from the verification tests) and a verifier."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.dashboard.helpers import make_verifier


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
    settings.PROOF_ENCRYPTION_KEYS = []  # type: ignore[attr-defined]
    return root


@pytest.fixture
def verifier(personas):  # type: ignore[no-untyped-def]
    """An assistant granted verify rights on the owner's order."""
    return make_verifier(personas)
