"""What a page lists must agree with what it opens: a row whose change page is a 404 (or 403)
for someone is not in their changelist either, and another GOM's exports hold none of it."""

import pytest
from django.urls import reverse

from tests.access.conftest import PersonaClients
from tests.access.matrix import parse
from tests.access.routes import world_object
from tests.access.test_access_matrix import EXPECTED
from tests.access.world import PERSONAS, World

STAFF = ("owner", "assistant", "other_gom", "finance", "superuser")


def _changelists() -> list[str]:
    return sorted(
        key.removeprefix("admin:").removesuffix("_changelist")
        for key in EXPECTED
        if key.endswith("_changelist") and f"{key.removesuffix('_changelist')}_change" in EXPECTED
    )


@pytest.mark.parametrize("model_key", _changelists())
def test_changelist_lists_the_row_exactly_when_its_page_opens(
    model_key: str, world: World, client_for: PersonaClients
) -> None:
    from django.contrib import admin

    model = next(
        m for m in admin.site._registry if f"{m._meta.app_label}_{m._meta.model_name}" == model_key
    )
    obj = world_object(world, model)
    assert obj is not None, f"the world has no {model_key}"
    opens = dict(zip(PERSONAS, parse(EXPECTED[f"admin:{model_key}_change"]), strict=True))
    listed_by = dict(zip(PERSONAS, parse(EXPECTED[f"admin:{model_key}_changelist"]), strict=True))
    mismatches = []
    for persona in STAFF:
        if listed_by[persona] != 200:
            continue
        response = client_for(persona).get(reverse(f"admin:{model_key}_changelist"))
        if "cl" not in response.context:  # a custom screen (the verification queue)
            continue
        changelist = response.context["cl"]
        listed = obj.pk in {row.pk for row in changelist.result_list}
        if listed != (opens[persona] == 200):
            mismatches.append(f"{persona}: listed={listed}, change page={opens[persona]}")
    assert mismatches == []


@pytest.mark.parametrize("kind", ["payments", "refunds", "reconciliation", "discrepancies"])
def test_another_goms_export_holds_none_of_the_owners_rows(
    kind: str, client_for: PersonaClients
) -> None:
    url = reverse("admin:payments_finance_export", args=[kind, "csv"])
    mine = b"".join(client_for("owner").get(url).streaming_content)
    theirs = b"".join(client_for("other_gom").get(url).streaming_content)
    finance = b"".join(client_for("finance").get(url).streaming_content)
    # Same columns, and the other GOM's file is the header alone: the world has one row of
    # each kind, the owner's, which the owner's and finance's files hold.
    assert theirs.split(b"\n", 1)[0] == mine.split(b"\n", 1)[0]
    assert theirs.count(b"\n") == 1, theirs
    assert mine.count(b"\n") > 1
    assert finance.count(b"\n") >= mine.count(b"\n")
    if kind == "payments":
        assert b"7000111222333" in mine  # the owner's payment reference
        assert b"7000111222333" not in theirs
