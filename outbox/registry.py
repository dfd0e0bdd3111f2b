"""Which function handles which topic, registered by the consumer apps in their ready()."""

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

_HANDLERS: dict[str, str] = {}


def register(topic: str, handler_path: str) -> None:
    """Name the function (a dotted path) that delivers messages of ``topic``."""
    _HANDLERS[topic] = handler_path


def handler_for(topic: str) -> Callable[[dict[str, Any]], None]:
    try:
        return import_string(_HANDLERS[topic])
    except KeyError:
        raise LookupError(f"no outbox handler for topic {topic!r}") from None
