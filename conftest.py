"""Fixtures shared by every test tier: real local servers that speak the providers' wire protocols."""
import os
from pathlib import Path

import pytest

from providers.tests.servers import FakeAnthropicServer, FakeOllamaServer, FakeOpenAIServer

# The real llama.cpp server and the Ollama relay, for every app's tests.
pytest_plugins = ["providers.tests.local_llm_fixtures"]

PROVIDER_KEY_VAR = "FAKE_PROVIDER_API_KEY"
PROVIDER_KEY = "sk-test-0123456789abcdef-secret"
BUILD_DRAIN_SECONDS = 25  # longer than SQLite's busy timeout, the longest a statement of a build can wait


# Retries back off for a few milliseconds in tests (also in the servers and commands they start), not seconds:
# how long to wait is tenacity's arithmetic, tested on its own; how many calls a fault costs is what tests count.
os.environ["ARENA_LLM_RETRY_BACKOFF"] = "0.01"
# No leaderboard is rebuilt behind a test's back when it saves a verdict: those that want one ask for it.
os.environ["ARENA_LEADERBOARD_REBUILD_ON_CHANGE"] = "0"


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.LLM_RETRY_BACKOFF_SECONDS = 0.01
    settings.LEADERBOARD_REBUILD_ON_CHANGE = False  # as the environment above says for the servers tests start


@pytest.fixture(autouse=True)
def a_channel_layer_per_test():
    """Each test gets channel layers of its own, as each gets an event loop of its own. channels-redis keeps asyncio
    locks on the layer across calls, and counts a receive waiting for its per-channel lock without uncounting one
    cancelled while it waits (a test's loop closing cancels it): that lock then outlives its loop, bound to it, and
    the first receive of a later test that must wait for it fails ("Lock ... is bound to a different event loop",
    seen on a loaded machine), closing that test's watchers. A server has one loop, so this is the tests' own."""
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def no_connection_outlives_the_run(django_db_setup, django_db_blocker):
    """PostgreSQL refuses to drop a database that a session still uses, and worker threads of the async tests
    (Django's async ORM, database_sync_to_async) keep theirs open: end them before the test database goes."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", [connection.settings_dict["NAME"]])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """No leaderboard build a test asked for runs on into the next test: it would read that test's data and wait
    on its locks. Once the test's database is gone (access blocked again) a queued build fails at once, so this
    waits only for a build in the middle of a statement."""
    result = yield
    from ratings import board

    try:
        board.wait_idle(timeout=BUILD_DRAIN_SECONDS)
    except TimeoutError as error:
        raise TimeoutError(f"{error}\n{_database_activity()}") from None
    return result


def _database_activity() -> str:
    """What every session of the test database is doing (PostgreSQL): which one waits on whom."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    import psycopg

    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port")},
                         autocommit=True) as conn:
        rows = conn.execute("SELECT pid, pg_blocking_pids(pid), state, wait_event_type, wait_event, "
                            "now() - xact_start, left(query, 160) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return "sessions of the test database (pid, blocked by, state, wait, transaction age, query):\n" + "\n".join(
        map(str, rows))


@pytest.fixture
def openai_server():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def anthropic_server():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def ollama_server():
    with FakeOllamaServer() as server:
        yield server


@pytest.fixture
def api(client, db):
    """The test client, signed in with a bearer token: api.get("/api/debates")."""
    from accounts.tests.factories import bearer, issue_token

    token, secret = issue_token()
    client.defaults["HTTP_AUTHORIZATION"] = bearer(secret)["Authorization"]
    client.user = token.user  # who the API sees: the owner of the debates it creates
    return client


@pytest.fixture
def provider_key(monkeypatch) -> str:
    monkeypatch.setenv(PROVIDER_KEY_VAR, PROVIDER_KEY)
    return PROVIDER_KEY


@pytest.fixture
def model_on(db, provider_key):
    """make(route, server) -> an LLMModel row whose calls reach that local server."""
    from providers.tests.factories import LLMModelFactory

    def make(route: str, server, **fields):
        api_base = server.url + "/v1" if route == "openai" else server.url
        needs_key = route in ("openai", "anthropic")
        return LLMModelFactory(
            provider__litellm_provider=route,
            provider__api_base=api_base,
            provider__api_key_env_var=PROVIDER_KEY_VAR if needs_key else "",
            **fields,
        )

    return make


def pytest_sessionfinish(session, exitstatus):
    """Django removes the SQLite test database but not its WAL side files; tidy them too."""
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if name:
        for suffix in ("-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
