"""The erasure tests store and delete real (encrypted) proof files in a private directory."""

from tests.verification.conftest import proof_root  # noqa: F401
