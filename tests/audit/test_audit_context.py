import pytest
from django.test import Client

from audit.models import AuditEvent


@pytest.mark.django_db
def test_request_id_and_ip_reach_the_audit_row(client: Client) -> None:
    response = client.post(
        "/signup/",
        {
            "email": "a@example.test",
            "full_name": "A",
            "password1": "a-long-enough-pass-91",
            "password2": "a-long-enough-pass-91",
        },
        HTTP_X_REQUEST_ID="req-12345678",
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-12345678"
    event = AuditEvent.objects.get()
    assert (event.request_id, event.ip_address) == ("req-12345678", "198.51.100.4")


@pytest.mark.django_db
def test_a_forged_request_id_is_replaced(client: Client) -> None:
    response = client.get("/login/", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32
