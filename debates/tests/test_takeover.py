"""Automatic takeover: a debate whose runner died is claimed by exactly one process and finished, the cut turn
redone, every completed turn kept once; with takeover off it shows as interrupted at once."""
import asyncio
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from debates import takeover, tasks
from debates.orchestrator import DebateRunner
from debates.models import Debate, DebateStatus, Turn, TurnStatus
from debates.tests.api_live_server import daphne_on_test_db, start_speaking
from debates.tests.conftest import valid_verdict
from debates.tests.test_orchestrator import is_judge

pytestmark = pytest.mark.django_db(transaction=True)
SPEECH = " ".join(f"point{i}" for i in range(60))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def orphan(debate: Debate, *, runner: str, beat_ago: float, cut_text: str = "") -> Debate:
    """`debate` as a runner that died mid-turn leaves it: running, a lease, one turn half said."""
    seat = debate.seats.order_by("position").first()
    Turn.objects.create(debate=debate, seat=seat, round=1, status=TurnStatus.STREAMING, text=cut_text)
    Debate.objects.filter(pk=debate.pk).update(
        status=DebateStatus.RUNNING, runner_token="the-dead-runner", runner=runner, last_seq=3,
        heartbeat_at=timezone.now() - timedelta(seconds=beat_ago))
    return Debate.objects.get(pk=debate.pk)


def test_a_lease_that_ran_out_is_claimed_by_exactly_one_of_many_sweepers(debate_on, openai_server):
    debates = [orphan(debate_on(openai_server), runner="another-host:4242", beat_ago=60) for _ in range(3)]
    claims: list[list[tuple[int, str]]] = []
    start = threading.Barrier(4)

    def sweeper() -> None:
        start.wait()
        claims.append(takeover.sweep(set(), takeover=True))

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = sorted(pk for claim in claims for pk, _ in claim)
    assert claimed == sorted(d.pk for d in debates)  # each debate once, by one sweeper
    for pk, token in (pair for claim in claims for pair in claim):
        assert Debate.objects.get(pk=pk).runner_token == token


def test_a_live_runner_is_left_alone_and_a_dead_one_here_is_claimed_at_once(debate_on, openai_server):
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as alive:
        here = f"{takeover.leases.this_process().rpartition(':')[0]}"
        living = orphan(debate_on(openai_server), runner=f"{here}:{alive.pid}", beat_ago=1)
        dead = orphan(debate_on(openai_server), runner=f"{here}:{dead_pid()}", beat_ago=1)
        elsewhere = orphan(debate_on(openai_server), runner="another-host:4242", beat_ago=1)
        # Another container with this host name: its pids are not ours to look up, however dead they look here.
        namesake = orphan(debate_on(openai_server), runner=f"{socket.gethostname()}~0badcafe:{dead_pid()}",
                          beat_ago=1)
        older_namesake = orphan(debate_on(openai_server), runner=f"{socket.gethostname()}:{dead_pid()}", beat_ago=1)
        mine = orphan(debate_on(openai_server), runner="another-host:4243", beat_ago=60)

        claimed = takeover.sweep({mine.pk}, takeover=True)  # `mine`: this process runs it
        alive.kill()

    assert [pk for pk, _ in claimed] == [dead.pk]  # not waiting for its lease: its process is gone
    assert Debate.objects.get(pk=living.pk).runner_token == "the-dead-runner"
    assert Debate.objects.get(pk=elsewhere.pk).runner_token == "the-dead-runner"  # its lease still runs
    assert Debate.objects.get(pk=namesake.pk).runner_token == "the-dead-runner"
    assert Debate.objects.get(pk=older_namesake.pk).runner_token == "the-dead-runner"
    assert Debate.objects.get(pk=mine.pk).runner_token == "the-dead-runner"


def test_a_dead_runner_whose_pid_is_now_another_process_is_claimed_at_once(debate_on, openai_server):
    """As a container restarted in a new PID namespace that the kernel numbered as the old one: the same host tag
    and pid 1 again. The start time in the runner's name tells the dead runner from the process now at its pid."""
    here = takeover.leases.this_process()
    pid, start = here.rpartition(":")[2].split("@")
    earlier = orphan(debate_on(openai_server), runner=f"{here.rpartition(':')[0]}:{pid}@{int(start) - 100}",
                     beat_ago=1)

    assert [pk for pk, _ in takeover.sweep(set(), takeover=True)] == [earlier.pk]


def test_a_runner_killed_but_not_yet_reaped_by_its_parent_is_dead():
    here = takeover.leases.this_process().rpartition(":")[0]
    exited = subprocess.Popen([sys.executable, "-c", "pass"])  # a zombie until waited for
    try:
        deadline = time.monotonic() + 30
        while (stat := Path(f"/proc/{exited.pid}/stat").read_text()).rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, stat
            time.sleep(0.02)
        start = stat.rsplit(")", 1)[1].split()[19]

        assert takeover.leases.died_here(f"{here}:{exited.pid}@{start}")
        assert takeover.leases.died_here(f"{here}:{exited.pid}")  # as older rows name a runner
    finally:
        exited.wait()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_a_process_in_another_pid_namespace_is_another_host_though_its_host_name_is_the_same():
    """As two containers of one service are: same host name, pids of their own (pid 1 there is not pid 1 here)."""
    code = ("import django; django.setup(); from debates import leases; print(leases.this_process())")
    inside = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", code],
                            capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=60)
    if inside.returncode != 0 and "Operation not permitted" in inside.stderr:
        pytest.skip("this sandbox may not make a PID namespace")
    assert inside.returncode == 0, inside.stderr
    host, _, pid = inside.stdout.strip().rpartition(":")

    assert pid.split("@")[0] == "1" and host.split("~")[0] == socket.gethostname()
    assert host != takeover.leases.this_host()
    assert not takeover.leases.died_here(f"{host}:{dead_pid()}")  # not ours to judge: only its lease can run out


def runner_elsewhere(host: str) -> subprocess.Popen:
    """A runner process whose host is not this one's (as a container replaced on the same volume is): it names
    itself, and so holds its mark, then waits to be killed."""
    code = ("import django, sys, time; django.setup(); from debates import leases; "
            f"leases.this_host = lambda: {host!r}; print(leases.this_process(), flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                               cwd=settings.BASE_DIR)
    assert process.stdout.readline().strip().startswith(f"{host}:{process.pid}@")
    return process


def test_a_runner_of_another_host_whose_mark_is_no_longer_held_is_claimed_at_once(debate_on, openai_server):
    """Another host's pids cannot be looked up here; its mark in the shared var directory says when it died."""
    with runner_elsewhere("replaced-container~0a0a0a0a") as runner:
        name = next(name for name in takeover.leases.marked_runners()
                    if name.startswith(f"replaced-container~0a0a0a0a:{runner.pid}@"))
        debate = orphan(debate_on(openai_server), runner=name, beat_ago=1)

        assert takeover.sweep(set(), takeover=True) == []  # alive: its lease runs on
        runner.send_signal(signal.SIGKILL)
        runner.wait()

    claimed = takeover.sweep(set(), takeover=True)

    assert [pk for pk, _ in claimed] == [debate.pk]  # at once, not RUNNER_STALE_AFTER later
    assert Debate.objects.get(pk=debate.pk).runner == takeover.leases.this_process()
    takeover.sweep(set(), takeover=True)  # it holds nothing now: its mark goes
    assert not (settings.VAR_DIR / "runners" / f"{name}.lock").exists()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_a_runner_in_another_pid_namespace_that_is_killed_is_claimed_at_once(debate_on, openai_server):
    """As a container killed and replaced on the same volume: same host name, pids of its own."""
    code = ("import django, time; django.setup(); from debates import leases; "
            "print(leases.this_process(), flush=True); time.sleep(60)")
    with subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL", sys.executable,
                           "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=settings.BASE_DIR) as container:
        name = container.stdout.readline().strip()
        if not name and "Operation not permitted" in container.stderr.read():
            pytest.skip("this sandbox may not make a PID namespace")
        debate = orphan(debate_on(openai_server), runner=name, beat_ago=1)
        assert takeover.sweep(set(), takeover=True) == []  # alive

        container.send_signal(signal.SIGKILL)  # and with it, the runner inside
        container.wait()
        settle = time.monotonic() + 10
        while name in takeover.leases.marked_runners() and not takeover.leases.marked_gone(name):
            assert time.monotonic() < settle, "the runner inside outlived its namespace"
            time.sleep(0.05)

    assert [pk for pk, _ in takeover.sweep(set(), takeover=True)] == [debate.pk]


def test_with_takeover_off_a_runner_whose_mark_is_no_longer_held_shows_interrupted_at_once(debate_on, openai_server):
    with runner_elsewhere("replaced-container~0b0b0b0b") as runner:
        name = next(name for name in takeover.leases.marked_runners() if name.startswith("replaced-container~0b0b"))
        debate = orphan(debate_on(openai_server), runner=name, beat_ago=1)
        runner.send_signal(signal.SIGKILL)
        runner.wait()

    assert takeover.sweep(set(), takeover=False) == []

    debate.refresh_from_db()
    assert debate.display_status == "interrupted" and debate.runner_token == ""


def test_a_process_that_exits_cleanly_takes_its_mark_with_it():
    code = ("import django; django.setup(); from django.conf import settings; from debates import leases; "
            "name = leases.this_process(); print(name, (settings.VAR_DIR / 'runners' / f'{name}.lock').exists())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=settings.BASE_DIR,
                          timeout=60)
    name, held = done.stdout.split()

    assert done.returncode == 0 and held == "True"  # marked while it lived
    assert not (settings.VAR_DIR / "runners" / f"{name}.lock").exists()
    assert name not in takeover.leases.marked_runners()


def test_with_takeover_off_a_runner_that_died_here_shows_interrupted_at_once(debate_on, openai_server):
    here = takeover.leases.this_process().rpartition(":")[0]
    debate = orphan(debate_on(openai_server), runner=f"{here}:{dead_pid()}", beat_ago=1)
    assert debate.display_status == DebateStatus.RUNNING  # its lease has not run out

    assert takeover.sweep(set(), takeover=False) == []

    debate.refresh_from_db()
    assert debate.display_status == "interrupted" and debate.can_resume
    assert debate.status == DebateStatus.RUNNING and debate.runner_token == ""  # left for someone to resume


async def test_a_claimed_debate_resets_the_cut_turn_and_finishes_with_every_turn_once(debate_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else SPEECH
    debate = await database_sync_to_async(lambda: orphan(
        debate_on(openai_server, rounds=2), runner="another-host:4242", beat_ago=60, cut_text="point0 point1"))()

    claimed = await takeover.take_over_orphans()
    assert claimed == [debate.pk]
    await tasks._running[debate.pk]

    row = await Debate.objects.aget(pk=debate.pk)
    assert row.status == DebateStatus.COMPLETED and row.runner_token == ""
    turns = [t async for t in Turn.objects.filter(debate_id=debate.pk).order_by("round", "seat__position")]
    assert [(t.round, t.status, t.text) for t in turns] == [(r, "completed", SPEECH) for r in (1, 1, 2, 2)]
    assert row.last_seq > 3  # numbered on from where the dead runner stopped


# ---- live: daphne processes on the test database, one killed mid-debate --------------------------------------
def session_for_watcher() -> str:
    user = User.objects.create_user("watcher", password="watch-it-closely-42")
    session = SessionStore()
    session.update({"_auth_user_id": str(user.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                    "_auth_user_hash": user.get_session_auth_hash()})
    session.create()
    return session.session_key


async def follow(url: str, debate_id: int, session: str) -> dict:
    """Watch as debate.js does: a snapshot, then events in seq order (a resync on a gap, deltas by offset), until
    the debate ends. Returns what the watcher ends up showing: {(seat_id, round): text}, and what it saw."""
    host = url.removeprefix("http://")
    shown: dict[int, dict] = {}
    seen = {"resets": 0, "snapshots": 0}
    seq = None
    async with websockets.connect(f"ws://{host}/ws/debates/{debate_id}/", origin=url,
                                  additional_headers={"Cookie": f"sessionid={session}"}) as socket_:
        while True:
            message = json.loads(await asyncio.wait_for(socket_.recv(), timeout=90))
            kind, payload = message["type"], message.get("payload", {})
            if kind == "snapshot":
                seen["snapshots"] += 1
                seq, shown = message["seq"], {t["id"]: dict(t) for t in payload["turns"]}
                if payload["debate"]["status"] in ("completed", "failed", "cancelled"):
                    break
                continue
            if kind == "turn.delta":
                turn = shown.get(payload["turn_id"])
                if message["seq"] < seq or turn is None:
                    continue
                have = turn["text"]
                if payload["offset"] > len(have):
                    await socket_.send(json.dumps({"type": "resync"}))
                    continue
                turn["text"] = have + payload["text"][len(have) - payload["offset"]:]  # the overlap is skipped
                continue
            if message["seq"] <= seq:
                continue
            if message["seq"] > seq + 1:
                await socket_.send(json.dumps({"type": "resync"}))
                continue
            seq = message["seq"]
            if kind == "turn.started":
                shown[payload["turn"]["id"]] = dict(payload["turn"])
            elif kind == "turn.reset":
                seen["resets"] += 1
                shown[payload["turn_id"]]["text"] = ""
            elif kind == "turn.completed":
                shown[payload["id"]] = dict(payload)
            if kind in ("debate.completed", "debate.failed"):
                break
    return {"text": {(t["seat_id"], t["round"]): t["text"] for t in shown.values()}, **seen}


def test_a_runner_killed_mid_stream_is_taken_over_and_watchers_elsewhere_see_it_finish(model_on, openai_server,
                                                                                        provider_key):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else SPEECH
    openai_server.chunk_delay = 0.03  # about 2 s a turn: the kill lands mid-stream
    model = model_on("openai", openai_server)
    session = session_for_watcher()

    with daphne_on_test_db(takeover=True) as (first, runner), daphne_on_test_db(takeover=True) as (second, _):
        async def watch_and_kill() -> dict:
            debate_id = await database_sync_to_async(start_speaking)(first, model, topic="Kill me", rounds=2)
            watching = asyncio.ensure_future(follow(second, debate_id, session))
            await asyncio.sleep(0.2)  # connected, and still mid-turn
            runner.send_signal(signal.SIGKILL)
            runner.wait()
            return {"debate_id": debate_id, **await watching}

        watched = asyncio.run(watch_and_kill())

    debate = Debate.objects.get(pk=watched["debate_id"])
    assert debate.status == DebateStatus.COMPLETED and debate.verdict.parsed
    turns = list(debate.turns.order_by("round", "seat__position"))
    assert [(t.round, t.text) for t in turns] == [(1, SPEECH), (1, SPEECH), (2, SPEECH), (2, SPEECH)]  # each once
    assert watched["text"] == {(t.seat_id, t.round): SPEECH for t in turns}  # the watcher shows every final text


async def test_a_turn_cut_before_any_text_was_saved_is_reset_too(debate_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else SPEECH
    debate = await database_sync_to_async(lambda: orphan(
        debate_on(openai_server, rounds=1), runner="another-host:4242", beat_ago=60, cut_text=""))()
    [(debate_id, token)] = await database_sync_to_async(takeover.sweep)(set(), True)
    events: list[dict] = []

    await DebateRunner(debate_id, listener=events.append, token=token).run()

    cut = await Turn.objects.aget(debate_id=debate.pk, round=1, seat__position=1)
    assert [e["type"] for e in events][:2] == ["turn.reset", "debate.started"]  # the page says the turn restarts
    assert events[0]["payload"]["turn_id"] == cut.pk and events[0]["seq"] == 4
    assert events[1]["payload"]["resumed"] and events[-1]["type"] == "debate.completed"


def test_a_runner_that_renews_while_the_sweep_looks_keeps_its_lease(debate_on, openai_server, monkeypatch):
    slow = orphan(debate_on(openai_server), runner="another-host:4242", beat_ago=60)  # a long lock wait, say

    def renews_meanwhile(runner: str) -> bool:  # called between the sweep's read and its claim
        Debate.objects.filter(pk=slow.pk).update(heartbeat_at=timezone.now())
        return False

    monkeypatch.setattr(takeover.leases, "died_here", renews_meanwhile)

    assert takeover.sweep(set(), takeover=True) == []
    assert Debate.objects.get(pk=slow.pk).runner_token == "the-dead-runner"  # still its own
