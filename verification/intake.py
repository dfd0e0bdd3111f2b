"""Checks and normalisation of an uploaded proof, before anything is stored.

Order matters for cost and for safety: size first (free), then the type sniffed from the bytes
(libmagic; the name and the client's content type are never trusted), then the virus scan, then
a decode with Pillow restricted to the one format that was sniffed, after checking the pixel
count in the header, so a decompression bomb is refused before a single pixel is decoded.
Images are re-encoded from their pixels: EXIF (GPS), trailing bytes and anything else a polyglot
hides are gone. PDFs cannot be re-encoded safely, so they are stored as sent and only ever served
as downloads.
"""

import contextlib
import hashlib
import io
import secrets
import unicodedata
import warnings
from dataclasses import dataclass

import magic
import numpy
import pillow_heif
import pypdfium2
from django.conf import settings
from django.utils import timezone
from PIL import Image, ImageFile, ImageOps

from verification import scanning
from verification.exceptions import ProofRejected, ScannerUnavailable
from verification.models import ScanStatus

pillow_heif.register_heif_opener()

# Sniffed MIME type → the only Pillow format allowed to open it (None: a PDF).
ALLOWED_TYPES: dict[str, str | None] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
    "application/pdf": None,
}
# Screenshots stay lossless; camera photos (JPEG, HEIC) are stored as JPEG.
_OUTPUT = {"PNG": ("PNG", "image/png", "png"), "WEBP": ("PNG", "image/png", "png")}
_PHOTO_OUTPUT = ("JPEG", "image/jpeg", "jpg")


@dataclass(frozen=True)
class PreparedProof:
    """What gets stored: the re-encoded bytes and the facts about the original upload."""

    data: bytes
    content_type: str
    extension: str
    original_type: str
    original_name: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    perceptual_hash: str
    scan_status: str

    def storage_name(self) -> str:
        # Random and meaningless: a name on disk tells nothing about the buyer or the order.
        now = timezone.now()
        return f"{now:%Y/%m}/{secrets.token_urlsafe(24)}.{self.extension}"


def clean_original_name(name: str) -> str:
    """Keep a display-only file name: no directories, no control characters, bounded length."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C"))
    printable = printable.strip().lstrip(".")
    return printable[:120] or "proof"


def sniff_type(data: bytes) -> str:
    return magic.from_buffer(data[: 256 * 1024], mime=True)


def difference_hash(image: Image.Image) -> str:
    """A 64-bit dHash: only a weak hint, receipts of one app differ by a couple of bits."""
    small = numpy.asarray(image.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=int)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return f"{int(''.join('1' if bit else '0' for bit in bits), 2):016x}"


def _to_storable_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: keep the top 8 bits rather than letting convert() clip to white.
        values = numpy.asarray(image.convert("I"), dtype=numpy.int64)
        top = values.max() if values.size else 0
        shift = 8 if top > 255 else 0
        return Image.fromarray((values >> shift).clip(0, 255).astype(numpy.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("RGB")


def decode_image(data: bytes, pillow_format: str) -> Image.Image:
    """Open and fully decode an image of one format, refusing bombs from the header alone."""
    # WeasyPrint (the receipts) turns this on for the whole process when it is imported; a
    # proof must decode completely, so it is switched back off before every decode.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            # Pillow warns (a RuntimeWarning) on big headers; our own limit below is stricter.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[pillow_format])
            width, height = image.size
            if width * height > settings.PROOF_MAX_PIXELS:
                raise ProofRejected(
                    "too_many_pixels",
                    f"The image is {width}x{height} pixels; at most "
                    f"{settings.PROOF_MAX_PIXELS:,} pixels are accepted.",
                )
            image.seek(0)  # an animation keeps its first frame only
            image.load()
    except Image.DecompressionBombError as error:
        raise ProofRejected(
            "too_many_pixels", "The image has far too many pixels to be a receipt."
        ) from error
    except ProofRejected:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, MemoryError) as error:
        raise ProofRejected(
            "unreadable_image", "The image is damaged or incomplete; take a new screenshot."
        ) from error
    return image


def _normalize_image(data: bytes, pillow_format: str) -> tuple[bytes, str, str, Image.Image]:
    image = decode_image(data, pillow_format)
    # An EXIF block too broken to read only loses its rotation hint.
    with contextlib.suppress(OSError, ValueError, SyntaxError, TypeError):
        image = ImageOps.exif_transpose(image) or image
    image = _to_storable_mode(image)
    output_format, content_type, extension = _OUTPUT.get(pillow_format, _PHOTO_OUTPUT)
    buffer = io.BytesIO()
    if output_format == "JPEG":
        image.save(buffer, "JPEG", quality=90, optimize=True)
    else:
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue(), content_type, extension, image


def check_pdf(data: bytes) -> None:
    """Accept only an unencrypted PDF of exactly one page that pdfium can open."""
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise ProofRejected(
            "unreadable_pdf", "The PDF is damaged or password-protected; upload a screenshot."
        ) from error
    try:
        pages = len(document)
    finally:
        document.close()
    if pages != 1:
        raise ProofRejected(
            "pdf_pages", f"The PDF has {pages} pages; upload a single-page receipt."
        )


def prepare_upload(data: bytes, *, original_name: str) -> PreparedProof:
    """Check, scan and re-encode an upload; raise ProofRejected with a clear message otherwise."""
    limit = settings.PROOF_MAX_BYTES
    if not data:
        raise ProofRejected("empty_file", "The file is empty.")
    if len(data) > limit:
        raise ProofRejected(
            "too_large",
            f"The file is larger than {limit / (1024 * 1024):g} MB.",
            http_status=413,
        )
    original_type = sniff_type(data)
    if original_type not in ALLOWED_TYPES:
        raise ProofRejected(
            "unsupported_type",
            "Upload a PNG, JPEG, WebP or HEIC image, or a one-page PDF "
            f"(this file is {original_type}).",
            http_status=415,
        )
    scan_status = ScanStatus.NOT_SCANNED
    if scanning.scanner_configured():
        try:
            result = scanning.scan_bytes(data)
        except ScannerUnavailable as error:
            raise ProofRejected(
                "scanner_unavailable",
                "The virus scanner is not available right now; try again in a few minutes.",
                http_status=503,
            ) from error
        if result.is_infected:
            raise ProofRejected("infected", "The file was refused by the virus scanner.")
        scan_status = ScanStatus.CLEAN
    pillow_format = ALLOWED_TYPES[original_type]
    if pillow_format is None:
        check_pdf(data)
        stored, content_type, extension = data, "application/pdf", "pdf"
        width = height = None
        perceptual_hash = ""
    else:
        stored, content_type, extension, image = _normalize_image(data, pillow_format)
        width, height = image.size
        perceptual_hash = difference_hash(image)
    return PreparedProof(
        data=stored,
        content_type=content_type,
        extension=extension,
        original_type=original_type,
        original_name=clean_original_name(original_name),
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        perceptual_hash=perceptual_hash,
        scan_status=scan_status,
    )
