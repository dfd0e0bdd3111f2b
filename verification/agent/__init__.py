"""The smart agent: reads a payment proof and suggests what the human verifying it should do.

``read_proof`` turns stored proof bytes into a ``Reading`` (OCR + extraction); ``score.assess``
cross-checks it against the submission. Neither touches the database.
"""

import io
import time

import pypdfium2
from PIL import Image

from verification.agent import ocr
from verification.agent.extract import Reading, extract
from verification.agent.ocr import OcrFailed, OcrUnavailable

__all__ = ["OcrFailed", "OcrUnavailable", "Reading", "read_proof", "render_pdf_first_page"]

# A PDF page is rendered at most this big: a huge MediaBox must not become a huge bitmap.
_PDF_MAX_SIDE = 2400


def render_pdf_first_page(data: bytes) -> Image.Image:
    document = pypdfium2.PdfDocument(data)
    try:
        page = document[0]
        width, height = page.get_size()
        scale = min(3.0, _PDF_MAX_SIDE / max(width, height, 1))
        return page.render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def read_proof(
    data: bytes, content_type: str, *, time_limit_seconds: float, hint_provider: str = ""
) -> Reading:
    """OCR a proof (image bytes, or a PDF's first page) and extract what it says.

    Raises OcrUnavailable when Tesseract is missing, OcrFailed when it fails or the time limit
    runs out.
    """
    started = time.monotonic()
    if content_type == "application/pdf":
        try:
            image = render_pdf_first_page(data)
        except pypdfium2.PdfiumError as error:
            raise OcrFailed(f"the PDF could not be rendered: {error}") from error
    else:
        image = Image.open(io.BytesIO(data))
        image.load()
    result = ocr.read_text(image, timeout_seconds=time_limit_seconds)

    def reread(line: ocr.OcrLine) -> str:
        remaining = time_limit_seconds - (time.monotonic() - started)
        if remaining < 1:
            return ""
        return ocr.reread_line(result, line, timeout_seconds=min(5.0, remaining))

    return extract(result, hint_provider=hint_provider, reread=reread)
