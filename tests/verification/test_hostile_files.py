"""The hostile-file corpus: every case has one exact outcome, and a refusal leaves nothing."""

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from audit.models import AuditEvent
from payments.models import Submission
from tests.factories import SubmissionFactory
from tests.verification.conftest import stored_files
from verification.exceptions import ProofRejected
from verification.models import PaymentProof
from verification.services import proof_read_bytes, proof_submit

TEN_MB = 10 * 1024 * 1024


def _image(fmt: str, mode: str = "RGB", size: tuple[int, int] = (64, 96), **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "white" if mode in ("RGB", "RGBA", "L") else 0).save(buffer, fmt, **save)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_bomb(side: int = 12_000) -> bytes:
    """A real bomb: a valid greyscale PNG of side² zero pixels, a few hundred KB compressed."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (80, 120), "white")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (14.0, 35.0, 0.0), 3: "E", 4: (121.0, 0.0, 0.0)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _animated_webp() -> bytes:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def _pdf(pages: int = 1, javascript: bool = False) -> bytes:
    import pypdfium2

    document = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        document.new_page(300, 500)
    buffer = io.BytesIO()
    document.save(buffer)
    data = buffer.getvalue()
    if javascript:
        # An incremental-update style trailer payload: harmless to pdfium, but it is JavaScript.
        data += b"\n% /OpenAction << /S /JavaScript /JS (app.alert('x')) >>\n"
    return data


def _heic() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buffer, "HEIF", quality=50)
    return buffer.getvalue()


Check = Callable[[PaymentProof, bytes], None]


def _no_gps(proof: PaymentProof, stored: bytes) -> None:
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert not image.getexif().get_ifd(0x8825)
    assert b"PhoneMaker" not in stored


def _mode(expected: str, fmt: str) -> Check:
    def check(proof: PaymentProof, stored: bytes) -> None:
        image = Image.open(io.BytesIO(stored))
        assert (image.format, image.mode) == (fmt, expected)

    return check


def _single_frame(proof: PaymentProof, stored: bytes) -> None:
    image = Image.open(io.BytesIO(stored))
    assert (image.format, getattr(image, "n_frames", 1)) == ("PNG", 1)


def _lacks(marker: bytes) -> Check:
    def check(proof: PaymentProof, stored: bytes) -> None:
        assert marker not in stored
        assert Image.open(io.BytesIO(stored)).format in ("PNG", "JPEG")

    return check


def _stored_as_sent(original: bytes) -> Check:
    def check(proof: PaymentProof, stored: bytes) -> None:
        assert stored == original

    return check


def _name(expected: str) -> Check:
    def check(proof: PaymentProof, stored: bytes) -> None:
        assert proof.original_name == expected
        assert ".." not in proof.storage_name

    return check


_PDF_JS = _pdf(javascript=True)
_PNG = _image("PNG")

# (case id, file name, bytes, expected: ("rejected", code) or ("accepted", stored type, check))
CASES: list[tuple[str, str, bytes, tuple[object, ...]]] = [
    (
        "exe-as-png",
        "receipt.png",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
        + b"\0" * 48
        + b"PE\0\0"
        + b"\0" * 200,
        ("rejected", "unsupported_type"),
    ),
    (
        "elf-as-png",
        "receipt.png",
        b"\x7fELF\x02\x01\x01\x00" + b"\0" * 8 + b"\x02\x00\x3e\x00" + b"\0" * 300,
        ("rejected", "unsupported_type"),
    ),
    (
        "html-as-jpg",
        "receipt.jpg",
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        ("rejected", "unsupported_type"),
    ),
    (
        "svg-as-jpg",
        "receipt.jpg",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>',
        ("rejected", "unsupported_type"),
    ),
    (
        "zip-as-pdf",
        "receipt.pdf",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\0" * 20 + b"receipt.png" + b"\0" * 100,
        ("rejected", "unsupported_type"),
    ),
    ("gif", "receipt.gif", _image("GIF", "P"), ("rejected", "unsupported_type")),
    ("tiff", "receipt.tif", _image("TIFF"), ("rejected", "unsupported_type")),
    ("bmp", "receipt.bmp", _image("BMP"), ("rejected", "unsupported_type")),
    (
        "plain-text",
        "receipt.txt",
        b"GCash Ref No. 7037 651 006674 Amount 320.00",
        ("rejected", "unsupported_type"),
    ),
    ("empty", "receipt.png", b"", ("rejected", "empty_file")),
    (
        "ten-mb-plus-one",
        "receipt.png",
        _PNG + b"\0" * (TEN_MB + 1 - len(_PNG)),
        ("rejected", "too_large"),
    ),
    ("decompression-bomb", "receipt.png", _png_bomb(), ("rejected", "too_many_pixels")),
    (
        "huge-jpeg-header",
        "receipt.jpg",
        _image("JPEG", size=(8, 8)).replace(
            b"\xff\xc0\x00\x11\x08\x00\x08\x00\x08", b"\xff\xc0\x00\x11\x08\xff\xf0\xff\xf0"
        ),
        ("rejected", "too_many_pixels"),
    ),
    (
        "truncated-png",
        "receipt.png",
        _image("PNG", size=(400, 400), compress_level=0)[:5000],
        ("rejected", "unreadable_image"),
    ),
    (
        "truncated-jpeg",
        "receipt.jpg",
        _image("JPEG", size=(400, 400))[:400],
        ("rejected", "unreadable_image"),
    ),
    (
        "png-bad-crc",
        "receipt.png",
        _PNG[:29] + b"\0\0\0\0" + _PNG[33:],
        ("rejected", "unreadable_image"),
    ),
    ("pdf-two-pages", "receipt.pdf", _pdf(pages=2), ("rejected", "pdf_pages")),
    (
        "pdf-garbage",
        "receipt.pdf",
        b"%PDF-1.7\n" + b"\x00garbage" * 50,
        ("rejected", "unreadable_pdf"),
    ),
    (
        "png-with-html-appended",
        "receipt.png",
        _PNG + b"<html><script>alert(1)</script></html>",
        ("accepted", "image/png", _lacks(b"<script>")),
    ),
    (
        "jpeg-with-zip-appended",
        "receipt.jpg",
        _image("JPEG") + b"PK\x03\x04polyglot-payload",
        ("accepted", "image/jpeg", _lacks(b"PK\x03\x04")),
    ),
    ("jpeg-with-gps-exif", "IMG_0001.jpg", _jpeg_with_gps(), ("accepted", "image/jpeg", _no_gps)),
    (
        "cmyk-jpeg",
        "scan.jpg",
        _image("JPEG", "CMYK"),
        ("accepted", "image/jpeg", _mode("RGB", "JPEG")),
    ),
    ("16-bit-png", "deep.png", _image("PNG", "I;16"), ("accepted", "image/png", _mode("L", "PNG"))),
    (
        "rgba-png",
        "alpha.png",
        _image("PNG", "RGBA"),
        ("accepted", "image/png", _mode("RGB", "PNG")),
    ),
    ("animated-webp", "anim.webp", _animated_webp(), ("accepted", "image/png", _single_frame)),
    ("heic-photo", "IMG_0002.HEIC", _heic(), ("accepted", "image/jpeg", _mode("RGB", "JPEG"))),
    (
        "pdf-with-javascript",
        "receipt.pdf",
        _PDF_JS,
        ("accepted", "application/pdf", _stored_as_sent(_PDF_JS)),
    ),
    (
        "path-traversal-name",
        "../../etc/\x00pass\x1b[31mwd\r\n.png",
        _PNG,
        ("accepted", "image/png", _name("pass[31mwd.png")),
    ),
    (
        "windows-path-name",
        "C:\\Users\\me\\..\\receipt.png",
        _PNG,
        ("accepted", "image/png", _name("receipt.png")),
    ),
]


def test_corpus_has_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_hostile_file_has_its_exact_outcome(
    name: str, data: bytes, expected: tuple[object, ...], proof_root: Path
) -> None:
    submission = SubmissionFactory()
    events_before = AuditEvent.objects.count()
    if expected[0] == "rejected":
        with pytest.raises(ProofRejected) as refused:
            proof_submit(
                actor=submission.buyer,
                submission=submission,
                upload=io.BytesIO(data),
                original_name=name,
            )
        assert refused.value.code == expected[1]
        submission.refresh_from_db()
        assert submission.status == Submission.Status.PENDING_PAYMENT
        assert PaymentProof.objects.count() == 0
        assert stored_files(proof_root) == []
        assert AuditEvent.objects.count() == events_before
        return
    proof = proof_submit(
        actor=submission.buyer, submission=submission, upload=io.BytesIO(data), original_name=name
    )
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PROOF_SUBMITTED
    assert PaymentProof.objects.count() == 1
    assert len(stored_files(proof_root)) == 1
    assert proof.content_type == expected[1]
    assert proof.size_bytes == len(data)
    check = expected[2]
    check(proof, proof_read_bytes(proof))  # type: ignore[operator]
