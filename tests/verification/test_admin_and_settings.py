"""The proof admin's scoping, the key-ring checks and the S3 settings of the proof storage."""

import io

import pytest
from django.core.checks import run_checks
from django.test import Client
from PIL import Image

from tests.factories import SubmissionFactory
from verification.services import proof_submit
from verification.storage import EncryptedStorage


def _proof(submission: object) -> object:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 60), "white").save(buffer, "PNG")
    return proof_submit(
        actor=submission.buyer,  # type: ignore[attr-defined]
        submission=submission,  # type: ignore[arg-type]
        upload=io.BytesIO(buffer.getvalue()),
        original_name="r.png",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status", "listed"),
    [("owner", 200, 1), ("assistant", 200, 1), ("finance", 200, 2), ("other_gom", 404, 1)],
)
def test_proof_admin_shows_each_staff_member_only_their_scope(
    personas: object, persona: str, status: int, listed: int
) -> None:
    mine = _proof(personas.submission)  # type: ignore[attr-defined]
    theirs = _proof(personas.other_submission)  # type: ignore[attr-defined]
    client = Client()
    client.force_login(getattr(personas, persona))
    change = client.get(f"/admin/verification/paymentproof/{mine.pk}/change/")  # type: ignore[attr-defined]
    assert change.status_code == status
    listing = client.get("/admin/verification/paymentproof/")
    assert listing.status_code == 200
    body = listing.content.decode()
    shown = [
        proof
        for proof in (mine, theirs)
        if f"/admin/verification/paymentproof/{proof.pk}/change/" in body
    ]  # type: ignore[attr-defined]
    assert len(shown) == listed


def test_a_malformed_key_ring_fails_the_system_check(settings: pytest.FixtureRequest) -> None:
    settings.PROOF_ENCRYPTION_KEYS = ["k1:not-base64!"]  # type: ignore[attr-defined]
    assert "verification.E001" in [message.id for message in run_checks()]


def test_deploy_check_warns_about_the_derived_development_key(
    settings: pytest.FixtureRequest,
) -> None:
    settings.PROOF_ENCRYPTION_KEYS = []  # type: ignore[attr-defined]
    assert "verification.W001" in [
        message.id for message in run_checks(include_deployment_checks=True)
    ]


def test_with_s3_the_proofs_go_private_with_server_side_encryption(
    settings: pytest.FixtureRequest,
) -> None:
    settings.AWS_STORAGE_BUCKET_NAME = "gomflow-test"  # type: ignore[attr-defined]
    settings.STORAGES = {  # type: ignore[attr-defined]
        **settings.STORAGES,  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "gomflow-test", "region_name": "ap-southeast-1"},
        },
    }
    inner = EncryptedStorage().inner
    assert type(inner).__name__ == "S3Storage"
    assert (inner.location, inner.default_acl, inner.querystring_auth) == (
        "proofs",
        "private",
        True,
    )
    assert inner.object_parameters == {"ServerSideEncryption": "AES256"}


@pytest.mark.django_db
def test_proofs_have_no_public_url() -> None:
    from verification.storage import NoPublicUrl

    proof = _proof(SubmissionFactory())
    with pytest.raises(NoPublicUrl):
        EncryptedStorage().url(proof.storage_name)  # type: ignore[attr-defined]
