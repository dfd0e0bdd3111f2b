from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.legacy.legacy_database import write_legacy_database
from tests.legacy.proof_server import ProofServer, proof_server
from tests.proof_storage import private_proof_storage
from tests.safety.databases import throwaway_database


@pytest.fixture(scope="module")
def proof_files() -> Iterator[ProofServer]:
    """The earlier platform's file host: a local HTTP server, stopped after the module."""
    with proof_server() as server:
        yield server


@pytest.fixture(scope="module")
def legacy_source(proof_files: ProofServer) -> Iterator[str]:
    """A PostgreSQL database with the earlier GOMFLOW schema and messy data; its URL."""
    with throwaway_database("legacy") as url:
        write_legacy_database(url, proof_files.base_url)
        yield url


@pytest.fixture(autouse=True)
def proof_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return private_proof_storage(settings, tmp_path)


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())
