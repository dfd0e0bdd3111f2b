"""Lockout after failed logins, API throttling, the content security policy and metrics."""

import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.roles import FINANCE_GROUP, GOM_GROUP
from payments.models import Submission
from tests.factories import StaffFactory, SubmissionFactory, UserFactory


@pytest.mark.django_db
@pytest.mark.parametrize("login_url", ["/login/", "/admin/login/"])
def test_five_wrong_passwords_lock_the_account_from_that_address(login_url: str) -> None:
    user = StaffFactory(email="target@example.test")
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(5):
        response = client.post(login_url, {"username": user.email, "password": "wrong"})
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()

    # Even the right password is refused while the lock holds.
    locked = client.post(login_url, {"username": user.email, "password": "correct-horse-battery"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session

    # Another address is not locked out.
    other = Client(REMOTE_ADDR="198.51.100.20")
    ok = other.post(login_url, {"username": user.email, "password": "correct-horse-battery"})
    assert ok.status_code == 302


@pytest.mark.django_db
def test_four_wrong_passwords_then_the_right_one_signs_in() -> None:
    user = UserFactory(email="buyer@example.test")
    client = Client(REMOTE_ADDR="203.0.113.10")
    for _ in range(4):
        client.post("/login/", {"username": user.email, "password": "wrong"})
    response = client.post("/login/", {"username": user.email, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_api_throttles_anonymous_callers(settings: object) -> None:
    from rest_framework.settings import api_settings

    rates = {"anon": "3/min", "user": "1000/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    api_settings.reload()
    from rest_framework.throttling import SimpleRateThrottle

    from core.throttling import WindowRateThrottle

    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    clock = [1_800_000_010.0]  # ten seconds into a minute: all four requests in one window
    WindowRateThrottle.timer = lambda self: clock[0]  # type: ignore[method-assign]
    try:
        client = Client(REMOTE_ADDR="203.0.113.50")
        statuses = [client.get("/api/schema/").status_code for _ in range(4)]
        refused = client.get("/api/schema/")
        clock[0] += 50  # the next minute: a new window
        again = client.get("/api/schema/")
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
        del WindowRateThrottle.timer
        api_settings.reload()
    assert statuses == [200, 200, 200, 429]
    assert (refused.status_code, refused["Retry-After"]) == (429, "50")
    assert again.status_code == 200


@pytest.mark.django_db
def test_api_throttles_each_signed_in_user_by_window(settings: object) -> None:
    from rest_framework.settings import api_settings
    from rest_framework.test import APIClient
    from rest_framework.throttling import SimpleRateThrottle

    from core.throttling import WindowRateThrottle
    from tests.factories import UserFactory

    rates = {"anon": "1000/min", "user": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    api_settings.reload()
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    WindowRateThrottle.timer = lambda self: 1_800_000_020.0  # type: ignore[method-assign]
    try:
        first, second = UserFactory(), UserFactory()
        calls = []
        for user in (first, first, first, second):
            client = APIClient()
            client.force_authenticate(user)
            calls.append(client.get("/api/wallet"))
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
        del WindowRateThrottle.timer
        api_settings.reload()
    # Two a minute for each user: the first user's third call waits for the next minute; the
    # second user has a count of their own.
    assert [call.status_code for call in calls] == [200, 200, 429, 200]
    assert calls[2]["Retry-After"] == "40"


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client: Client) -> None:
    response = client.get(reverse("accounts:login"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_api_docs_are_served_without_a_cdn(client: Client) -> None:
    client.force_login(StaffFactory())
    page = client.get("/api/docs/").content.decode()
    assert "cdn.jsdelivr" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/health/payments" in schema.content


@pytest.mark.django_db
def test_metrics_for_finance_show_submissions_by_status(client: Client) -> None:
    SubmissionFactory(amount_due_minor=125_000)
    SubmissionFactory(amount_due_minor=5_000, status=Submission.Status.VERIFIED)
    assert client.get("/api/metrics").status_code == 403
    gom = StaffFactory()
    gom.groups.add(Group.objects.get(name=GOM_GROUP))
    client.force_login(gom)
    assert client.get("/api/metrics").status_code == 403  # every GOM's figures: not a GOM's
    finance = StaffFactory()
    finance.groups.add(Group.objects.get(name=FINANCE_GROUP))
    client.force_login(finance)
    response = client.get("/api/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'gomflow_submissions{currency="PHP",status="pending_payment"} 1.0' in text
    assert 'gomflow_submissions_amount_due_minor{currency="PHP",status="verified"} 5000.0' in text
    assert "gomflow_stuck_proofs 0.0" in text
    assert 'gomflow_health{check="database",status="HEALTHY"} 1.0' in text


@pytest.mark.django_db
def test_repeated_api_failures_earn_growing_penalties(settings: object) -> None:
    import time_machine

    settings.API_FAILURE_ALLOWANCE = 3
    client = Client(REMOTE_ADDR="203.0.113.77")
    other = Client(REMOTE_ADDR="203.0.113.78")
    start = 1_900_000_000.0
    with time_machine.travel(start, tick=False) as clock:
        statuses = [client.get("/api/wallet").status_code for _ in range(4)]
        assert statuses == [403, 403, 403, 403]  # the 4th failure starts a 2 s penalty
        blocked = client.get("/api/wallet")
        assert blocked.status_code == 429
        assert blocked["Retry-After"] == "2"
        assert other.get("/api/wallet").status_code == 403  # another address is not punished
        clock.shift(2.5)
        assert client.get("/api/wallet").status_code == 403  # penalty over; 5th failure: 4 s
        again = client.get("/api/wallet")
        assert (again.status_code, again["Retry-After"]) == (429, "4")


@pytest.mark.django_db
def test_a_penalty_imposed_elsewhere_holds_here_within_a_second(
    settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.cache import cache

    from core import throttling

    clock = [1000.0]
    monkeypatch.setattr(throttling, "monotonic", lambda: clock[0])
    asked: list[object] = []
    real_get_many = cache.get_many
    monkeypatch.setattr(cache, "get_many", lambda keys: asked.append(keys) or real_get_many(keys))
    client = Client(REMOTE_ADDR="203.0.113.90")

    assert client.get("/api/wallet").status_code == 403  # asked Redis: clear
    clock[0] += 0.5
    assert client.get("/api/wallet").status_code == 403  # trusted: Redis not asked
    assert len(asked) == 1
    # Another process imposes a penalty on this address.
    cache.set("api-fail:ip:203.0.113.90:until", time.time() + 30, 30)
    clock[0] += 0.4
    assert client.get("/api/wallet").status_code == 403  # still within the trusted second
    clock[0] += 0.2
    refused = client.get("/api/wallet")
    assert (refused.status_code, len(asked)) == (429, 2)
    assert int(refused["Retry-After"]) in (29, 30)
