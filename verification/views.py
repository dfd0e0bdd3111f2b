"""The buyer's minimal proof upload page, and the one view that serves proof files."""

import io

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from PIL import Image

from payments.selectors import submission_get_for_buyer
from verification.exceptions import ProofRejected
from verification.models import PaymentProof
from verification.selectors import proof_get_for_user, proof_list_for_submission
from verification.services import (
    ACCEPTS_PROOF,
    proof_read_bytes,
    proof_record_view,
    proof_submit,
    proof_thumbnail_cache_key,
)


class ProofUploadForm(forms.Form):
    file = forms.FileField(
        label="Screenshot or PDF of your payment",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/webp,image/heic,application/pdf"}
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def proof_upload(request: HttpRequest, code: str) -> HttpResponse:
    submission = submission_get_for_buyer(request.user, code)
    form = ProofUploadForm(request.POST or None, request.FILES or None)
    status_code = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            proof_submit(
                actor=request.user, submission=submission, upload=upload, original_name=upload.name
            )
        except ProofRejected as rejection:
            form.add_error("file", rejection.message)
            status_code = rejection.http_status
        else:
            return redirect("verification:proof-upload", code=submission.code)
    elif request.method == "POST":
        status_code = 400
    submission.refresh_from_db()
    return render(
        request,
        "verification/proof_upload.html",
        {
            "submission": submission,
            "form": form,
            "proofs": proof_list_for_submission(submission),
            "accepts_proof": submission.status in ACCEPTS_PROOF,
        },
        status=status_code,
    )


@login_required
def proof_file(request: HttpRequest, pk: int) -> HttpResponse:
    """Serve a proof to those allowed (404 to everyone else), recording each view."""
    proof = proof_get_for_user(request.user, pk)
    if proof.is_file_purged:
        return _gone(proof)
    data = proof_read_bytes(proof)
    proof_record_view(actor=request.user, proof=proof)
    response = HttpResponse(data, content_type=proof.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # Nothing a proof contains may run in our origin, even if a browser renders it.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    extension = "pdf" if proof.is_pdf else proof.storage_name.rsplit(".", 1)[-1]
    disposition = "attachment" if proof.is_pdf else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="proof-{proof.pk}.{extension}"'
    return response


THUMBNAIL_BOX = (96, 128)
THUMBNAIL_CACHE_SECONDS = 24 * 3600
_PDF_THUMBNAIL = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="96" height="128" viewBox="0 0 96 128">'
    b'<rect width="96" height="128" fill="#eee"/><text x="48" y="70" font-size="20" '
    b'text-anchor="middle" fill="#555">PDF</text></svg>'
)


# Shown in the queue in place of a proof whose file was deleted (retention or erasure).
_DELETED_THUMBNAIL = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="96" height="128" viewBox="0 0 96 128">'
    b'<rect width="96" height="128" fill="#eee"/><text x="48" y="70" font-size="13" '
    b'text-anchor="middle" fill="#555">Deleted</text></svg>'
)


def _gone(proof: PaymentProof) -> HttpResponse:
    # 410, not 404: the proof exists and the caller may see it, but its file is gone for good.
    response = HttpResponse(
        proof.purge_notice, content_type="text/plain; charset=utf-8", status=410
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _thumbnail_bytes(proof: PaymentProof) -> tuple[bytes, str]:
    if proof.is_pdf:
        return _PDF_THUMBNAIL, "image/svg+xml"
    key = proof_thumbnail_cache_key(proof.pk, proof.sha256)
    cached = cache.get(key)
    if cached is None:
        # Decrypt and shrink once; the stored proof never changes, so the cache never goes stale.
        with Image.open(io.BytesIO(proof_read_bytes(proof))) as image:
            image.thumbnail(THUMBNAIL_BOX)
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=70)
        cached = out.getvalue()
        cache.set(key, cached, THUMBNAIL_CACHE_SECONDS)
    return cached, "image/jpeg"


@login_required
def proof_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    """A small picture of a proof for the queue, to the same people as the proof itself.

    Not audited like a full view: it is too small to read a reference or an amount from, and a
    queue page shows a hundred of them.
    """
    proof = proof_get_for_user(request.user, pk)
    if proof.is_file_purged:
        response = HttpResponse(_DELETED_THUMBNAIL, content_type="image/svg+xml", status=410)
        response["X-Content-Type-Options"] = "nosniff"
        return response
    data, content_type = _thumbnail_bytes(proof)
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response
