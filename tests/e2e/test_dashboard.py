"""A GOM works the verification queue in a real browser; another GOM never sees it."""

import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, Page, expect

from accounts.roles import GOM_GROUP
from payments.models import Payment, SubmissionStatus
from tests.dashboard.helpers import queued, review_of
from tests.e2e.conftest import screenshot
from tests.factories import GroupOrderFactory, StaffFactory
from verification.models import ReviewState

STREAM_SECONDS = 3


@pytest.fixture
def proof_storage(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings.STORAGES = {  # type: ignore[attr-defined]
        **django_settings.STORAGES,
        "proofs": {
            "BACKEND": "verification.storage.EncryptedStorage",
            "OPTIONS": {"location": str(tmp_path / "proofs")},
        },
    }
    # Short streams (the browser reconnects), so none outlives the test's database.
    settings.VERIFICATION_STREAM_MAX_SECONDS = STREAM_SECONDS  # type: ignore[attr-defined]


def _gom(email: str, name: str):  # type: ignore[no-untyped-def]
    user = StaffFactory(email=email, full_name=name)
    user.groups.add(Group.objects.get(name=GOM_GROUP))
    return user


def _log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/verification/proofreview/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill("correct-horse-battery")
    page.locator("input[type=submit]").click()
    expect(page.get_by_role("heading", name="Verification queue")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_gom_filters_approves_goes_next_and_bulk_rejects(
    live_server: object, browser: Browser, proof_storage: None
) -> None:
    gom = _gom("bea@example.test", "Bea Santos")
    rival = _gom("rico@example.test", "Rico Tan")
    album = GroupOrderFactory(owner=gom, title="Album GO")
    merch = GroupOrderFactory(owner=gom, title="Merch GO")
    rival_order = GroupOrderFactory(owner=rival, title="Rival GO")
    names = ["Ana Reyes", "Ben Cruz", "Cora Lim", "Dani Sy", "Eli Go"]
    mine = [queued(group_order=album, buyer_name=name) for name in names]
    other_merch = queued(group_order=merch, buyer_name="Fe Ramos")
    theirs = [queued(group_order=rival_order, buyer_name=f"Rival buyer {i}") for i in range(2)]
    base = live_server.url  # type: ignore[attr-defined]

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _log_in(page, base, gom.email)
    # The live count comes over Server-Sent Events.
    expect(page.locator("#live-count")).to_have_text("6", timeout=5000)
    expect(page.locator("tr.queue-row")).to_have_count(6)

    page.get_by_label("Group order").select_option(label="Album GO")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr.queue-row")).to_have_count(5)
    expect(page.get_by_text(other_merch.code)).to_have_count(0)
    screenshot(page, "dashboard-queue")

    # Oldest first: the first row is Ana's; open her proof.
    page.locator("tr.queue-row").first.locator("a.open-proof").click()
    expect(page.get_by_role("heading", name=f"{mine[0].code} · Ana Reyes")).to_be_visible()
    image = page.locator("#proof-image")
    expect(image).to_be_visible()
    page.get_by_role("button", name="Zoom in").click()
    expect(image).to_have_class("zoom-2")
    screenshot(page, "dashboard-review")
    page.get_by_role("button", name="Approve", exact=True).click()

    # Straight to the next in the queue (Ben), with the result shown.
    expect(page.get_by_role("heading", name=f"{mine[1].code} · Ben Cruz")).to_be_visible()
    expect(page.locator(".messagelist")).to_contain_text(f"{mine[0].code}: Approved ₱1,250.00")
    # "N" skips to the next one from the keyboard.
    page.keyboard.press("n")
    expect(page.get_by_role("heading", name=f"{mine[2].code} · Cora Lim")).to_be_visible()

    page.goto(f"{base}/admin/verification/proofreview/?group_order={album.pk}")
    for submission in mine[2:]:
        page.get_by_label(f"Select {submission.code}").check()
    page.get_by_label("Action").select_option("reject")
    page.locator("#bulk-go").click()
    expect(page.locator("#bulk-summary")).to_contain_text("3 submissions selected")
    page.get_by_label("Reason").select_option("duplicate")
    page.get_by_label("Note to the buyers").fill("Same screenshot as another order.")
    page.get_by_role("button", name="Yes, reject them").click()
    expect(page.locator("#bulk-results tr[data-outcome=rejected]")).to_have_count(3)
    expect(page.locator(".messagelist")).to_contain_text("3 of 3 decided")
    screenshot(page, "dashboard-bulk-results")
    context.close()

    first = mine[0]
    first.refresh_from_db()
    assert (first.status, first.paid_minor) == (SubmissionStatus.VERIFIED, 125_000)
    assert Payment.objects.get().allocations.get().submission == first
    assert review_of(mine[1]).state == ReviewState.AWAITING
    for submission in mine[2:]:
        review = review_of(submission)
        assert (review.state, review.reason_code, review.decided_by) == (
            ReviewState.REJECTED,
            "duplicate",
            gom,
        )

    # The rival GOM's queue never shows Bea's submissions, and her proofs are a 404 to him.
    rival_context = browser.new_context(viewport={"width": 1280, "height": 900})
    rival_page = rival_context.new_page()
    _log_in(rival_page, base, rival.email)
    expect(rival_page.locator("tr.queue-row")).to_have_count(2)
    for state in ("awaiting", "all"):
        rival_page.goto(f"{base}/admin/verification/proofreview/?state={state}")
        html = rival_page.content()
        assert all(s.code in html for s in theirs)
        assert not any(s.code in html for s in [*mine, other_merch])
    expect(rival_page.locator("#live-count")).to_have_text("2", timeout=5000)
    response = rival_page.goto(f"{base}/admin/verification/proofreview/{review_of(first).pk}/")
    assert response is not None
    assert response.status == 404
    rival_context.close()
    # Let the server's open event streams reach their end before the database goes away.
    time.sleep(STREAM_SECONDS + 1)
