"""A real clamd with a signature database written here (EICAR): infected refused, clean passes."""

import io
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from payments.models import Submission
from tests.factories import SubmissionFactory
from tests.verification.conftest import stored_files
from verification.exceptions import ProofRejected
from verification.models import PaymentProof
from verification.services import proof_submit

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"


def _ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(2)
            connection.connect(str(path))
            connection.sendall(b"zPING\0")
            return connection.recv(16).startswith(b"PONG")
    except OSError:
        return False


@pytest.fixture
def clamd_socket(tmp_path: Path) -> Iterator[Path]:
    database = tmp_path / "db"
    database.mkdir()
    # An extended (body) signature matching the EICAR string anywhere in the file.
    (database / "eicar.ndb").write_text(f"Gomflow-Test-EICAR:0:*:{EICAR.hex()}\n")
    socket_path = tmp_path / "clamd.sock"
    config = tmp_path / "clamd.conf"
    config.write_text(
        f"LocalSocket {socket_path}\nDatabaseDirectory {database}\nForeground yes\n"
        f"LogFile {tmp_path / 'clamd.log'}\nStreamMaxLength 20M\n"
    )
    process = subprocess.Popen(
        [CLAMD, "--config-file", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not _ping(socket_path):
            assert process.poll() is None, (tmp_path / "clamd.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "clamd did not start within 60 s"
            time.sleep(0.2)
        yield socket_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 80), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.django_db
def test_eicar_is_refused_and_a_clean_file_passes_with_a_real_clamd(
    clamd_socket: Path, settings: pytest.FixtureRequest, proof_root: Path
) -> None:
    settings.PROOF_CLAMD_SOCKET = str(clamd_socket)  # type: ignore[attr-defined]
    infected = SubmissionFactory()
    for name, data in (("eicar.png", _png() + EICAR), ("eicar.txt", EICAR)):
        with pytest.raises(ProofRejected) as refused:
            proof_submit(
                actor=infected.buyer,
                submission=infected,
                upload=io.BytesIO(data),
                original_name=name,
            )
        assert (name, refused.value.code) == (
            name,
            "infected" if name.endswith(".png") else "unsupported_type",
        )
    infected.refresh_from_db()
    assert infected.status == Submission.Status.PENDING_PAYMENT
    assert PaymentProof.objects.count() == 0
    assert stored_files(proof_root) == []

    clean = SubmissionFactory()
    proof = proof_submit(
        actor=clean.buyer, submission=clean, upload=io.BytesIO(_png()), original_name="ok.png"
    )
    assert proof.scan_status == "clean"
    assert len(stored_files(proof_root)) == 1


@pytest.mark.django_db
def test_without_a_scanner_the_proof_records_it_was_not_scanned() -> None:
    submission = SubmissionFactory()
    proof = proof_submit(
        actor=submission.buyer,
        submission=submission,
        upload=io.BytesIO(_png()),
        original_name="ok.png",
    )
    assert proof.scan_status == "not_scanned"


@pytest.mark.django_db
def test_configured_but_silent_scanner_refuses_with_503(
    settings: pytest.FixtureRequest, tmp_path: Path, proof_root: Path
) -> None:
    settings.PROOF_CLAMD_SOCKET = str(tmp_path / "nobody-listens.sock")  # type: ignore[attr-defined]
    submission = SubmissionFactory()
    with pytest.raises(ProofRejected) as refused:
        proof_submit(
            actor=submission.buyer,
            submission=submission,
            upload=io.BytesIO(_png()),
            original_name="ok.png",
        )
    assert (refused.value.code, refused.value.http_status) == ("scanner_unavailable", 503)
    assert PaymentProof.objects.count() == 0
    assert stored_files(proof_root) == []
