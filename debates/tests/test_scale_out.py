"""Scale-out: PostgreSQL and Redis, with several daphne processes and a debate run by a third process."""
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import websockets

from providers.tests.servers import FakeOpenAIServer
from debates.tests.conftest import followed_text, numbered, valid_verdict

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"

SETUP = """
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from providers.models import Provider, LLMModel
user = User.objects.create_user("watcher", password="watch-it-closely-42")
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
provider = Provider.objects.create(display_name="Fake OpenAI", litellm_provider="openai", api_base="{api_base}")
model = LLMModel.objects.create(provider=provider, model_name="fake", display_name="Fake")
print(session.session_key, model.pk)
"""


def missing_services() -> list[str]:
    missing = []
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                missing.append(f"{name} on 127.0.0.1:{port}")
    return missing


# `make test` installs and starts both (scripts/ensure_services.sh) and stops when it cannot; a bare pytest run on
# a machine without them skips here and says which one is missing.
pytestmark = pytest.mark.skipif(bool(missing_services()),
                                reason=f"not answering: {', '.join(missing_services())} (`make services` starts them)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def scale_out_env():
    name = f"arena_scaleout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}", "REDIS_URL": REDIS_URL,
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "ARENA_LLM_PREWARM": "false"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    yield env
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def daphnes(scale_out_env):
    ports = [free_port(), free_port()]
    processes = [subprocess.Popen([str(ROOT / ".venv/bin/daphne"), "-b", "127.0.0.1", "-p", str(port),
                                   "debateproject.asgi:application"], cwd=ROOT, env=scale_out_env,
                                  stdout=open(f"/tmp/daphne-{port}.log", "w"), stderr=subprocess.STDOUT) for port in ports]
    try:
        for port in ports:
            _wait_for_http(f"http://127.0.0.1:{port}/login/")
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _wait_for_http(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def watch(port: int, debate_id: int, session: str) -> list[dict]:
    """Everything one browser tab on this daphne process receives until the debate completes."""
    received = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/debates/{debate_id}/",
                                  origin=f"http://127.0.0.1:{port}",
                                  additional_headers={"Cookie": f"sessionid={session}"}) as socket_:
        while True:
            message = json.loads(await asyncio.wait_for(socket_.recv(), timeout=60))
            received.append(message)
            finished = message["type"] == "snapshot" and message["payload"]["debate"]["status"] == "completed"
            if finished or message["type"] in ("debate.completed", "debate.failed"):
                return received


def run_debate_elsewhere(env: dict, server: FakeOpenAIServer, topic: str) -> tuple[str, subprocess.Popen, int]:
    """A watcher's session, and a 1-round debate of the fake model run by `manage.py run_debate` (a process of its
    own): its process and the debate's id."""
    setup = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP.format(api_base=server.url + "/v1")],
                           cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    session, model_id = setup.stdout.strip().splitlines()[-1].split()
    runner = subprocess.Popen(
        [sys.executable, "manage.py", "run_debate", "--topic", topic, "--seat", f"{model_id}:for",
         "--seat", f"{model_id}:against", "--judge", model_id, "--rounds", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return session, runner, _first_debate_id(env)


def test_watchers_on_two_daphne_processes_follow_a_debate_run_by_a_third(scale_out_env, daphnes):
    with FakeOpenAIServer() as server:
        server.responder = lambda body: valid_verdict(body) if "impartial" in str(body) else "Across processes we argue."
        server.chunk_delay = 0.05
        session, runner, debate_id = run_debate_elsewhere(scale_out_env, server, "Scale out")

        async def both():
            return await asyncio.gather(*(watch(port, debate_id, session) for port in daphnes))

        first, second = asyncio.run(both())
        runner.communicate(timeout=60)

    for received in (first, second):
        assert received[0]["type"] == "snapshot"
        seqs = numbered(received)
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # nothing lost, nothing doubled
        completed = [m for m in received if m["type"] == "turn.completed"]
        assert completed and completed[-1]["payload"]["text"] == "Across processes we argue."
    assert runner.returncode == 0


def _first_debate_id(env: dict) -> int:
    deadline = time.monotonic() + 30
    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT id FROM debates_debate ORDER BY id LIMIT 1").fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
    raise AssertionError("run_debate never created its debate")


def test_a_late_joiner_on_another_process_gets_the_exact_text_in_progress(scale_out_env, daphnes):
    """The runner is a process of its own: the joiner's snapshot holds the text as last saved (a few times a
    second), and the deltas that follow continue it exactly, with no gap and nothing doubled."""
    speech = " ".join(f"word{i}" for i in range(60))  # 3 s a turn at 20 words a second
    with FakeOpenAIServer() as server:
        server.responder = lambda body: valid_verdict(body) if "impartial" in str(body) else speech
        server.chunk_delay = 0.05
        session, runner, debate_id = run_debate_elsewhere(scale_out_env, server, "Join late")
        _wait_for_saved_text(scale_out_env, debate_id)
        received = asyncio.run(watch(daphnes[1], debate_id, session))
        runner.communicate(timeout=60)

    snapshot = received[0]
    streaming = [t for t in snapshot["payload"]["turns"] if t["status"] == "streaming"]
    assert len(streaming) == 1 and streaming[0]["text"] and speech.startswith(streaming[0]["text"])
    text = streaming[0]["text"]
    for message in received[1:]:
        payload = message["payload"]
        if message["type"] == "turn.delta" and payload["turn_id"] == streaming[0]["id"]:
            text = followed_text([payload], text)
            assert text is not None and speech.startswith(text)
        if message["type"] == "turn.completed" and payload["id"] == streaming[0]["id"]:
            assert text == payload["text"] == speech  # the deltas alone had brought it whole
            break
    else:
        raise AssertionError("the joined turn never completed")


def _wait_for_saved_text(env: dict, debate_id: int) -> None:
    deadline = time.monotonic() + 30
    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT 1 FROM debates_turn WHERE debate_id = %s AND status = 'streaming' AND text <> ''",
                            (debate_id,)).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError("no turn's text was ever saved while streaming")
