"""The access matrix's shared world and one signed-in client per persona."""

import logging
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.access.routes import Route, routes
from tests.access.world import PERSONAS, World, world_in_rolled_back_transaction


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    yield from world_in_rolled_back_transaction(django_db_blocker)


@pytest.fixture(scope="module", autouse=True)
def _quiet_refusals() -> Iterator[None]:
    # Django logs every 403/404/405 with its traceback; the matrix makes a thousand on purpose.
    # Server errors (500) are still logged.
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def sessions(world: World, django_db_blocker: Any) -> dict[str, str]:
    """A session key per persona, made once inside the world's transaction."""
    keys = {}
    with django_db_blocker.unblock():
        for persona in PERSONAS:
            if persona == "anonymous":
                continue
            client = Client()
            client.force_login(world.users[persona])
            keys[persona] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return keys


@pytest.fixture(scope="module")
def route_map(world: World, django_db_blocker: Any) -> dict[str, Route]:
    with django_db_blocker.unblock():
        return {route.key: route for route in routes(world)}


class PersonaClients:
    """Fresh clients carrying only the persona's session, so no cookie leaks between requests."""

    def __init__(self, sessions: dict[str, str]) -> None:
        self.sessions = sessions

    def __call__(self, persona: str) -> Client:
        # A 500 is an answer the matrix records, not an exception that stops the test.
        client = Client(raise_request_exception=False)
        if persona != "anonymous":
            client.cookies = SimpleCookie({settings.SESSION_COOKIE_NAME: self.sessions[persona]})
        return client


@pytest.fixture
def client_for(db: None, sessions: dict[str, str]) -> PersonaClients:
    return PersonaClients(sessions)
