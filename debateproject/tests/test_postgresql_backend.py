"""The PostgreSQL backend checks a reused connection only when it may have died idle, and replaces a dead one."""
import time

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.db.utils import OperationalError

from debateproject.postgresql import base

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend (DATABASE_URL on PostgreSQL)"),
    pytest.mark.django_db(transaction=True),  # outside a test's transaction, as a server's calls run
]


def call(sql: str = "SELECT pg_backend_pid()"):
    """One call as Channels makes one (database_sync_to_async): stale connections closed before and after."""
    close_old_connections()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]
    finally:
        close_old_connections()


def terminate(pid: int) -> None:
    """The server drops the connection (a restart, an admin, a proxy's idle timeout), from another session."""
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")},
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.05)  # the backend is gone once its socket is


@pytest.fixture
def health_checks(monkeypatch):
    """Count the health checks (Django's SELECT 1) the backend makes."""
    made = []
    checked = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: made.append(1) or checked())
    assert connection.health_check_enabled  # CONN_HEALTH_CHECKS, as settings give it
    return made


def test_it_does_not_check_a_connection_that_answered_a_moment_ago(health_checks):
    first = call()

    assert [call() for _ in range(5)] == [first] * 5  # the same connection, reused
    assert health_checks == []


def test_it_checks_a_connection_idle_for_longer_and_replaces_one_the_server_dropped(health_checks):
    first = call()
    terminate(first)
    time.sleep(base.FRESH_FOR)

    second = call()  # no error: the check found the connection dead and a new one answered

    assert second != first
    assert health_checks == [1]


def test_a_connection_dropped_in_the_moment_after_it_answered_fails_one_call_and_the_next_reconnects(
        health_checks, monkeypatch):
    monkeypatch.setattr(base, "FRESH_FOR", 60.0)  # the drop falls inside the moment, however slow this machine is
    first = call()
    terminate(first)

    with pytest.raises(OperationalError):
        call()  # as it would fail right after a check: the trade this backend makes, one call
    second = call()

    assert second != first
    assert health_checks == [1]  # the failed call's connection was checked (and closed) as it ended
