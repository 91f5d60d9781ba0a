"""The real app in a daphne subprocess, on the test database, for tests that speak HTTP like any client."""
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from providers.tests.subprocess_env import current_database_url

DAPHNE = Path(sys.executable).parent / "daphne"
START_TIMEOUT_SECONDS = 30
LOG_TAIL_LINES = 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def api_live_server(transactional_db, provider_key) -> Iterator[str]:
    """The base URL of daphne serving debateproject.asgi on the test database (tests must commit their rows:
    `django_db(transaction=True)`). The server inherits this process's environment, so provider keys the test
    sets (provider_key) reach the models it calls."""
    with daphne_on_test_db() as (url, _):
        yield url


@contextmanager
def daphne_on_test_db(*, takeover: bool = False) -> Iterator[tuple[str, subprocess.Popen]]:
    """daphne on the test database: its base URL and its process, stopped (SIGTERM) on the way out. Automatic
    takeover is off unless asked for: this process's tests run debates of their own on the same database."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": current_database_url(), "ARENA_AUTO_TAKEOVER": str(takeover).lower(),
           "DJANGO_SETTINGS_MODULE": "debateproject.settings", "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen([str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "debateproject.asgi:application"],
                                  cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        serving = failed = False
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(server, url, log)
            serving = True
            yield url, server
        except BaseException:  # the test failed (or was interrupted) while the server ran: shown below
            failed = serving  # a failed start already carries the log in its message
            raise
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if failed:  # a 500 answers "it has been logged": its traceback is only here
                print(f"daphne's log (last {LOG_TAIL_LINES} lines):\n{_tail(log)}")


def start_speaking(url: str, model, *, topic: str, rounds: int = 1) -> int:
    """Create and start a 2-seat debate of `model` over the API of the daphne at `url`; return its id once its
    first turn has text saved (the server is mid-stream)."""
    from accounts.tests.factories import bearer, issue_token
    from debates.models import Debate

    _, secret = issue_token()
    seats = [{"model_id": model.pk, "stance": stance} for stance in ("for", "against")]
    with httpx.Client(base_url=url, headers=bearer(secret), timeout=10) as api:
        debate_id = api.post("/api/debates", json={"topic": topic, "rounds": rounds, "judge_model_id": model.pk,
                                                   "seats": seats}).json()["id"]
        assert api.post(f"/api/debates/{debate_id}/start").status_code == 202
    deadline = time.monotonic() + 60
    while not Debate.objects.get(pk=debate_id).turns.exclude(text="").exists():
        assert time.monotonic() < deadline, "the debate never started speaking"
        time.sleep(0.05)
    return debate_id


def _wait_until_healthy(server: subprocess.Popen, url: str, log) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"daphne did not answer on {url} (exit code {server.poll()}):\n{_tail(log)}")


def _tail(log) -> str:
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-LOG_TAIL_LINES:])
