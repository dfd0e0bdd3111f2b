"""OCR benchmark: seconds per proof and accuracy over the generated corpus, and bomb refusal.

Run by `make bench-ocr` (through scripts/with-test-services). Prints the figures next to the
issue's targets, measured in this run, and writes the same text to benchmarks/results/ocr.md.
Tesseract runs with OMP_THREAD_LIMIT=1, i.e. on one core.
"""

# ruff: noqa: E501  (the markdown table rows read best on one line each)
import io
import os
import statistics
import struct
import sys
import time
import zlib
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["OMP_THREAD_LIMIT"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

from django.conf import settings  # noqa: E402
from PIL import Image  # noqa: E402

from tests.verification import receipts  # noqa: E402
from verification import agent  # noqa: E402
from verification.exceptions import ProofRejected  # noqa: E402
from verification.intake import decode_image, prepare_upload  # noqa: E402

CORPUS = int(os.environ.get("BENCH_OCR_RECEIPTS", "72"))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(side_x: int, side_y: int, rows: list[bytes] | None = None) -> bytes:
    compressor = zlib.compressobj(6)
    blank = b"\0" * (side_x + 1)
    body = b"".join(compressor.compress(rows[y] if rows else blank) for y in range(side_y))
    body += compressor.flush()
    header = struct.pack(">IIBBBBB", side_x, side_y, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def _largest_allowed_image() -> bytes:
    """The largest image intake decodes: PROOF_MAX_PIXELS as a photo-like JPEG within 10 MB."""
    side = int(settings.PROOF_MAX_PIXELS**0.5) - 8
    # Smooth noise (a blurred, enlarged random field) compresses like a photo, not like static.
    field = Image.effect_noise((side // 32, side // 32), 80).convert("RGB")
    image = field.resize((side, side), Image.Resampling.BICUBIC)
    for quality in (85, 75, 60, 45, 30):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= settings.PROOF_MAX_BYTES:
            return buffer.getvalue()
    raise RuntimeError("could not fit the largest allowed image in PROOF_MAX_BYTES")


def main() -> None:
    corpus = receipts.corpus(CORPUS)
    timings: list[float] = []
    full_size: list[float] = []
    right = 0
    for receipt in corpus:
        started = time.perf_counter()
        reading = agent.read_proof(receipt.data, receipt.content_type, time_limit_seconds=30)
        elapsed = time.perf_counter() - started
        timings.append(elapsed)
        if receipt.scale == 1.0:
            full_size.append(elapsed)
        right += (reading.reference, reading.amount_minor) == (
            receipt.reference,
            receipt.amount_minor,
        )
    timings.sort()
    median = statistics.median(timings)
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    full_median = statistics.median(full_size) if full_size else float("nan")
    accuracy = right / len(corpus)

    bomb = _png(30_000, 30_000)
    started = time.perf_counter()
    try:
        prepare_upload(bomb, original_name="bomb.png")
        bomb_outcome = "ACCEPTED (bug)"
    except ProofRejected as rejection:
        bomb_outcome = rejection.code
    bomb_seconds = time.perf_counter() - started
    largest = _largest_allowed_image()
    started = time.perf_counter()
    decoded = decode_image(largest, "JPEG")
    decode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    prepared = prepare_upload(largest, original_name="largest.jpg")
    intake_seconds = time.perf_counter() - started
    ratio = bomb_seconds / decode_seconds

    lines = [
        "# OCR benchmark (verification agent)",
        "",
        f"Corpus: {len(corpus)} generated receipts, {len(receipts.PROVIDERS)} providers, seed fixed; "
        "Tesseract on one core (OMP_THREAD_LIMIT=1).",
        "",
        "| figure | measured | target | ratio to target |",
        "|---|---|---|---|",
        f"| median s/proof (all) | {median:.3f} | ≤ 1.5 | {median / 1.5:.2f} |",
        f"| median s/proof (1080x2340 only, n={len(full_size)}) | {full_median:.3f} | ≤ 1.5 | {full_median / 1.5:.2f} |",
        f"| p95 s/proof | {p95:.3f} | (≤ 30 hard limit) | {p95 / 30:.3f} |",
        f"| reference + amount both right | {accuracy:.1%} ({right}/{len(corpus)}) | ≥ 95% (seed plan 85%) | {accuracy / 0.95:.3f} |",
        f"| refuse a 30000x30000 PNG bomb ({len(bomb) // 1024} KB, {bomb_outcome}) | {bomb_seconds * 1000:.2f} ms | | |",
        f"| decode the largest allowed image ({decoded.width}x{decoded.height} JPEG, {len(largest) / 1e6:.1f} MB) | {decode_seconds * 1000:.0f} ms | | |",
        f"| whole intake of it (sniff, decode, re-encode, hashes; {prepared.width}x{prepared.height}) | {intake_seconds * 1000:.0f} ms | | |",
        f"| bomb refusal / full decode | {ratio:.4%} | ≤ 5% | {ratio / 0.05:.3f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "ocr.md").write_text(text)


if __name__ == "__main__":
    main()
