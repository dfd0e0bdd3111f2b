from tests.verification.conftest import proof_root  # noqa: F401 - a private proof store per test
