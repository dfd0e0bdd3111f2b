"""Fixtures of the verification tests: a private proof storage per test and a clean rate limit."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache


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


@pytest.fixture(autouse=True)
def _clean_rate_limit() -> None:
    cache.clear()


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())
