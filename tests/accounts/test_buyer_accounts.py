import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from tests.factories import SubmissionFactory, UserFactory


@pytest.mark.django_db
def test_login_and_signup_pages_answer(client: Client) -> None:
    assert client.get(reverse("accounts:login")).status_code == 200
    assert client.get(reverse("accounts:signup")).status_code == 200
    assert client.get("/admin/login/").status_code == 200


@pytest.mark.django_db
def test_buyer_signs_up_and_is_signed_in_as_a_non_staff_user(client: Client) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "New.Buyer@Example.test",
            "full_name": "New Buyer",
            "password1": "a-long-enough-pass-91",
            "password2": "a-long-enough-pass-91",
        },
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert (user.email, user.is_staff, user.is_superuser) == (
        "new.buyer@example.test",
        False,
        False,
    )
    assert client.get(reverse("accounts:home")).status_code == 200
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.object_id) == ("user.signed_up", user, str(user.pk))


@pytest.mark.django_db
def test_signup_with_a_taken_email_in_other_case_is_refused(client: Client) -> None:
    UserFactory(email="taken@example.test")
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "TAKEN@example.test",
            "full_name": "X",
            "password1": "a-long-enough-pass-91",
            "password2": "a-long-enough-pass-91",
        },
    )
    assert response.status_code == 200
    assert "An account with this e-mail address already exists." in response.content.decode()
    assert User.objects.count() == 1
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_buyer_logs_in_with_email_in_any_case_and_sees_only_their_orders(client: Client) -> None:
    buyer = UserFactory(email="me@example.test")
    mine = SubmissionFactory(buyer=buyer)
    theirs = SubmissionFactory()
    response = client.post(
        reverse("accounts:login"),
        {"username": "ME@example.test", "password": "correct-horse-battery"},
    )
    assert response.status_code == 302
    page = client.get(reverse("accounts:home")).content.decode()
    # Each order links to its own page (status, proof, receipt, refunds).
    status_url = reverse("buyer:submission-status", args=[mine.code])
    assert f'<a class="mono" href="{status_url}">{mine.code}</a>' in page
    assert theirs.code not in page


@pytest.mark.django_db
def test_wrong_password_is_refused_with_a_message(client: Client) -> None:
    UserFactory(email="me@example.test")
    response = client.post(
        reverse("accounts:login"), {"username": "me@example.test", "password": "nope"}
    )
    assert response.status_code == 200
    assert "Please enter a correct" in response.content.decode()
