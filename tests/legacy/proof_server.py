"""A local HTTP server that plays the earlier platform's file host for proof files."""

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw


def receipt_image(text: str, image_format: str) -> bytes:
    """A small receipt-like picture; its bytes are fixed for a given text and format."""
    image = Image.new("RGB", (240, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, 235, 115), outline="navy", width=3)
    draw.text((16, 40), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


FILES: dict[str, tuple[str, bytes]] = {
    "/proofs/carla-rejected.png": ("image/png", receipt_image("GCash 1,200.00", "PNG")),
    "/proofs/dan-review.jpg": ("image/jpeg", receipt_image("BPI 1,000.00", "JPEG")),
    "/proofs/kai-approved.png": ("image/png", receipt_image("TNG RM45.50", "PNG")),
    # A CDN's "soft 404": status 200, but an HTML page instead of the picture.
    "/proofs/max-flagged.png": ("image/png", b"<!doctype html><title>Not found</title>oops"),
}


@dataclass
class ProofServer:
    base_url: str
    requests: list[str] = field(default_factory=list)


@contextmanager
def proof_server() -> Iterator[ProofServer]:
    """Serve FILES on 127.0.0.1 (any other path: 404) in a thread; stop it afterwards."""
    served = ProofServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            if self.path not in FILES:
                self.send_error(404)
                return
            content_type, body = FILES[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
