"""A private proof storage per test, as in the verification tests."""

from tests.verification.conftest import proof_root  # noqa: F401 (an autouse fixture, shared)
