"""The dashboard's admin pages: who sees what, filters and search, query counts, decisions."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from payments.models import Payment, SubmissionStatus
from tests.dashboard.helpers import queued, review_of
from tests.factories import GroupOrderFactory
from verification.models import ReviewState

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:verification_proofreview_changelist")
STATS = reverse("admin:verification_proofreview_stats")


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _review_url(submission) -> str:  # type: ignore[no-untyped-def]
    return reverse("admin:verification_proofreview_change", args=[review_of(submission).pk])


@pytest.mark.parametrize(
    ("persona", "queue_shows", "review_status", "can_decide", "bulk_controls"),
    [
        ("owner", True, 200, True, True),
        ("verifier", True, 200, True, True),
        ("assistant", True, 200, False, False),  # view-only
        ("finance", True, 200, False, False),  # read-only
        # Another GOM decides on their own orders, never this one (which is a 404 to them).
        ("other_gom", False, 404, False, True),
    ],
)
def test_who_sees_the_queue_and_may_decide(
    personas, verifier, persona, queue_shows, review_status, can_decide, bulk_controls
) -> None:
    user = verifier if persona == "verifier" else getattr(personas, persona)
    submission = queued(group_order=personas.order, buyer_name="Ana Reyes")
    client = _client(user)
    queue = client.get(QUEUE)
    assert queue.status_code == 200
    assert (submission.code in queue.content.decode()) is queue_shows
    assert ('id="bulk-go"' in queue.content.decode()) is bulk_controls
    review = client.get(_review_url(submission))
    assert review.status_code == review_status
    if review_status == 200:
        assert ('id="approve"' in review.content.decode()) is can_decide
    post = client.post(
        _review_url(submission), {"action": "approve", "version": submission.version}
    )
    assert post.status_code == (302 if can_decide else {200: 403, 404: 404}[review_status])
    expected = ReviewState.APPROVED if can_decide else ReviewState.AWAITING
    assert review_of(submission).state == expected
    assert Payment.objects.count() == (1 if can_decide else 0)
    assert client.get(STATS).status_code == 200


def test_buyers_never_reach_the_dashboard(personas) -> None:
    submission = queued(group_order=personas.order)
    client = _client(personas.buyer)
    assert client.get(QUEUE).status_code == 302  # to the admin login
    assert client.get(_review_url(submission)).status_code == 302
    assert Client().get(QUEUE).status_code == 302


def test_queue_uses_the_same_queries_for_20_and_100_rows(
    personas, django_assert_num_queries
) -> None:
    client = _client(personas.owner)
    for _ in range(20):
        queued(group_order=personas.order, store_file=False)
    client.get(QUEUE)  # warm caches (content types, session)
    import django.db

    with django.test.utils.CaptureQueriesContext(django.db.connection) as twenty:
        response = client.get(QUEUE + "?per_page=100")
    assert response.content.decode().count('class="queue-row"') == 20
    for _ in range(80):
        queued(group_order=personas.order, store_file=False)
    with django_assert_num_queries(len(twenty.captured_queries)):
        response = client.get(QUEUE + "?per_page=100")
    assert response.content.decode().count('class="queue-row"') == 100
    # No COUNT(*) of the queue table on a page.
    assert not any(
        "COUNT(" in query["sql"].upper() and "proofreview" in query["sql"]
        for query in twenty.captured_queries
    )


def test_review_page_uses_a_small_constant_number_of_queries(
    personas, django_assert_max_num_queries
) -> None:
    client = _client(personas.owner)
    first = queued(group_order=personas.order, store_file=False)
    client.get(_review_url(first))
    import django.db

    with django.test.utils.CaptureQueriesContext(django.db.connection) as one:
        client.get(_review_url(first))
    busy = queued(group_order=personas.order, store_file=False)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(_review_url(busy)).status_code == 200
    assert len(one.captured_queries) <= 15


def test_filters_and_search_narrow_the_queue(personas) -> None:
    other_order = GroupOrderFactory(owner=personas.owner, title="Second drop")
    ana = queued(group_order=personas.order, buyer_name="Ana Reyes", reference="GC1234567890A")
    ben = queued(
        group_order=other_order,
        buyer_name="Ben Cruz",
        confidence="0.300",
        suggestion="review",
        flags=[{"code": "amount_mismatch"}],
    )
    client = _client(personas.owner)

    def codes(query: str) -> set[str]:
        html = client.get(QUEUE + query).content.decode()
        return {code for code in (ana.code, ben.code) if code in html}

    assert codes("") == {ana.code, ben.code}
    assert codes(f"?group_order={other_order.pk}") == {ben.code}
    assert codes("?flag=amount_mismatch") == {ben.code}
    assert codes("?confidence=low") == {ben.code}
    assert codes("?confidence=high") == {ana.code}
    assert codes("?suggestion=approve") == {ana.code}
    assert codes("?q=reyes") == {ana.code}
    assert codes(f"?q={ben.buyer.email}") == {ben.code}
    assert codes("?q=GC1234567890A") == {ana.code}
    assert codes(f"?q={ben.code.lower()}") == {ben.code}
    assert codes("?method=maya") == set()
    assert codes("?state=approved") == set()


def test_amount_read_is_green_when_equal_and_red_when_not(personas) -> None:
    queued(group_order=personas.order, amount_read_minor=125_000)
    queued(group_order=personas.order, amount_read_minor=100_000)
    html = _client(personas.owner).get(QUEUE).content.decode()
    assert html.count('class="amount-ok"') == 1
    assert html.count('class="amount-bad"') == 1


def test_review_approve_with_an_edited_amount_goes_to_the_next_in_queue(personas) -> None:
    first = queued(group_order=personas.order)
    second = queued(group_order=personas.order)
    client = _client(personas.owner)
    response = client.post(
        _review_url(first), {"action": "approve", "version": first.version, "amount": "500.00"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:verification_proofreview_next"))
    landing = client.get(response["Location"])
    assert landing["Location"].startswith(_review_url(second))
    first.refresh_from_db()
    assert (first.status, first.paid_minor) == (SubmissionStatus.PARTIALLY_PAID, 50_000)


def test_review_reject_needs_a_reason_and_a_stale_form_is_a_conflict(personas) -> None:
    submission = queued(group_order=personas.order)
    client = _client(personas.owner)
    response = client.post(
        _review_url(submission), {"action": "reject", "version": submission.version}
    )
    assert response.status_code == 200
    assert "Give a reason" in response.content.decode()
    assert review_of(submission).state == ReviewState.AWAITING
    stale = client.post(
        _review_url(submission),
        {"action": "reject", "version": submission.version - 1, "reason_code": "unreadable"},
    )
    assert stale.status_code == 302
    page = client.get(stale["Location"]).content.decode()
    assert "nothing was changed" in page
    assert review_of(submission).state == ReviewState.AWAITING


def test_bulk_reject_confirms_then_shows_each_result(personas, verifier) -> None:
    rows = [queued(group_order=personas.order) for _ in range(3)]
    foreign = personas.other_submission
    client = _client(verifier)
    ids = [str(r.pk) for r in rows] + [str(foreign.pk)]
    confirm = client.post(
        reverse("admin:verification_proofreview_bulk"), {"action": "reject", "selected": ids}
    )
    assert confirm.status_code == 200
    assert "4 submissions selected" in confirm.content.decode()
    assert all(review_of(r).state == ReviewState.AWAITING for r in rows)
    baseline = AuditEvent.objects.order_by("-id").first().pk
    done = client.post(
        reverse("admin:verification_proofreview_bulk"),
        {"action": "reject", "selected": ids, "confirmed": "yes", "reason_code": "duplicate"},
    )
    html = done.content.decode()
    assert html.count('data-outcome="rejected"') == 3
    assert html.count('data-outcome="not_found"') == 1
    assert "3 of 4 decided" in html
    assert all(review_of(r).state == ReviewState.REJECTED for r in rows)
    assert AuditEvent.objects.filter(pk__gt=baseline, action="verification.rejected").count() == 3


def test_view_only_assistant_cannot_bulk(personas) -> None:
    submission = queued(group_order=personas.order)
    response = _client(personas.assistant).post(
        reverse("admin:verification_proofreview_bulk"),
        {"action": "approve", "selected": [submission.pk], "confirmed": "yes"},
    )
    assert response.status_code == 403
    assert review_of(submission).state == ReviewState.AWAITING


def test_thumbnails_are_served_to_the_allowed_and_cached(personas, proof_root) -> None:
    submission = queued(group_order=personas.order)
    url = reverse("verification:proof-thumbnail", args=[review_of(submission).pk])
    owner = _client(personas.owner)
    response = owner.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8"
    # Cached: with the stored file gone the thumbnail still comes from the cache.
    for path in proof_root.rglob("*"):
        if path.is_file():
            path.unlink()
    assert owner.get(url).content == response.content
    assert _client(personas.other_gom).get(url).status_code == 404
    assert _client(personas.finance).get(url).status_code == 200


def test_stats_page_draws_the_daily_chart(personas) -> None:
    submission = queued(group_order=personas.order)
    from verification.decisions import submission_approve

    submission_approve(actor=personas.owner, submission_id=submission.pk)
    html = _client(personas.owner).get(STATS + "?period=day").content.decode()
    assert "<svg" in html
    assert html.count("<rect") == 30
    assert "₱1,250.00" in html


def test_queue_marks_the_submissions_a_statement_confirms(personas) -> None:
    from tests.finance.helpers import account, import_file

    method = account("ph-gcash", owner=personas.owner)
    confirmed = queued(
        group_order=personas.order,
        method=method,
        reference="9000111222333",
        amount_due_minor=125_000,
        amount_read_minor=125_000,
    )
    unconfirmed = queued(group_order=personas.order, method=method, reference="9000111222999")
    statement = (
        "Date and Time,Description,Reference No.,Debit,Credit,Balance\n"
        "2026-03-02 9:14 AM,Received GCash from 09170000001,9000111222333,,1250.00,\n"
    )
    import_file(method, statement.encode(), preset="gcash")
    client = Client()
    client.force_login(personas.owner)

    html = client.get(QUEUE).content.decode()

    rows = {
        code: html[html.index(f'data-code="{code}"') :]
        for code in (confirmed.code, unconfirmed.code)
    }
    assert "confirmed by statement" in rows[confirmed.code].split("</tr>")[0]
    assert "confirmed by statement" not in rows[unconfirmed.code].split("</tr>")[0]


def test_queue_badge_follows_the_latest_proof_on_every_view(personas) -> None:
    """Each row's badge is its submission's triple match (its latest readable proof), also on
    rows of older proofs, exactly as statement_confirmation_for_submissions answers."""
    import django.db
    from django.test.utils import CaptureQueriesContext

    from tests.dashboard.helpers import queue_proof
    from tests.finance.helpers import account, import_file
    from verification.triple_match import statement_confirmation_for_submissions

    method = account("ph-gcash", owner=personas.owner)
    # Read right first, then a newer proof read wrong: no longer confirmed.
    spoiled = queued(group_order=personas.order, method=method, reference="9000111222333")
    queue_proof(spoiled, reference="9000111222999", amount_read_minor=125_000)
    # Read wrong first, then a newer proof read right: confirmed, on its old row too.
    mended = queued(group_order=personas.order, method=method, reference="9000111222888")
    queue_proof(mended, reference="9000111222444", amount_read_minor=125_000)
    statement = (
        "Date and Time,Description,Reference No.,Debit,Credit,Balance\n"
        "2026-03-02 9:14 AM,Received GCash from 09170000001,9000111222333,,1250.00,\n"
        "2026-03-02 9:20 AM,Received GCash from 09170000002,9000111222444,,1250.00,\n"
    )
    import_file(method, statement.encode(), preset="gcash")
    truth = set(statement_confirmation_for_submissions([spoiled.pk, mended.pk]))
    assert truth == {mended.pk}
    client = _client(personas.owner)
    client.get(QUEUE)

    def badges(query: str) -> list[tuple[str, bool]]:
        html = client.get(QUEUE + query).content.decode()
        rows = html.split('<tr class="queue-row"')[1:]
        return [
            (row.split('data-code="')[1].split('"')[0], "confirmed by statement" in row)
            for row in rows
        ]

    assert sorted(badges("")) == sorted([(spoiled.code, False), (mended.code, True)])
    # The older proofs' rows alone: their claims are the newer proofs' (one statement more).
    with CaptureQueriesContext(django.db.connection) as queries:
        older = badges("?state=superseded")
    assert sorted(older) == sorted([(spoiled.code, False), (mended.code, True)])
    assert len(queries.captured_queries) == 5
    assert sorted(badges("?state=all")) == sorted(
        [(spoiled.code, False), (spoiled.code, False), (mended.code, True), (mended.code, True)]
    )


def test_review_amount_keeps_its_centavos_and_a_bad_amount_says_why(personas) -> None:
    with_centavos = queued(group_order=personas.order, amount_read_minor=125_050)
    round_thousand = queued(group_order=personas.order, amount_read_minor=100_000)
    client = _client(personas.owner)
    assert 'value="1250.50"' in client.get(_review_url(with_centavos)).content.decode()
    assert 'value="1000.00"' in client.get(_review_url(round_thousand)).content.decode()

    refused = client.post(
        _review_url(with_centavos),
        {"action": "approve", "version": with_centavos.version, "amount": "1250.555"},
    )
    assert refused.status_code == 200
    assert "Ensure that there are no more than 2 decimal places." in refused.content.decode()
    assert review_of(with_centavos).state == ReviewState.AWAITING
    assert Payment.objects.count() == 0

    approved = client.post(
        _review_url(with_centavos),
        {"action": "approve", "version": with_centavos.version, "amount": "1250.5"},
    )
    assert approved.status_code == 302
    with_centavos.refresh_from_db()
    assert (with_centavos.status, with_centavos.paid_minor) == (SubmissionStatus.VERIFIED, 125_000)
    assert Payment.objects.get().amount_minor == 125_050  # the 50 centavos over become credit


def test_queue_page_reads_four_statements_and_names_who_decided(personas, verifier) -> None:
    waiting = queued(group_order=personas.order, buyer_name="Ana Reyes")
    decided = queued(group_order=personas.order, buyer_name="Ben Cruz")
    verifier.full_name = "Vera Verifier"
    verifier.save(update_fields=["full_name"])
    assert (
        _client(verifier)
        .post(_review_url(decided), {"action": "approve", "version": decided.version})
        .status_code
        == 302
    )
    client = _client(personas.owner)
    client.get(QUEUE)
    import django.db

    # The session user, the scope (orders, titles, rights), the rows (with what the triple match
    # needs of their proofs) and the statement lines: nothing per row, no permission tables.
    with django.test.utils.CaptureQueriesContext(django.db.connection) as awaiting:
        html = client.get(QUEUE).content.decode()
    assert len(awaiting.captured_queries) == 4
    assert (waiting.code in html, decided.code in html) == (True, False)
    assert "Owner&#x27;s order" in html  # the title, from the scope
    # Decided rows name the decider (one more statement, only when a row was decided).
    with django.test.utils.CaptureQueriesContext(django.db.connection) as everything:
        html = client.get(QUEUE + "?state=all").content.decode()
    assert len(everything.captured_queries) == 5
    row = html.split(f'data-code="{decided.code}"')[1].split("</tr>")[0]
    assert "<td>Approved<br><small>Vera Verifier</small></td>" in row
    row = html.split(f'data-code="{waiting.code}"')[1].split("</tr>")[0]
    assert row.endswith("<td>Awaiting a decision</td>")


def test_queue_frame_is_reused_but_never_shows_stale_rows_orders_or_messages(personas) -> None:
    from django.core.cache import caches

    first = queued(group_order=personas.order, buyer_name="Ana Reyes")
    client = _client(personas.owner)
    client.get(QUEUE)  # sets the CSRF cookie
    caches["pages"].clear()
    client.get(QUEUE)
    frames = [key for key in caches["pages"]._cache if "queue-frame" in key]  # type: ignore[attr-defined]
    assert len(frames) == 1
    # A new proof shows on the next load (rows are never cached), under the same frame.
    second = queued(group_order=personas.order, buyer_name="Ben Cruz")
    html = client.get(QUEUE).content.decode()
    assert (first.code in html, second.code in html) == (True, True)
    assert html.count('class="queue-row"') == 2
    assert html.count("<!--queue-rows-->") == 0
    # A new group order is a new frame: its title is in the filter at once.
    GroupOrderFactory(owner=personas.owner, title="Fresh drop")
    assert ">Fresh drop</option>" in client.get(QUEUE).content.decode()
    # Other filters, other frame; the search box keeps what was typed.
    assert 'value="reyes"' in client.get(QUEUE + "?q=reyes").content.decode()
    frames = [key for key in caches["pages"]._cache if "queue-frame" in key]  # type: ignore[attr-defined]
    assert len(frames) == 3
    # A one-time message is shown (that frame is rendered, not taken from the cache) and then
    # gone, while the rows stay as they are.
    from django.contrib.messages import constants
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.test import RequestFactory

    storage = CookieStorage(RequestFactory().get("/"))
    client.cookies["messages"] = storage._encode([Message(constants.SUCCESS, "Done: 3 rejected.")])
    with_message = client.get(QUEUE).content.decode()
    after = client.get(QUEUE).content.decode()
    assert ("Done: 3 rejected." in with_message, "Done: 3 rejected." in after) == (True, False)
    assert with_message.count('class="queue-row"') == after.count('class="queue-row"') == 2


def test_a_gom_without_group_orders_sees_an_empty_queue(personas) -> None:
    from django.contrib.auth.models import Group

    from accounts.roles import GOM_GROUP
    from tests.factories import StaffFactory

    queued(group_order=personas.order)
    newcomer = StaffFactory(email="new-gom@example.test")
    newcomer.groups.add(Group.objects.get(name=GOM_GROUP))

    response = _client(newcomer).get(QUEUE + "?state=all&q=a")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="queue-row"') == 0
    assert "Nothing here: no proof matches." in html


def test_queue_rows_are_prepared_for_the_plain_queue_and_follow_new_orders(personas) -> None:
    import django.db

    first = queued(group_order=personas.order, buyer_name="Ana Reyes")
    client = _client(personas.owner)

    def rows_statement(url: str) -> tuple[str, str]:
        with django.test.utils.CaptureQueriesContext(django.db.connection) as queries:
            html = client.get(url).content.decode()
        (sql,) = [
            q["sql"]
            for q in queries.captured_queries
            if "verification_queue_rows_" in q["sql"] or '"verification_proofreview" r' in q["sql"]
        ]
        return sql, html

    # The plain queue: planned once per connection and shape, executed by name after.
    for _ in range(2):
        sql, html = rows_statement(QUEUE)
        assert sql.startswith("EXECUTE verification_queue_rows_")
        assert first.code in html
    # A flag or a search keeps a share of rows that depends on its value: planned each time.
    for query in ("?flag=amount_mismatch", "?q=reyes"):
        sql, html = rows_statement(QUEUE + query)
        assert sql.startswith("SELECT ")
    assert first.code in html
    # A new group order is in the next page's statement (the compiled ids follow the scope).
    newer = GroupOrderFactory(owner=personas.owner, title="Fresh drop")
    second = queued(group_order=newer, buyer_name="Ben Cruz")
    sql, html = rows_statement(QUEUE)
    assert sql.startswith("EXECUTE verification_queue_rows_")
    assert (first.code in html, second.code in html) == (True, True)
