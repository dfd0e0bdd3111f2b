"""Every route of the project, found in the URL resolver, with its path parameters filled in.

Nothing here lists pages by hand: the walk visits ``config.urls`` recursively, which includes the
admin site's own pages and, for every registered ModelAdmin, its ``get_urls()`` (changelist,
add, change, delete, history, simple-history's past versions, and custom views). A page added
tomorrow is found tomorrow, and the matrix fails until it has an entry.

A route's key is its URL name (``admin:payments_grouporder_change``, ``verification:proof-file``),
or its pattern when it has no name; routes whose parameter chooses a different page (the admin's
app index, the finance exports) become one route per value (``admin:app_list[payments]``).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from payments.reconciliation.exports import EXPORTS
from tests.access.world import World


@dataclass(frozen=True)
class RouteTemplate:
    key: str
    pieces: tuple[Any, ...]  # the RoutePattern / RegexPattern of each level, outermost first
    model: type[Model] | None  # the ModelAdmin's model, for routes of a ModelAdmin


@dataclass(frozen=True)
class Route:
    key: str
    path: str
    model: type[Model] | None


def _admin_prefixes() -> dict[str, type[Model]]:
    return {
        f"admin/{model._meta.app_label}/{model._meta.model_name}/": model
        for model in admin.site._registry
    }


def _walk(
    patterns: list[Any],
    pieces: tuple[Any, ...],
    namespace: str,
    model: type[Model] | None,
    prefixes: dict[str, type[Model]],
) -> Iterator[tuple[tuple[Any, ...], str, str | None, type[Model] | None]]:
    for pattern in patterns:
        here = (*pieces, pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            prefix = "".join(str(piece) for piece in here)
            yield from _walk(
                pattern.url_patterns, here, inner, prefixes.get(prefix, model), prefixes
            )
        elif isinstance(pattern, URLPattern):
            yield here, namespace, pattern.name, model


def route_templates() -> list[RouteTemplate]:
    """Return every route of the resolver (no database needed: used at collection time)."""
    found: list[RouteTemplate] = []
    for pieces, namespace, name, model in _walk(
        get_resolver().url_patterns, (), "", None, _admin_prefixes()
    ):
        pattern = "".join(str(piece) for piece in pieces)
        key = f"{namespace}:{name}" if namespace and name else (name or pattern)
        found.append(RouteTemplate(key=key, pieces=pieces, model=model))
    keys = [template.key for template in found]
    duplicates = {key for key in keys if keys.count(key) > 1}
    # Two routes sharing a name (or an unnamed pattern) are told apart by their pattern.
    return [
        RouteTemplate(
            key="".join(str(piece) for piece in t.pieces) if t.key in duplicates else t.key,
            pieces=t.pieces,
            model=t.model,
        )
        for t in found
    ]


# How the routes outside the admin get their parameters, by key.
def _public_values(world: World) -> dict[str, dict[str, Any]]:
    submission, paid = world.submission, world.paid_submission
    return {
        "payments:group-order": {"pk": world.order.pk},
        "payments:submission-pay": {"code": submission.code},
        "payments:submission-credit": {"code": submission.code},
        "payments:submission-refund": {"code": paid.code},
        "payments:method-qr": {"pk": world.method.pk},
        "buyer:submission-status": {"code": submission.code},
        "buyer:submission-receipt": {"code": paid.code},
        "verification:proof-upload": {"code": submission.code},
        "verification:proof-file": {"pk": world.proof.pk},
        "verification:proof-thumbnail": {"pk": world.proof.pk},
        "verification:api-payment-proof": {"pk": submission.pk},
        "api-refund-request": {"pk": world.payment.pk},
        "api-apply-credit": {"pk": submission.pk},
        "api-schedule": {"pk": paid.pk},
        # A link that was never issued: the page must refuse it the same way for everyone.
        "legacy:claim": {"uidb64": "MA", "token": "not-a-token"},
    }


# Query strings that make a page answer its normal way rather than "bad request".
QUERIES = {"verification:api-method-templates": "?country=PH"}


def world_object(world: World, model: type[Model]) -> Model | None:
    """The object a ModelAdmin's pages open: the world's, else any row, else none (a 404)."""
    label = f"{model._meta.app_label}.{model._meta.model_name}"
    if label in world.objects:
        return world.objects[label]
    return model._default_manager.order_by("pk").first()


def _history_id(obj: Model | None) -> Any:
    history = getattr(obj, "history", None)
    if obj is None or history is None or not hasattr(history, "order_by"):
        return 0
    latest = history.order_by("-history_id").first()
    return latest.history_id if latest is not None else 0


def _fill(piece: Any, named: dict[str, Any], positional: list[Any]) -> str:
    if isinstance(piece, RoutePattern):
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(named[m.group(1)]), str(piece))
    assert isinstance(piece, RegexPattern), piece
    text = str(piece).removeprefix("^").removesuffix("$")
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(named[m.group(1)]), text)
    values = iter(positional)
    return re.sub(r"\([^)]*\)", lambda m: str(next(values)), text)


def _parameters(template: RouteTemplate) -> set[str]:
    names: set[str] = set()
    for piece in template.pieces:
        if isinstance(piece, RoutePattern):
            names |= set(re.findall(r"<(?:\w+:)?(\w+)>", str(piece)))
        else:
            names |= set(piece.regex.groupindex)
            if piece.regex.groups > len(piece.regex.groupindex):
                names.add("*")
    return names


def _variants(template: RouteTemplate, world: World) -> list[tuple[str, dict[str, Any], list]]:
    """(key suffix, named values, positional values) for each page this route stands for."""
    parameters = _parameters(template)
    if not parameters:
        return [("", {}, [])]
    if "app_label" in parameters:
        labels = sorted({model._meta.app_label for model in admin.site._registry})
        return [(f"[{label}]", {"app_label": label}, []) for label in labels]
    if {"kind", "file_format"} <= parameters:
        return [
            (f"[{kind}.{fmt}]", {"kind": kind, "file_format": fmt}, [])
            for kind in sorted(EXPORTS)
            for fmt in ("csv", "xlsx")
        ]
    if parameters == {"url"}:  # the admin's catch-all
        return [("", {"url": "no-such-page/"}, [])]
    if parameters == {"content_type_id", "object_id"}:  # the admin's "view on site"
        from django.contrib.contenttypes.models import ContentType

        order = world.order
        content_type = ContentType.objects.get_for_model(order)
        return [("", {"content_type_id": content_type.pk, "object_id": order.pk}, [])]
    if template.model is not None:
        obj = world_object(world, template.model)
        pk = obj.pk if obj is not None else 0
        return [("", dict.fromkeys(parameters - {"*"}, pk), [pk, _history_id(obj)])]
    values = _public_values(world).get(template.key)
    if values is None:
        raise LookupError(
            f"Route {template.key!r} takes {sorted(parameters)}: say which world object fills "
            "them in tests/access/routes.py (_public_values)."
        )
    return [("", values, [])]


def routes(world: World) -> list[Route]:
    """Return every concrete page of the project, keyed, with its parameters from the world."""
    found = []
    for template in route_templates():
        for suffix, named, positional in _variants(template, world):
            path = "/" + "".join(_fill(piece, named, positional) for piece in template.pieces)
            key = template.key + suffix
            found.append(Route(key=key, path=path + QUERIES.get(key, ""), model=template.model))
    return found
