"""Image preparation and Tesseract OCR.

Tesseract reads dark text on a light, level page best. Receipts are not that: coloured headers
carry white text, photos are tilted, downscaled screenshots have tiny glyphs. So before OCR the
image is turned grey, bands with a dark background are inverted, small images are scaled up to a
readable glyph size, and the skew is measured with a projection profile (the angle at which text
rows give the sharpest row-sum peaks) and undone: past about 5 degrees Tesseract loses lines.
"""

import os
from dataclasses import dataclass, field

import numpy
from PIL import Image, ImageFilter, ImageOps

# One OpenMP thread per Tesseract process: on a shared 2-core machine it is 2-3x faster than
# letting each process fight for every core.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pytesseract

# Width the page is brought to before OCR. Measured on the generated corpus: at 800 px the
# value glyphs sit where the LSTM reads best (fewer 9/S and 0/O slips than at 1080), and faster.
_TARGET_WIDTH = 800
_MAX_SKEW_DEGREES = 8.0
# Without inversion attempts Tesseract does one pass per line; we invert dark bands ourselves.
_TESSERACT_CONFIG = "--oem 1 --psm 6 -c tessedit_do_invert=0 -c preserve_interword_spaces=1"


class OcrUnavailable(Exception):
    """Tesseract is not installed or could not be started."""


class OcrFailed(Exception):
    """Tesseract ran but failed or ran out of time."""


@dataclass
class OcrWord:
    text: str
    confidence: float  # 0..1
    left: int
    width: int
    top: int = 0
    height: int = 0


@dataclass
class OcrLine:
    words: list[OcrWord] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    def box(self) -> tuple[int, int, int, int]:
        return (
            min(word.left for word in self.words),
            min(word.top for word in self.words),
            max(word.left + word.width for word in self.words),
            max(word.top + word.height for word in self.words),
        )

    @property
    def confidence(self) -> float:
        if not self.words:
            return 0.0
        return sum(word.confidence for word in self.words) / len(self.words)


@dataclass
class OcrResult:
    lines: list[OcrLine]
    skew_degrees: float = 0.0
    page: Image.Image | None = None

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def mean_confidence(self) -> float:
        words = [word for line in self.lines for word in line.words]
        if not words:
            return 0.0
        return sum(word.confidence for word in words) / len(words)


def _invert_dark_bands(grey: numpy.ndarray) -> numpy.ndarray:
    # Where the local background is dark (a coloured header or button) the text is light: flip
    # it. The background is the median of 5x5 tiles of tile means, so the light strokes of large
    # text never win, and it follows tilted headers that a per-row test would cut in half.
    height, width = grey.shape
    tile = 40
    small = Image.fromarray(grey).reduce(tile) if min(height, width) >= tile * 2 else None
    if small is None:
        return grey
    background = small.filter(ImageFilter.MedianFilter(5)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    dark = numpy.asarray(background) < 128
    result = grey.copy()
    result[dark] = 255 - result[dark]
    return result


def estimate_skew(grey: numpy.ndarray) -> float:
    """Return the rotation (degrees, counter-clockwise positive) that levels the text.

    Measured by projection profile: rows of text give the sharpest row-sum peaks when level.
    """
    height, width = grey.shape
    scale = min(1.0, 500 / max(width, 1))
    small = Image.fromarray(grey).resize(
        (max(1, int(width * scale)), max(1, int(height * scale))), Image.Resampling.BILINEAR
    )
    ink = Image.fromarray(((numpy.asarray(small) < 140) * 255).astype(numpy.uint8))

    def sharpness(angle: float) -> float:
        rotated = numpy.asarray(ink.rotate(angle, resample=Image.Resampling.NEAREST), dtype=float)
        profile = rotated.sum(axis=1)
        return float(numpy.square(numpy.diff(profile)).sum())

    best = max(numpy.arange(-_MAX_SKEW_DEGREES, _MAX_SKEW_DEGREES + 0.01, 1.0), key=sharpness)
    fine = numpy.arange(best - 0.9, best + 0.91, 0.1)
    return round(float(max(fine, key=sharpness)), 2)


def prepare(image: Image.Image) -> tuple[Image.Image, float]:
    """Return a grey, level, light-background page sized for Tesseract, and the skew undone."""
    grey_image = ImageOps.exif_transpose(image) if image.mode != "L" else image
    grey_image = grey_image.convert("L")
    scale = _TARGET_WIDTH / grey_image.width
    # Upscale small screenshots; only downscale big photos, and never below readable size.
    if scale > 1.15 or scale < 0.8:
        grey_image = grey_image.resize(
            (round(grey_image.width * scale), round(grey_image.height * scale)),
            Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX,
        )
    grey = _invert_dark_bands(numpy.asarray(grey_image))
    skew = estimate_skew(grey)
    page = Image.fromarray(grey)
    if abs(skew) >= 0.3:
        page = page.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return ImageOps.autocontrast(page, cutoff=1), skew


def read_text(image: Image.Image, *, timeout_seconds: float) -> OcrResult:
    """OCR a prepared page into lines of words with their confidences."""
    page, skew = prepare(image)
    try:
        data = pytesseract.image_to_data(
            page,
            lang="eng",
            config=_TESSERACT_CONFIG,
            output_type=pytesseract.Output.DICT,
            timeout=timeout_seconds,
        )
    except pytesseract.TesseractNotFoundError as error:
        raise OcrUnavailable(
            "Tesseract is not installed (Debian package tesseract-ocr)."
        ) from error
    except RuntimeError as error:  # pytesseract's timeout
        raise OcrFailed(f"Tesseract stopped: {error}") from error
    except pytesseract.TesseractError as error:
        raise OcrFailed(f"Tesseract failed: {error.message}") from error
    lines: dict[tuple[int, int, int], OcrLine] = {}
    for index, text in enumerate(data["text"]):
        text = (text or "").strip()
        if not text:
            continue
        key = (data["block_num"][index], data["par_num"][index], data["line_num"][index])
        confidence = max(0.0, float(data["conf"][index])) / 100
        lines.setdefault(key, OcrLine()).words.append(
            OcrWord(
                text,
                confidence,
                int(data["left"][index]),
                int(data["width"][index]),
                int(data["top"][index]),
                int(data["height"][index]),
            )
        )
    return OcrResult(lines=[lines[key] for key in sorted(lines)], skew_degrees=skew, page=page)


# A reference is upper-case letters, digits and dashes: nothing else may come out of a re-read.
_REFERENCE_WHITELIST = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"


def reread_line(result: OcrResult, line: OcrLine, *, timeout_seconds: float) -> str:
    """Read a reference's words again, cropped, enlarged and limited to reference characters.

    Long ids at small sizes lose or gain glyphs, or turn a J into a bracket; a second look at
    twice the size with only the reference alphabet allowed usually settles it.
    """
    if result.page is None or not line.words:
        return ""
    left, top, right, bottom = line.box()
    margin = max(6, (bottom - top) // 3)
    crop = result.page.crop(
        (max(0, left - margin), max(0, top - margin), right + margin, bottom + margin)
    )
    crop = crop.resize((crop.width * 2, crop.height * 2), Image.Resampling.LANCZOS)
    try:
        return pytesseract.image_to_string(
            crop,
            lang="eng",
            config=f"--oem 1 --psm 7 -c tessedit_char_whitelist={_REFERENCE_WHITELIST}",
            timeout=timeout_seconds,
        ).strip()
    except (RuntimeError, pytesseract.TesseractError):
        return ""
