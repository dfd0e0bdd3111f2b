"""Fixtures of the verification tests: a private proof storage per test and a clean rate limit."""

from pathlib import Path

import pytest
from django.core.cache import cache

from tests.proof_storage import private_proof_storage


@pytest.fixture(autouse=True)
def proof_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    settings.PROOF_ENCRYPTION_KEYS = []  # type: ignore[attr-defined]
    return private_proof_storage(settings, tmp_path)


@pytest.fixture(autouse=True)
def _clean_rate_limit() -> None:
    cache.clear()


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())
