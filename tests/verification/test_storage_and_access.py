"""Encryption at rest, key rotation, who may see a proof, the API and the upload page."""

import base64
import io
import os
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image

from audit.models import AuditEvent
from payments.models import Submission
from tests.factories import StaffFactory, SubmissionFactory, UserFactory
from tests.verification.conftest import stored_files
from verification.exceptions import ProofRejected
from verification.models import PaymentProof
from verification.services import proof_read_bytes, proof_submit
from verification.storage import ProofDecryptionError, decrypt_bytes, key_id_of


def _png(colour: str = "white", size: tuple[int, int] = (60, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def _upload(submission: Submission, data: bytes, name: str = "proof.png") -> PaymentProof:
    return proof_submit(
        actor=submission.buyer, submission=submission, upload=io.BytesIO(data), original_name=name
    )


@pytest.mark.django_db
def test_stored_bytes_are_not_the_plaintext_and_decrypt_back_exactly(
    proof_root: Path, settings: pytest.FixtureRequest
) -> None:
    settings.PROOF_ENCRYPTION_KEYS = [_key("2026a")]  # type: ignore[attr-defined]
    proof = _upload(SubmissionFactory(), _png("red"))
    plaintext = proof_read_bytes(proof)
    on_disk = stored_files(proof_root)[0].read_bytes()
    assert plaintext.startswith(b"\x89PNG")
    assert plaintext not in on_disk
    assert b"PNG" not in on_disk[:64]
    assert key_id_of(on_disk) == "2026a"
    assert decrypt_bytes(on_disk) == plaintext
    assert len(on_disk) == len(plaintext) + 4 + 1 + len("2026a") + 12 + 16


@pytest.mark.django_db
def test_rotating_the_key_keeps_old_proofs_readable(
    proof_root: Path, settings: pytest.FixtureRequest
) -> None:
    old_key, new_key = _key("old"), _key("new")
    settings.PROOF_ENCRYPTION_KEYS = [old_key]  # type: ignore[attr-defined]
    old_proof = _upload(SubmissionFactory(), _png("red"))
    old_plaintext = proof_read_bytes(old_proof)
    settings.PROOF_ENCRYPTION_KEYS = [new_key, old_key]  # type: ignore[attr-defined]
    new_proof = _upload(SubmissionFactory(), _png("blue"))
    files = {path.name: path.read_bytes() for path in stored_files(proof_root)}
    assert key_id_of(files[Path(old_proof.storage_name).name]) == "old"
    assert key_id_of(files[Path(new_proof.storage_name).name]) == "new"
    assert proof_read_bytes(old_proof) == old_plaintext
    # Dropping the old key from the ring makes its proofs unreadable: it must stay until re-keyed.
    settings.PROOF_ENCRYPTION_KEYS = [new_key]  # type: ignore[attr-defined]
    with pytest.raises(ProofDecryptionError):
        proof_read_bytes(old_proof)


@pytest.mark.django_db
def test_tampered_ciphertext_is_refused(proof_root: Path) -> None:
    proof = _upload(SubmissionFactory(), _png())
    path = stored_files(proof_root)[0]
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(ProofDecryptionError):
        proof_read_bytes(proof)


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("buyer", 200),
        ("owner", 200),
        ("assistant", 200),
        ("finance", 200),
        ("superuser", 200),
        ("other_gom", 404),
        ("other_buyer", 404),
        ("unrelated_staff", 404),
    ],
)
def test_proof_view_serves_only_those_allowed_and_audits_each_view(
    personas: object, persona: str, status: int
) -> None:
    proof = _upload(personas.submission, _png("green"))  # type: ignore[attr-defined]
    users = {
        "superuser": StaffFactory(is_superuser=True),
        "other_buyer": UserFactory(),
        "unrelated_staff": StaffFactory(),
    }
    user = users.get(persona) or getattr(personas, persona)
    viewed_before = AuditEvent.objects.filter(action="proof.viewed").count()
    response = _client(user).get(f"/proofs/{proof.pk}/file/")
    assert response.status_code == status
    events = AuditEvent.objects.filter(action="proof.viewed")
    if status == 404:
        assert events.count() == viewed_before
        return
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == proof_read_bytes(proof)
    assert events.count() == viewed_before + 1
    event = events.first()
    assert (event.actor_id, event.object_id) == (user.pk, str(proof.pk))


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login_and_nothing_is_audited(personas: object) -> None:
    proof = _upload(personas.submission, _png())  # type: ignore[attr-defined]
    response = Client().get(f"/proofs/{proof.pk}/file/")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="proof.viewed").count() == 0


@pytest.mark.django_db
def test_missing_proof_is_404(personas: object) -> None:
    assert _client(personas.owner).get("/proofs/999999/file/").status_code == 404  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_pdf_proof_downloads_as_attachment(personas: object) -> None:
    import pypdfium2

    document = pypdfium2.PdfDocument.new()
    document.new_page(300, 500)
    buffer = io.BytesIO()
    document.save(buffer)
    proof = _upload(personas.submission, buffer.getvalue(), "receipt.pdf")  # type: ignore[attr-defined]
    response = _client(personas.owner).get(f"/proofs/{proof.pk}/file/")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="proof-{proof.pk}.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_api_put_accepts_a_proof_and_moves_the_submission(
    personas: object, proof_root: Path
) -> None:
    submission = personas.submission  # type: ignore[attr-defined]
    response = _client(personas.buyer).put(  # type: ignore[attr-defined]
        f"/api/submissions/{submission.pk}/payment-proof",
        data=_multipart(_png(), "proof.png"),
        content_type="multipart/form-data; boundary=XyZ",
    )
    assert response.status_code == 201
    body = response.json()
    proof = PaymentProof.objects.get()
    assert body["id"] == proof.pk
    assert (body["content_type"], body["scan_status"]) == ("image/png", "not_scanned")
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PROOF_SUBMITTED
    assert AuditEvent.objects.filter(action="proof.uploaded", object_id=str(proof.pk)).count() == 1
    assert len(stored_files(proof_root)) == 1


def _multipart(data: bytes, name: str) -> bytes:
    return (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: image/png\r\n\r\n'
        + data
        + b"\r\n--XyZ--\r\n"
    )


@pytest.mark.django_db
def test_api_refusal_is_json_with_a_code_and_leaves_nothing(
    personas: object, proof_root: Path
) -> None:
    submission = personas.submission  # type: ignore[attr-defined]
    response = _client(personas.buyer).put(  # type: ignore[attr-defined]
        f"/api/submissions/{submission.pk}/payment-proof",
        data=_multipart(b"<html><script>alert(1)</script></html>", "proof.png"),
        content_type="multipart/form-data; boundary=XyZ",
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_type"
    assert PaymentProof.objects.count() == 0
    assert stored_files(proof_root) == []
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PENDING_PAYMENT


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["owner", "other_gom", "finance"])
def test_api_upload_to_someone_elses_submission_is_404(personas: object, persona: str) -> None:
    submission = personas.submission  # type: ignore[attr-defined]
    response = _client(getattr(personas, persona)).put(
        f"/api/submissions/{submission.pk}/payment-proof",
        data=_multipart(_png(), "proof.png"),
        content_type="multipart/form-data; boundary=XyZ",
    )
    assert response.status_code == 404
    assert PaymentProof.objects.count() == 0


@pytest.mark.django_db
def test_reupload_after_rejection_adds_a_proof_and_keeps_history(personas: object) -> None:
    from payments.services import submission_transition

    submission = personas.submission  # type: ignore[attr-defined]
    first = _upload(submission, _png("red"))
    submission.refresh_from_db()
    submission_transition(
        actor=personas.owner,
        submission=submission,
        target=Submission.Status.REJECTED,  # type: ignore[attr-defined]
    )
    submission.refresh_from_db()
    second = _upload(submission, _png("blue"))
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PROOF_SUBMITTED
    assert list(submission.proofs.order_by("id").values_list("pk", flat=True)) == [
        first.pk,
        second.pk,
    ]
    page = _client(personas.buyer).get(f"/orders/{submission.code}/proof/")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert page.content.decode().count("/file/") == 2


@pytest.mark.django_db
def test_second_upload_while_under_review_is_refused(personas: object) -> None:
    submission = personas.submission  # type: ignore[attr-defined]
    _upload(submission, _png("red"))
    submission.refresh_from_db()
    with pytest.raises(ProofRejected) as refused:
        _upload(submission, _png("blue"))
    assert refused.value.code == "not_accepting_proofs"
    assert PaymentProof.objects.count() == 1


@pytest.mark.django_db
def test_upload_page_shows_a_form_error_and_stores_nothing(
    personas: object, proof_root: Path
) -> None:
    submission = personas.submission  # type: ignore[attr-defined]
    client = _client(personas.buyer)  # type: ignore[attr-defined]
    upload = io.BytesIO(b"MZ\x90\x00" + b"\0" * 100)
    upload.name = "receipt.png"
    response = client.post(f"/orders/{submission.code}/proof/", {"file": upload})
    assert response.status_code == 415
    assert "Upload a PNG, JPEG, WebP or HEIC image" in response.content.decode()
    assert PaymentProof.objects.count() == 0
    assert stored_files(proof_root) == []


@pytest.mark.django_db
def test_upload_page_accepts_a_proof_and_redirects(personas: object) -> None:
    submission = personas.submission  # type: ignore[attr-defined]
    upload = io.BytesIO(_png())
    upload.name = "receipt.png"
    response = _client(personas.buyer).post(f"/orders/{submission.code}/proof/", {"file": upload})  # type: ignore[attr-defined]
    assert response.status_code == 302
    assert PaymentProof.objects.filter(submission=submission).count() == 1


@pytest.mark.django_db
def test_other_buyer_cannot_open_the_upload_page(personas: object) -> None:
    code = personas.submission.code  # type: ignore[attr-defined]
    assert _client(UserFactory()).get(f"/orders/{code}/proof/").status_code == 404


@pytest.mark.django_db
def test_rate_limit_stops_an_upload_flood(
    settings: pytest.FixtureRequest, proof_root: Path
) -> None:
    settings.PROOF_UPLOAD_RATE_LIMIT = 3  # type: ignore[attr-defined]
    submission = SubmissionFactory()
    codes = []
    for _ in range(4):
        try:
            _upload(submission, b"not an image")
        except Exception as error:
            codes.append(getattr(error, "code", ""))
    assert codes == ["unsupported_type", "unsupported_type", "unsupported_type", "rate_limited"]
    assert PaymentProof.objects.count() == 0
    assert stored_files(proof_root) == []
