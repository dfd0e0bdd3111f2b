"""API tokens: one prepared statement reads the token's user, with DRF's own answers."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _get(key: str) -> tuple[int, dict, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/api/wallet", HTTP_AUTHORIZATION=f"Token {key}")
    return response.status_code, response.json(), [q["sql"] for q in queries.captured_queries]


def test_a_token_signs_its_user_in_with_one_statement() -> None:
    user = UserFactory()
    token = Token.objects.create(user=user)

    status, body, statements = _get(token.key)

    assert (status, body) == (200, {"wallets": []})
    assert statements[0] == f"EXECUTE accounts_token_user('{token.key}')"
    assert not any("authtoken_token" in sql for sql in statements)


def test_an_unknown_token_and_an_inactive_user_are_refused_as_drf_does() -> None:
    user = UserFactory()
    token = Token.objects.create(user=user)
    unknown = _get("0" * 40)
    user.is_active = False
    user.save(update_fields=["is_active"])
    inactive = _get(token.key)

    # 403, not 401: session authentication comes first and asks for no header (DRF's rule).
    assert unknown[:2] == (403, {"detail": "Invalid token."})
    assert inactive[:2] == (403, {"detail": "User inactive or deleted."})
