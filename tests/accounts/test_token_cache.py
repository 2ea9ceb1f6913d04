"""Each process answers for session tokens from memory, and forgets them the moment a login,
logout or user change commits anywhere; while it cannot hear those notices it keeps nothing."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
import requests
from django_redis import get_redis_connection

from apps.accounts.token_cache import CHANNEL, TokenCache
from tests.concurrency import free_port, run_together
from tests.factories import PASSWORD, UserFactory
from tests.processes import web_server

LOGIN = "/_allauth/app/v1/auth/login"
SESSION = "/_allauth/app/v1/auth/session"
MINE = "/api/v1/me/purchases"
# A logout or deactivation reaches every instance through Redis pub/sub within this.
NOTICE_BOUND = 1.0


class Loads:
    """A token loader that counts its calls (each one is a trip to Redis in production)."""

    def __init__(self, user) -> None:
        self.user = user
        self.calls = 0

    def __call__(self, token: str):
        self.calls += 1
        return (self.user, None)


def _eventually(check, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.01)


@pytest.fixture
def cache(settings):
    # A connection of the test's own for the listener, named so that the test can cut it alone.
    name = f"token-cache-test-{uuid.uuid4().hex[:8]}"
    cache = TokenCache(lambda: redis.Redis.from_url(settings.REDIS_URL, client_name=name))
    cache.client_name = name
    _eventually(lambda: cache.listening)
    yield cache
    cache.stop()


@pytest.mark.django_db
def test_a_token_is_resolved_once_then_served_from_memory(cache):
    user = UserFactory()
    load = Loads(user)

    first = cache.resolve("tok-a", load)
    again = [cache.resolve("tok-a", load) for _ in range(20)]

    assert load.calls == 1
    assert first.pk == user.pk
    assert all(u.pk == user.pk for u in again)
    assert len({id(u) for u in again}) == 20  # a copy per request, never one shared object


@pytest.mark.django_db
def test_a_notice_from_another_process_drops_the_users_tokens_at_once(cache):
    user, other = UserFactory(), UserFactory()
    load, load_other = Loads(user), Loads(other)
    cache.resolve("tok-a", load)
    cache.resolve("tok-b", load)
    cache.resolve("tok-c", load_other)

    # What a process that logged the user out publishes once its transaction commits.
    get_redis_connection("default").publish(CHANNEL, str(user.pk))
    _eventually(lambda: "tok-a" not in cache._entries)

    cache.resolve("tok-a", load)
    cache.resolve("tok-b", load)
    cache.resolve("tok-c", load_other)
    assert load.calls == 4  # both of the user's tokens resolved again
    assert load_other.calls == 1  # the other user's kept


@pytest.mark.django_db
def test_nothing_is_kept_while_the_process_cannot_hear_notices(cache):
    user = UserFactory()
    load = Loads(user)
    cache.resolve("tok-a", load)

    # The listener's connection is cut (a Redis restart, a network fault)...
    admin = get_redis_connection("default")
    for client in admin.client_list(_type="pubsub"):
        if client["name"] == cache.client_name:
            admin.client_kill_filter(_id=client["id"])
    _eventually(lambda: not cache.listening)
    # ...what it had is gone and, until it listens again, every request resolves afresh.
    for _ in range(3):
        if cache.listening:
            break
        cache.resolve("tok-a", load)
    assert load.calls >= 2
    _eventually(lambda: cache.listening)
    calls = load.calls
    cache.resolve("tok-a", load)
    cache.resolve("tok-a", load)
    assert load.calls == calls + 1


@pytest.mark.django_db
def test_a_resolution_overtaken_by_a_notice_is_not_kept(cache):
    user = UserFactory()
    started, noticed = threading.Event(), threading.Event()

    def slow_load(token: str):
        started.set()
        assert noticed.wait(5)  # the user changes while this resolution reads the old state
        return (user, None)

    def change():
        assert started.wait(5)
        get_redis_connection("default").publish(CHANNEL, str(user.pk))
        generation = cache._generation
        _eventually(lambda: cache._generation > generation)
        noticed.set()

    run_together([lambda: cache.resolve("tok-a", slow_load), change])

    load = Loads(user)
    cache.resolve("tok-a", load)
    assert load.calls == 1


def _logged_in(base: str, user) -> dict[str, str]:
    login = requests.post(
        f"{base}{LOGIN}", json={"email": user.email, "password": PASSWORD}, timeout=10
    )
    return {"X-Session-Token": login.json()["meta"]["session_token"]}


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_logout_on_one_instance_ends_the_token_on_the_other_at_once():
    user = UserFactory()
    with web_server(free_port()) as first, web_server(free_port()) as second:
        headers = _logged_in(first, user)
        # The second instance's processes resolve the token and keep it.
        for _ in range(6):
            assert requests.get(f"{second}{MINE}", headers=headers, timeout=10).status_code == 200

        assert requests.delete(f"{first}{SESSION}", headers=headers, timeout=10).status_code == 401

        answers = [requests.get(f"{second}{MINE}", headers=headers, timeout=10) for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_deactivated_user_is_refused_by_every_instance_within_the_notice_bound():
    user = UserFactory()
    with web_server(free_port()) as first, web_server(free_port()) as second:
        headers = _logged_in(first, user)
        for base in (first, second, first, second):
            assert requests.get(f"{base}{MINE}", headers=headers, timeout=10).status_code == 200

        user.is_active = False
        user.save(update_fields=["is_active"])
        saved = time.monotonic()

        # The notice travels by Redis pub/sub: each instance hears it within milliseconds (a
        # loaded machine may take longer to schedule its listener), and from then on refuses.
        for base in (first, second):
            while requests.get(f"{base}{MINE}", headers=headers, timeout=10).status_code != 401:
                assert time.monotonic() - saved < NOTICE_BOUND, f"{base} still accepts the user"
                time.sleep(0.01)
        answers = [
            requests.get(f"{base}{MINE}", headers=headers, timeout=10)
            for base in (first, second) * 3
        ]
    assert [a.status_code for a in answers] == [401] * 6
