"""Fetching the earlier platform's proof files, before any import transaction opens.

Every file goes through the same checks as a buyer's upload (size, sniffed type, virus scan,
re-encoding: ``verification.intake.prepare_upload``), so an imported proof is stored exactly like
one uploaded here: encrypted, under a random name. A file that cannot be fetched or fails the
checks is "missing": the proof's verification decision is still imported, with the reason.
"""

import posixpath
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from verification.exceptions import ProofRejected
from verification.intake import PreparedProof, prepare_upload

DEFAULT_TIMEOUT_SECONDS = 10.0
FETCH_WORKERS = 4


@dataclass(frozen=True)
class FetchedFile:
    """A proof file ready to be stored, or why there is none (``problem``)."""

    prepared: PreparedProof | None
    problem: str = ""


def _name_of(row: dict[str, Any], url: str) -> str:
    return str(row.get("file_name") or "") or posixpath.basename(urlsplit(url).path) or "proof"


def fetch_one(row: dict[str, Any], *, timeout: float) -> FetchedFile:
    """Download one proof's ``file_url`` and check it; never raises for a bad file or URL."""
    url = str(row.get("file_url") or "").strip()
    if not url:
        return FetchedFile(None, "the proof has no file URL")
    if urlsplit(url).scheme not in ("http", "https"):
        return FetchedFile(None, f"the file URL {url!r} is not http(s)")
    # The scheme is checked just above: only http(s), never file: or ftp:.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": "GOMFlow legacy import"}
    )
    limit = settings.PROOF_MAX_BYTES
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            # One byte past the limit tells "too large" without reading whatever is served.
            data = response.read(limit + 1)
    except urllib.error.HTTPError as error:
        return FetchedFile(None, f"the file at {url} answered HTTP {error.code}")
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return FetchedFile(None, f"the file at {url} is unreachable ({reason})")
    try:
        return FetchedFile(prepare_upload(data, original_name=_name_of(row, url)))
    except ProofRejected as error:
        return FetchedFile(None, f"the file at {url} was refused: {error.message}")


def fetch_proof_files(
    rows: Iterable[dict[str, Any]],
    *,
    skip: set[str],
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    workers: int = FETCH_WORKERS,
) -> dict[str, FetchedFile]:
    """Fetch the file of every proof row whose id is not in ``skip`` (already imported).

    A few downloads run at once, so one slow host costs its timeout once, not once per file.
    """
    wanted = [row for row in rows if str(row["id"]) not in skip]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda row: fetch_one(row, timeout=timeout), wanted)
        return {str(row["id"]): result for row, result in zip(wanted, results, strict=True)}
