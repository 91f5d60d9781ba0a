"""Kill and take over: the daphne process running a debate is SIGKILLed mid-turn; its peer must carry on.

    .venv/bin/python bench/bench_takeover.py [--trials 10] [--rounds 2] [--words 120] [--watchers 3] [--seed N]
                                             [--pid-namespaces]

Two daphne processes on a fresh PostgreSQL database and Redis (db 8). The model is
`providers.tests.servers.FakeOpenAIServer` in a process of its own, one word every 10 ms (100 tokens/s); a seat's
reply is a function of the motion, the speaker, the round and how many times that turn was asked for, so the bench
knows what every turn must end with (the last attempt's words) and a redone turn says other words than the cut
one. The fake checks each seat prompt: the full text of every earlier turn's last attempt in it, no word of this
turn or a later one (a cut turn's words must not leak into the transcript the next speaker reads).

A trial: a fresh debate (2 seats, `--rounds` rounds, the same fake as judge) is created and started over the REST
API on process R, and `--watchers` WebSocket clients follow it on process W. When the first watcher's text of the
first or second turn (chosen at random) reaches a random point of it, R gets SIGKILL and is reaped; the watchers
follow until `debate.completed` (or the trial's timeout, then it is reported failed). Then R is started again
(and warmed up) so two processes are up, and the roles swap: the survivor runs the next debate.

Counted per trial, against the text each turn must have:
- lost: a (seat, round) whose PostgreSQL row is missing, not completed or has other text, or whose text in some
  watcher's applied view is not the expected one;
- duplicated: a (seat, round) for which a watcher received `turn.completed` with two different turn ids or texts,
  or held two turn ids, or more turn rows in PostgreSQL than seats x rounds;
- streamed wrong: a turn whose text, as a watcher built it from the deltas (and resets), was not the text its
  `turn.completed` then brought (which would otherwise paper over it);
- kill to next token: from just before SIGKILL to the first `turn.delta` a watcher received after the takeover's
  `turn.reset` or `debate.started` (so a delta the dead process had already put into Redis does not count); the
  earliest and the latest of the watchers. Also kill to the takeover's first event (`turn.reset`, or
  `debate.started`, should a takeover ever come without a reset): when the takeover was visible at all.

The client follows the live channel as debate.js does: a numbered event applies when its seq is the next one, and a
seq gap asks for a resync (rate-limited by the server: burst 3, then 1/s). A `turn.delta` is not numbered (its seq
is the last numbered event's): below ours it is stale; otherwise it applies by its offset, overlap skipped, and one
that starts past our text (a hole) asks for a resync.

The processes, the user, the API and the warm-up debate are bench_fanout's.
"""
import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import astuple, dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from bench_fanout import (PG_ADMIN, ROOT, TERMINAL, api, close_fake, ms, prepare, serve, start_daphne,
                          status_after, warm_up)
from bench_fanout import stop as stop_process
from websockets.asyncio.client import connect as ws_connect

REDIS_URL = "redis://127.0.0.1:6379/8"  # this bench's own: the tests use 0, bench_fanout 7
TRIAL_TIMEOUT = 90.0  # a trial past this is reported failed; nothing here waits longer
SILENCE_TIMEOUT = 20.0  # a watcher hearing nothing this long is stuck (the takeover needs ~2.5 s at most)
RESYNC_RETRY = 1.1  # the server refills one resync a second
FAKE_SERVER_LIFETIME = 1200.0  # the fake model server exits on its own after this, whatever happens here
OVERALL_BUDGET = 600.0  # no new trial starts after this many seconds
SPEAKERS = ("Speaker A", "Speaker B")  # blind seats: how the prompts name the two seats, in speaking order
NAMES = ("Ada", "Bo")

# ---- what every turn must say --------------------------------------------------------------------------------------
def reply_text(trial: int, speaker: int, round_number: int, attempt: int, words: int) -> str:
    """Seat `speaker` (0, 1)'s reply in `round_number` of trial `trial`, the `attempt`-th time (0 first) it is asked:
    distinct words, some accented, some emoji (a delta offset counted in anything but code points shifts them). A
    redone turn says other words, so a watcher that kept the cut attempt's text cannot end right by chance."""
    mark = lambda i: "é" if i % 7 == 3 else ("🚗" if i % 11 == 5 else "")  # noqa: E731
    return " ".join(f"{turn_tag(trial, speaker, round_number)}a{attempt}w{i}{mark(i)}" for i in range(words)) + "."


def turn_tag(trial: int, speaker: int, round_number: int) -> str:
    return f"t{trial}{'ab'[speaker]}{round_number}"


def speaking_order(rounds: int) -> list[tuple[int, int]]:
    return [(speaker, round_number) for round_number in range(1, rounds + 1) for speaker in (0, 1)]


# ---- the fake model, in a process of its own -----------------------------------------------------------------------
def serve_fake(words: int, rounds: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debateproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from debates.tests.conftest import is_preflight, valid_verdict

    cue = re.compile(r"(Speaker [AB]) \([^)]*\), round (\d+):\s*$")
    lock = threading.Lock()
    asked: dict[tuple[int, int, int], int] = {}  # (trial, speaker, round) -> calls so far

    def seat_call(prompt: str, trial: int, speaker: int, round_number: int) -> str:
        order = speaking_order(rounds)
        here = order.index((speaker, round_number))
        with lock:
            attempt = asked.get((trial, speaker, round_number), 0)
            asked[(trial, speaker, round_number)] = attempt + 1
            # The transcript must hold the last attempt of every earlier turn, and nothing of this turn or later.
            latest = {(s, r): asked.get((trial, s, r), 1) - 1 for s, r in order[:here]}
            print(json.dumps({"trial": trial, "speaker": speaker, "round": round_number, "attempt": attempt,
                              "prompt_ok": all(reply_text(trial, s, r, a, words) in prompt
                                               for (s, r), a in latest.items())
                              and all(turn_tag(trial, s, r) + "a" not in prompt for s, r in order[here:]),
                              "t": time.time()}), flush=True)  # one line per seat call, read by the bench
        return reply_text(trial, speaker, round_number, attempt, words)

    def respond(body) -> str:
        if is_preflight(body):
            return "OK"
        text = json.dumps(body)
        if "impartial" in text:
            return valid_verdict(body)
        messages = body.get("messages") or [{}]
        prompt = str(messages[-1].get("content", ""))
        trial, found = re.search(r"Motion: Takeover trial (\d+)", prompt), cue.search(prompt)
        if trial is None or found is None:  # a warm-up debate
            return "A short warm-up reply."
        return seat_call(prompt, int(trial.group(1)), SPEAKERS.index(found.group(1)), int(found.group(2)))

    serve(respond, FAKE_SERVER_LIFETIME)


class FakeModel:
    """The fake's process, and the seat calls it reports on its stdout."""

    def __init__(self, env: dict, words: int, rounds: int) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-fake", "--words", str(words),
                                         "--rounds", str(rounds)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise SystemExit("the fake model server did not start")
        self.calls: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with suppress(ValueError):
                self.calls.append(json.loads(line))

    def calls_of(self, trial: int) -> list[dict]:
        return [call for call in list(self.calls) if call["trial"] == trial]

    def close(self) -> None:
        close_fake(self.process)


# ---- processes -----------------------------------------------------------------------------------------------------
@dataclass
class Daphne:
    name: str  # "P1" or "P2": a slot, restarted under the same name
    env: dict
    log_dir: Path
    process: subprocess.Popen | None = None
    port: int = 0
    generation: int = 0
    prefix: tuple[str, ...] = ()

    def start(self) -> None:
        self.process, self.port = start_daphne(self.env, self.log_dir, self.prefix)
        self.generation += 1
        # bench_fanout names the log by port alone: a later start that drew the same port would overwrite it.
        (self.log_dir / f"daphne-{self.port}.log").rename(
            self.log_dir / f"daphne-{self.name}-{self.generation}-{self.port}.log")

    def kill(self) -> float:
        """SIGKILL; returns the moment just before it (time.monotonic). The caller reaps it (`reap`)."""
        killed_at = time.monotonic()
        os.kill(self.process.pid, signal.SIGKILL)
        return killed_at

    def reap(self) -> int:
        return self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)  # a process already reaped is not signalled

    @property
    def label(self) -> str:
        return f"{self.name}#{self.generation} (pid {self.process.pid}, port {self.port})"


# ---- one watcher, following the protocol as debate.js does --------------------------------------------------------
@dataclass
class Counts:
    """What following the live channel took: one per watcher, summed per trial and over the run."""
    gaps: int = 0  # numbered events past seq + 1
    holes: int = 0  # deltas that started past the text we had
    resyncs: int = 0
    refused: int = 0  # resyncs the server rate-limited (asked again RESYNC_RETRY later)

    @classmethod
    def total(cls, many: Iterable["Counts"]) -> "Counts":
        return cls(*(sum(column) for column in zip(*map(astuple, many))))


@dataclass
class Watcher:
    index: int
    seq: int | None = None
    resyncing: bool = False
    resync_due: float | None = None  # refused (rate-limited): ask again then
    status: str = ""
    seats: dict = field(default_factory=dict)  # seat id -> speaking position (0, 1)
    turns: dict = field(default_factory=dict)  # turn id -> {"key": (position, round), "text", "status"}
    completed: dict = field(default_factory=dict)  # (position, round) -> [(turn id, text)] from turn.completed
    streamed_wrong: list = field(default_factory=list)  # (position, round) whose deltas built other text than its end
    on_progress: object = None  # called with (watcher, turn entry) after a delta applied
    killed_at: float | None = None  # set by the trial
    reset_after_kill: float | None = None
    takeover_seen: float | None = None  # turn.reset or debate.started after the kill
    token_after_kill: float | None = None
    stale_after_kill: int = 0  # deltas received after the kill, before the takeover showed
    counts: Counts = field(default_factory=Counts)
    error: str = ""
    stuck: bool = False

    # ---- state ------------------------------------------------------------------
    def apply_snapshot(self, message: dict) -> None:
        payload = message["payload"]
        self.seq, self.resyncing, self.resync_due = message["seq"], False, None
        self.status = payload["debate"]["status"]
        ordered = sorted(payload["seats"], key=lambda seat: seat["position"])
        self.seats = {seat["id"]: position for position, seat in enumerate(ordered)}
        self.turns = {turn["id"]: self._entry(turn) for turn in payload["turns"]}

    def _entry(self, turn: dict) -> dict:
        return {"key": (self.seats.get(turn["seat_id"]), turn["round"]), "text": turn["text"],
                "status": turn["status"]}

    def apply_delta(self, payload: dict) -> dict | None:
        """The turn it extended, or None when it lies past our text (a hole: resync)."""
        entry = self.turns.get(payload["turn_id"])
        if entry is None:
            if payload["offset"]:
                return None
            entry = self.turns[payload["turn_id"]] = self._entry({**payload, "text": "", "status": "streaming"})
        text, offset, chunk = entry["text"], payload["offset"], payload["text"]
        if offset > len(text):
            return None
        if offset + len(chunk) > len(text):
            entry["text"] = text + chunk[len(text) - offset:]
        return entry

    def apply_event(self, kind: str, payload: dict) -> None:
        if kind == "turn.started":
            self.turns[payload["turn"]["id"]] = self._entry(payload["turn"])
        elif kind == "turn.reset":
            if payload["turn_id"] in self.turns:
                self.turns[payload["turn_id"]]["text"] = ""
        elif kind == "turn.completed":
            before = self.turns.get(payload["id"])
            if before is not None and before["text"] != payload["text"]:
                self.streamed_wrong.append(before["key"])
            self.turns[payload["id"]] = self._entry(payload)
            key = self.turns[payload["id"]]["key"]
            self.completed.setdefault(key, []).append((payload["id"], payload["text"]))
        elif kind == "turn.failed" and payload["turn_id"] in self.turns:
            self.turns[payload["turn_id"]]["status"] = "failed"
        else:
            self.status = status_after(kind, payload) or self.status

    # ---- the wire ---------------------------------------------------------------
    async def on_message(self, socket_, raw: str, received: float) -> None:
        message = json.loads(raw)
        kind = message["type"]
        if kind == "snapshot":
            return self.apply_snapshot(message)
        if kind == "error":
            code = (message.get("payload") or {}).get("code", "error")
            if code == "rate_limited" and self.resyncing:
                self.counts.refused += 1
                self.resync_due = time.monotonic() + RESYNC_RETRY
            else:
                self.error = code
            return
        self._time(kind, received)
        if self.seq is None or self.resyncing:
            return
        seq, payload = message["seq"], message.get("payload") or {}
        if kind == "turn.delta":
            return await self._on_delta(socket_, seq, payload)
        if seq <= self.seq:
            return
        if seq > self.seq + 1:
            self.counts.gaps += 1
            return await self.resync(socket_)
        self.apply_event(kind, payload)
        self.seq = seq

    async def _on_delta(self, socket_, seq: int, payload: dict) -> None:
        if seq < self.seq:  # sent before an event we have, which supersedes it
            return
        entry = self.apply_delta(payload)
        if entry is None:
            self.counts.holes += 1
            return await self.resync(socket_)
        if self.on_progress is not None:
            self.on_progress(self, entry)

    def _time(self, kind: str, received: float) -> None:
        """The takeover as this watcher saw it arrive (before any applying, in this process's clock)."""
        if self.killed_at is None:
            return
        if kind == "turn.reset" and self.reset_after_kill is None:
            self.reset_after_kill = received
        if kind in ("turn.reset", "debate.started") and self.takeover_seen is None:
            self.takeover_seen = received
        if kind == "turn.delta":
            if self.takeover_seen is None:
                self.stale_after_kill += 1
            elif self.token_after_kill is None:
                self.token_after_kill = received

    async def resync(self, socket_) -> None:
        self.resyncing, self.resync_due = True, None
        self.counts.resyncs += 1
        await socket_.send(json.dumps({"type": "resync"}))

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL and not self.resyncing


async def open_watcher(watcher: Watcher, port: int, debate_id: int, session: str):
    socket_ = await ws_connect(f"ws://127.0.0.1:{port}/ws/debates/{debate_id}/", origin=f"http://127.0.0.1:{port}",
                               additional_headers={"Cookie": f"sessionid={session}"}, open_timeout=15,
                               ping_interval=None, max_size=2 ** 24, max_queue=None)
    await watcher.on_message(socket_, await asyncio.wait_for(socket_.recv(), 15), time.monotonic())
    if watcher.seq is None:
        raise RuntimeError(f"watcher {watcher.index}: no snapshot ({watcher.error or 'nothing'})")
    return socket_


async def follow(watcher: Watcher, socket_, deadline: float) -> None:
    heard = time.monotonic()
    try:
        while not watcher.finished and time.monotonic() < deadline:
            if watcher.resync_due is not None and time.monotonic() >= watcher.resync_due:
                await watcher.resync(socket_)
            try:
                raw = await asyncio.wait_for(socket_.recv(), min(0.25, max(0.01, deadline - time.monotonic())))
            except TimeoutError:
                if time.monotonic() - heard > SILENCE_TIMEOUT:
                    watcher.stuck = True
                    return
                continue
            heard = time.monotonic()
            await watcher.on_message(socket_, raw, heard)
    except Exception as exc:  # noqa: BLE001 - a dropped socket is a result to report
        watcher.error = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        with suppress(Exception):
            await asyncio.wait_for(socket_.close(), 5)


# ---- one trial -----------------------------------------------------------------------------------------------------
@dataclass
class Trial:
    number: int
    runner: str
    watched_on: str
    target: tuple[int, int]  # (speaker, round) to be cut
    cut_at: int  # characters of it the first watcher has when the kill goes
    debate_id: int = 0
    killed: bool = False
    kill_seq: int | None = None
    exit_code: int | None = None
    status: str = ""
    failure: str = ""
    lost: int = 0
    lost_db: int = 0
    lost_view: int = 0
    duplicated: int = 0
    rows: int = 0
    seat_calls: int = 0
    bad_prompts: int = 0
    to_takeover: list = field(default_factory=list)  # seconds to turn.reset or debate.started, per watcher
    to_reset: list = field(default_factory=list)  # seconds, per watcher that saw one
    to_token: list = field(default_factory=list)
    stale_after_kill: int = 0
    streamed_wrong: int = 0  # (watcher, turn) pairs whose streamed text was not the completed text
    counts: Counts = field(default_factory=Counts)  # the watchers', summed
    wall: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.killed and not self.failure and self.lost == self.duplicated == self.streamed_wrong == 0


def create_debate(http: httpx.Client, model_id: int, rounds: int, topic: str) -> int:
    response = http.post("/debates", json={
        "topic": topic, "rounds": rounds, "judge_model_id": model_id,
        "seats": [{"model_id": model_id, "stance": stance, "display_name": name, "max_tokens": 1000}
                  for stance, name in zip(("for", "against"), NAMES)]})
    response.raise_for_status()
    return response.json()["id"]


async def run_trial(trial: Trial, runner: Daphne, watched: Daphne, token: str, session: str, model_id: int,
                    rounds: int, watchers_count: int) -> list[Watcher]:
    started = time.monotonic()
    deadline = started + TRIAL_TIMEOUT
    watchers = [Watcher(index=i) for i in range(watchers_count)]
    killed = asyncio.Event()

    def maybe_kill(watcher: Watcher, entry: dict) -> None:
        if trial.killed or entry["key"] != trial.target or len(entry["text"]) < trial.cut_at:
            return
        killed_at = runner.kill()
        trial.killed, trial.kill_seq = True, watcher.seq
        for each in watchers:
            each.killed_at = killed_at
        killed.set()

    watchers[0].on_progress = maybe_kill
    try:
        with api(runner.port, token) as http:
            trial.debate_id = await asyncio.to_thread(create_debate, http, model_id, rounds,
                                                      f"Takeover trial {trial.number}")
            sockets = await asyncio.gather(*(open_watcher(w, watched.port, trial.debate_id, session)
                                             for w in watchers))
            (await asyncio.to_thread(http.post, f"/debates/{trial.debate_id}/start")).raise_for_status()
        follows = asyncio.gather(*(follow(w, s, deadline) for w, s in zip(watchers, sockets)))
        kill_seen = asyncio.create_task(killed.wait())
        await asyncio.wait({follows, kill_seen}, timeout=TRIAL_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if trial.killed:  # reaped at once: a zombie must not be what the survivor's check sees
            trial.exit_code = await asyncio.to_thread(runner.reap)
        kill_seen.cancel()
        await follows  # each watcher stops by the deadline on its own
    except Exception as exc:  # noqa: BLE001 - a trial that breaks is a failed trial, not a crashed bench
        trial.failure = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        if trial.killed and trial.exit_code is None:
            trial.exit_code = await asyncio.to_thread(runner.reap)
    trial.wall = time.monotonic() - started
    return watchers


def judge_trial(trial: Trial, watchers: list[Watcher], dsn: str, words: int, rounds: int,
                fake: FakeModel) -> None:
    import psycopg

    calls = fake.calls_of(trial.number)
    last = {}
    for call in calls:
        key = (call["speaker"], call["round"])
        last[key] = max(last.get(key, 0), call["attempt"])
    expected = {key: reply_text(trial.number, *key, last.get(key, 0), words) for key in speaking_order(rounds)}
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        status, reason = conn.execute("SELECT status, failure_reason FROM debates_debate WHERE id = %s",
                                      (trial.debate_id,)).fetchone() or ("missing", "no such debate")
        rows = conn.execute("SELECT t.id, s.position, t.round, t.status, t.text FROM debates_turn t JOIN debates_seat "
                            "s ON s.id = t.seat_id WHERE t.debate_id = %s", (trial.debate_id,)).fetchall()
        positions = sorted({row[1] for row in rows})
    speaker = {position: i for i, position in enumerate(positions)}
    database: dict = {}
    for turn_id, position, round_number, turn_status, text in rows:
        database.setdefault((speaker[position], round_number), []).append((turn_id, turn_status, text))
    trial.status, trial.rows = status, len(rows)
    if status != "completed":
        trial.failure = trial.failure or f"debate {status}: {reason}"[:160]
    elif not trial.killed:
        trial.failure = trial.failure or "never killed (the cut point was not reached)"
    for w in watchers:
        if not w.finished:
            trial.failure = trial.failure or (f"watcher {w.index} did not see the end (status {w.status!r}, stuck "
                                              f"{w.stuck}, error {w.error!r})")
    for key, text in expected.items():
        found = database.get(key, [])
        bad_db = len(found) != 1 or found[0][1] != "completed" or found[0][2] != text
        views = [[entry["text"] for entry in w.turns.values() if entry["key"] == key] for w in watchers]
        bad_view = any(text not in view for view in views)
        trial.lost_db += bad_db
        trial.lost_view += bad_view
        trial.lost += bad_db or bad_view
        if bad_db or bad_view:
            trial.notes.append(f"{NAMES[key[0]]} r{key[1]}: db {[(i, s, len(t)) for i, s, t in found]}, views "
                               f"{[[len(t) for t in v] for v in views]} of {len(text)} chars")
        twice = any(len(set(w.completed.get(key, []))) > 1 or len(views[i]) > 1 for i, w in enumerate(watchers))
        trial.duplicated += twice or len(found) > 1
    trial.duplicated += sum(1 for key in database if key not in expected)  # a row for no expected turn
    trial.seat_calls, trial.bad_prompts = len(calls), sum(1 for call in calls if not call["prompt_ok"])
    for w in watchers:
        if w.reset_after_kill is not None:
            trial.to_reset.append(w.reset_after_kill - w.killed_at)
        if w.takeover_seen is not None:
            trial.to_takeover.append(w.takeover_seen - w.killed_at)
        if w.token_after_kill is not None:
            trial.to_token.append(w.token_after_kill - w.killed_at)
    trial.stale_after_kill = max(w.stale_after_kill for w in watchers)
    trial.streamed_wrong = sum(len(w.streamed_wrong) for w in watchers)
    if trial.streamed_wrong:
        trial.notes.append("streamed text other than the final: " + "; ".join(
            f"watcher {w.index}: {[f'{NAMES[k[0]]} r{k[1]}' for k in w.streamed_wrong]}" for w in watchers
            if w.streamed_wrong))
    trial.counts = Counts.total(w.counts for w in watchers)
    if trial.killed and len(trial.to_token) < len(watchers):
        trial.notes.append(f"{len(watchers) - len(trial.to_token)} watcher(s) saw no token after the takeover")


def claims_in_logs(daphnes: list[Path], debate_id: int) -> list[str]:
    needle = f"debate {debate_id}: its runner is gone; taken over by"
    return [path.name for path in daphnes for line in path.read_text(errors="replace").splitlines()
            if needle in line]


# ---- the report ----------------------------------------------------------------------------------------------------
def print_trial(trial: Trial, claims: list[str]) -> None:
    cut = f"{NAMES[trial.target[0]]} r{trial.target[1]} at char {trial.cut_at}"
    token = f"{min(trial.to_token) * 1000:,.0f}-{max(trial.to_token) * 1000:,.0f} ms" if trial.to_token else "none"
    seen = f"{min(trial.to_takeover) * 1000:,.0f} ms" if trial.to_takeover else "none"
    verdict = "ok" if trial.passed else "FAILED: " + (trial.failure or "lost or duplicated turns")
    print(f"trial {trial.number:2}: debate {trial.debate_id} run on {trial.runner}, watched on {trial.watched_on}; "
          f"{verdict}\n"
          f"          cut {cut} (seq {trial.kill_seq}), exit {trial.exit_code}; kill->takeover {seen} "
          f"({'turn.reset' if trial.to_reset else 'no turn.reset'}), kill->next token {token}; {trial.status}\n"
          f"          lost {trial.lost}, duplicated {trial.duplicated}, streamed text wrong {trial.streamed_wrong}, "
          f"rows {trial.rows}, seat calls "
          f"{trial.seat_calls}, bad prompts {trial.bad_prompts}, claims logged {len(claims)}, stale deltas after "
          f"the kill {trial.stale_after_kill}, gaps {trial.counts.gaps}, holes {trial.counts.holes}, resyncs "
          f"{trial.counts.resyncs} (refused {trial.counts.refused}); {trial.wall:.1f} s", flush=True)
    for note in trial.notes:
        print(f"          {note}")


def print_summary(trials: list[Trial], rounds: int) -> None:
    first = [min(t.to_token) for t in trials if t.to_token]
    last = [max(t.to_token) for t in trials if t.to_token]
    seen = [min(t.to_takeover) for t in trials if t.to_takeover]
    counts = Counts.total(t.counts for t in trials)
    expected_calls = 2 * rounds + 1
    rows = [
        ("trials passed (completed, nothing lost, duplicated or streamed wrong)",
         f"{sum(t.passed for t in trials)}/{len(trials)}"),
        ("turns lost (database / a watcher's view)",
         f"{sum(t.lost for t in trials)} ({sum(t.lost_db for t in trials)} / {sum(t.lost_view for t in trials)}) "
         f"of {len(trials) * 2 * rounds}"),
        ("turns duplicated", str(sum(t.duplicated for t in trials))),
        ("turns a watcher streamed other text than the final", str(sum(t.streamed_wrong for t in trials))),
        ("kill -> next token, first watcher", ms(first)),
        ("kill -> next token, last watcher", ms(last)),
        ("kill -> takeover visible (turn.reset or debate.started)", ms(seen)),
        ("trials whose cut turn was reset (turn.reset seen)", f"{sum(bool(t.to_reset) for t in trials)}/{len(trials)}"),
        (f"seat calls per trial (expected {expected_calls}: one redone)",
         ", ".join(str(t.seat_calls) for t in trials)),
        ("seat prompts with a wrong transcript", str(sum(t.bad_prompts for t in trials))),
        ("seq gaps / offset holes / resyncs / refused resyncs",
         f"{counts.gaps} / {counts.holes} / {counts.resyncs} / {counts.refused}"),
        ("trial wall time", f"median {statistics.median(t.wall for t in trials):.1f} s, max "
                            f"{max(t.wall for t in trials):.1f} s"),
    ]
    width = max(len(label) for label, _ in rows)
    print("\n" + "\n".join(f"  {label:<{width}}  {value}" for label, value in rows))
    failed = [t for t in trials if not t.passed]
    if failed:
        print(f"\n  failed trials: {', '.join(str(t.number) for t in failed)}")


# ---- main ----------------------------------------------------------------------------------------------------------
def soak(args: argparse.Namespace, env: dict, dsn: str, log_dir: Path, fake: FakeModel) -> list[Trial]:
    session, model_id, token, _ = prepare(env, fake.url)  # bench_fanout's: also a bystander user
    # In PID namespaces of their own, as two containers on one volume: neither can look up the other's pids, and
    # only the runner's mark in the shared ARENA_VAR_DIR tells the survivor at once that it died. SIGKILL reaches
    # daphne through unshare's --kill-child.
    prefix = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL") if args.pid_namespaces else ()
    pair = [Daphne("P1", env, log_dir, prefix=prefix), Daphne("P2", env, log_dir, prefix=prefix)]
    rng = random.Random(args.seed)
    trials: list[Trial] = []
    began = time.monotonic()
    try:
        for daphne in pair:
            daphne.start()
            warm_up(daphne.port, token, model_id)
        runs = 0  # the slot that runs the next debate: the survivor of the last trial
        for number in range(1, args.trials + 1):
            if time.monotonic() - began > OVERALL_BUDGET:
                print(f"stopping: {OVERALL_BUDGET:.0f} s spent, {number - 1} trials run")
                break
            runner, watched = pair[runs], pair[1 - runs]
            target = (rng.choice((0, 1)), 1)  # the first or the second turn
            size = len(reply_text(number, *target, 0, args.words))
            trial = Trial(number=number, runner=runner.label, watched_on=watched.label, target=target,
                          cut_at=rng.randint(size // 20, size * 9 // 10))
            watchers = asyncio.run(run_trial(trial, runner, watched, token, session, model_id, args.rounds,
                                             args.watchers))
            judge_trial(trial, watchers, dsn, args.words, args.rounds, fake)
            claims = claims_in_logs(sorted(log_dir.glob("daphne-*.log")), trial.debate_id)
            if trial.killed and len(claims) != 1:
                trial.notes.append(f"takeover claims logged: {claims}")
            print_trial(trial, claims)
            trials.append(trial)
            if not trial.passed:
                print_logs(log_dir, trial.debate_id)
            if trial.killed:
                runner.start()
                warm_up(runner.port, token, model_id)
                runs = 1 - runs
            else:
                runner.stop()  # not killed: start it afresh all the same, so every trial begins alike
                runner.start()
                warm_up(runner.port, token, model_id)
    finally:
        for daphne in pair:
            daphne.stop()
    return trials


def print_logs(log_dir: Path, debate_id: int) -> None:
    for path in sorted(log_dir.glob("daphne-*.log")):
        lines = [line for line in path.read_text(errors="replace").splitlines()
                 if f"debate {debate_id}" in line or "Traceback" in line or "ERROR" in line]
        if lines:
            print(f"    {path.name}:\n" + "\n".join(f"      {line[:220]}" for line in lines[-12:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, choices=(2, 3))
    parser.add_argument("--words", type=int, default=120, help="words (streamed tokens) in every seat's reply")
    parser.add_argument("--watchers", type=int, default=3, help="WebSocket clients on the surviving process")
    parser.add_argument("--seed", type=int, default=None, help="the random cut points (default: from the clock)")
    parser.add_argument("--pid-namespaces", action="store_true",
                        help="each daphne in a PID namespace of its own, as containers sharing a volume")
    parser.add_argument("--keep-logs", action="store_true", help="leave the daphne logs in their temporary folder")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        return serve_fake(args.words, args.rounds)
    args.seed = args.seed if args.seed is not None else int(time.time()) % 100000
    load = os.getloadavg()
    print(f"{datetime.now().astimezone().isoformat(timespec='seconds')}; {os.cpu_count()} cores; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.trials} trials, {args.rounds} rounds x 2 seats, "
          f"{args.words} words per turn at 100 tokens/s, {args.watchers} watchers, seed {args.seed}"
          f"{', each daphne in its own PID namespace' if args.pid_namespaces else ''}", flush=True)

    base_env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    log_dir = Path(tempfile.mkdtemp(prefix="bench-takeover-"))
    base_env.update({"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_DEBUG": "false",
                     "ARENA_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", "ARENA_VAR_DIR": str(log_dir),
                     "ARENA_AUTO_TAKEOVER": "true"})
    import psycopg

    name = f"arena_bench_takeover_{uuid.uuid4().hex[:8]}"
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    fake = FakeModel(base_env, args.words, args.rounds)
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {**base_env, "DATABASE_URL": dsn.replace("postgresql://", "postgres://"), "REDIS_URL": REDIS_URL}
        trials = soak(args, env, dsn, log_dir, fake)
        if trials:
            print_summary(trials, args.rounds)
    finally:
        fake.close()
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if args.keep_logs:
            print(f"daphne logs kept in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
