"""Virus scanning through a ClamAV daemon (clamd) socket, with its INSTREAM command.

The protocol is small enough to speak directly: ``zINSTREAM\\0``, then chunks each prefixed with
their length as a 4-byte big-endian integer, then a zero length; clamd answers
``stream: OK`` or ``stream: <signature> FOUND``.
"""

import socket
import struct
from dataclasses import dataclass

from django.conf import settings

from verification.exceptions import ScannerUnavailable

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ScanResult:
    is_infected: bool
    signature: str = ""


def scanner_configured() -> bool:
    return bool(settings.PROOF_CLAMD_SOCKET)


def _connect(address: str, timeout: float) -> socket.socket:
    if address.startswith("/"):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = address
    else:
        host, _, port = address.rpartition(":")
        connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host or "127.0.0.1", int(port))
    connection.settimeout(timeout)
    connection.connect(target)
    return connection


def scan_bytes(data: bytes) -> ScanResult:
    """Scan bytes with the configured clamd; raise ScannerUnavailable when it cannot answer."""
    address = settings.PROOF_CLAMD_SOCKET
    try:
        with _connect(address, settings.PROOF_CLAMD_TIMEOUT_SECONDS) as connection:
            connection.sendall(b"zINSTREAM\0")
            for start in range(0, len(data), _CHUNK):
                chunk = data[start : start + _CHUNK]
                connection.sendall(struct.pack("!L", len(chunk)) + chunk)
            connection.sendall(struct.pack("!L", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                received = connection.recv(4096)
                if not received:
                    break
                reply += received
    except (OSError, ValueError) as error:
        raise ScannerUnavailable(f"clamd at {address} did not answer: {error}") from error
    answer = reply.rstrip(b"\0").decode("utf-8", errors="replace").strip()
    if answer.endswith("FOUND"):
        signature = answer.removeprefix("stream:").removesuffix("FOUND").strip()
        return ScanResult(is_infected=True, signature=signature)
    if answer.endswith("OK"):
        return ScanResult(is_infected=False)
    # "INSTREAM size limit exceeded" and other errors: no verdict is not a clean verdict.
    raise ScannerUnavailable(f"clamd gave no verdict: {answer or 'empty reply'}")
