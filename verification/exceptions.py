"""The verification app's errors. A refused upload carries a stable code for the API."""


class ProofRejected(Exception):
    """An upload that is refused; nothing was stored and nothing changed."""

    def __init__(self, code: str, message: str, *, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


class ScannerUnavailable(Exception):
    """The configured virus scanner did not answer."""
