"""Many debates at once in one process, as a server runs them: errors, orchestration overhead and commits per turn.

    .venv/bin/python bench/bench_concurrent.py [--debates 100] [--backends sqlite,postgres] [--seats 4] [--rounds 2]
                                               [--words 50] [--chunk-delay 0] [--redis]

Each backend runs in a child process of its own (settings are read once per process): "sqlite" is the embedded
default (SQLite in a temporary ARENA_VAR_DIR, the in-memory channel layer); "postgres" is a fresh database made for
this run and dropped after it (with --redis, the Redis channel layer on database 9). The model is
`FakeOpenAIServer` in a third process, so its CPU is not ours: every seat reply is --words words, one per chunk,
--chunk-delay seconds apart; the judge returns a valid verdict that names the same seat in both seat-swap readings.

In the child, in order: a warm-up debate (LiteLLM's import), 2 debates one after the other (a debate alone), the
same with the model call stubbed out (2 alone, then 10 at once: the orchestrator's own time, no LiteLLM), bare
`litellm.acompletion` streams of the same reply (25 one at a time, then 25 at once), then the measured run:
--debates debates created with `debate_create`, started as `debate_start` starts them (pre-flight, marked started,
a runner task in a fresh context on this one event loop), all at once. The runner is `DebateRunner` itself; a
subclass only times `_turn`, and a wrapper around `gateway.stream_answer` adds up the time the turn spent waiting
for the stream's next item. Afterwards every measured debate is checked in the database: completed, each turn
completed with exactly its own reply, a parsed verdict with a winner. Warnings and errors logged anywhere, and what
the event loop reports, are counted as errors.

Orchestration overhead of a turn = (from `_turn` starting to the turn.completed commit published) minus (the time
spent awaiting the gateway's stream: the HTTP call, LiteLLM's parsing and the model server's own time, chunk delays
included). What is left is ours: the model row read, the prompt, the turn.started, turn.delta and turn.completed
commits, and, with many debates at once, the wait for the event loop and for the one database thread they share.
Beside it, the part of it that LiteLLM's own tasks ran on the event loop (the success logging, cost and caching it
schedules after each call, which this app uses none of; timed by a task factory), "ours" without them, and the
garbage collector's pauses inside it (gc.callbacks); and every collection of the measured run, with the longest.

Database transactions, counted over the measured run only (the runners' work: pre-flight and marking started are
counted apart), reads included, since each statement outside `atomic` is a transaction of its own:
- SQLite: the sqlite3 trace callback on every connection: each COMMIT, plus each statement run outside a
  transaction (BEGIN, SAVEPOINT and the like excluded).
- PostgreSQL: `xact_commit` of pg_stat_database for this database, read on fresh connections after every other
  connection closed (a backend flushes its counts when it exits), less this bench's own readings; also the
  Django-side count (atomic commits plus statements outside atomic), which misses what Django runs on the raw
  connection (its health check `SELECT 1` on each reuse of a connection).
Also counted: SQL statements, trips to the database thread (database_sync_to_async calls), the heartbeats' share,
and events numbered (committed with a seq) or not. Nothing depends on how many turn.delta events a turn makes.
Prints figures and asserts nothing. At the defaults it takes about 6 minutes on 2 cores.
"""
import argparse
import asyncio
import bisect
import collections.abc
import contextvars
import functools
import gc
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench_fanout import close_fake  # bench/ is on sys.path when this runs as a script

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/9"  # not the tests' 0 nor bench_fanout's 7
CHILD_TIMEOUT = 480.0  # seconds for one backend, whatever happens in it
RUN_TIMEOUT = 360.0  # seconds for the measured debates to end
FAKE_LIFETIME = 1200.0  # the fake model server exits on its own after this
SOLO_RUNS = 2  # debates run one after the other, for the figures of a debate alone
BARE_CALLS = 25
STUB_AT_ONCE = 10  # debates at once with the model call stubbed (more would only lengthen the run)


# ---- the fake model, in a process of its own (stdlib and the fake server only: no Django) ----------------------
def reply_for(body: dict, words: int) -> str:
    """A seat's reply names its debate, seat and round, so a turn that ends up on another row cannot pass."""
    text = json.dumps(body.get("messages", ""))
    if body.get("max_tokens") == 1:  # the pre-flight call
        return "OK"
    if "impartial debate judge" in text:
        return verdict_for(text)
    found = [re.search(pattern, text) for pattern in (r"Bench motion #(-?\d+)", r"You are Speaker ([A-F])",
                                                      r"This is round (\d+)")]
    debate, seat, round_ = (match.group(1) if match else "?" for match in found)
    tag = f"[d{debate}-{seat}-r{round_}]"
    return tag + "".join(f" w{i}" for i in range(1, words))


def verdict_for(text: str) -> str:
    """Scores for every label on every criterion of the prompt; the winner is whichever label the seat that spoke
    first goes by in this reading, so the seat-swap check holds."""
    labels = sorted(set(re.findall(r"Speaker ([A-F]): arguing", text)))
    criteria = re.findall(r"\\n- (\w+) \(", text)
    first = re.search(r"Speaker ([A-F]) \([^)]*\), round \d+[^:]*: \[d-?\d+-A-", text)
    winner = first.group(1) if first else (labels[0] if labels else "A")
    scores = {label: {key: {"reasoning": f"{label} on {key}", "score": 8 if label == winner else 6}
                      for key in criteria} for label in labels}
    return json.dumps({"summary": "A close debate.", "scores": scores, "winner": winner,
                       "key_arguments": ["the seat that spoke first"]})


def serve_fake(words: int, chunk_delay: float) -> None:
    sys.path.insert(0, str(ROOT))
    from providers.tests.servers import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        server.responder = lambda body: reply_for(body, words)
        server.chunk_delay = chunk_delay
        print(server.url, flush=True)
        done = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
        done.wait(FAKE_LIFETIME)  # stdin closes when the bench ends


# ---- small helpers ---------------------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def ms(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {pct(values, 50) * 1000:.2f} ms, p95 {pct(values, 95) * 1000:.2f} ms, "
            f"max {max(values) * 1000:.1f} ms (n={len(values)})")


def cpu_now() -> float:
    times = os.times()
    return times.user + times.system


# ---- the child: one backend ------------------------------------------------------------------------------------
@dataclass
class TurnTiming:
    debate_id: int
    start: float = 0.0
    end: float = 0.0
    llm: float = 0.0  # time spent awaiting the gateway stream's next item
    first_call: float | None = None
    last_return: float = 0.0
    waits: list[tuple[float, float]] = field(default_factory=list)  # each wait for the stream: (began, ended)

    @property
    def overhead(self) -> float:
        return (self.end - self.start) - self.llm

    def litellm_tasks(self, steps: list[tuple[float, float]]) -> float:
        """Seconds that LiteLLM's own tasks ran on the event loop while this turn was ours, not waiting for the
        stream (their steps inside a wait are in `llm` already). `steps`: (began, seconds), sorted. The same for
        the garbage collector's pauses."""
        first, last = bisect.bisect_left(steps, (self.start,)), bisect.bisect_left(steps, (self.end,))
        starts = [began for began, _ in self.waits]
        total = 0.0
        for began, seconds in steps[first:last]:
            i = bisect.bisect_right(starts, began) - 1
            if i < 0 or began >= self.waits[i][1]:
                total += seconds
        return total


# What LiteLLM runs on the event loop of its own accord, after a call (its success logging, cost and caching
# tasks, which this app uses none of): each step's (began, seconds), from a task factory that times the tasks
# whose coroutine is LiteLLM's. A turn that awaits its commit while one runs waits for it.
LITELLM_STEPS: list[tuple[float, float]] = []


class TimedCoroutine(collections.abc.Coroutine):
    def __init__(self, coroutine) -> None:
        self.coroutine = coroutine

    def send(self, value):
        began = time.perf_counter()
        try:
            return self.coroutine.send(value)
        finally:
            LITELLM_STEPS.append((began, time.perf_counter() - began))

    def throw(self, *error):
        began = time.perf_counter()
        try:
            return self.coroutine.throw(*error)
        finally:
            LITELLM_STEPS.append((began, time.perf_counter() - began))

    def close(self) -> None:
        self.coroutine.close()

    def __await__(self):
        return self


# The garbage collector's pauses, (began, seconds) each, on any thread: what they stop includes the turn.
GC_PAUSES: list[tuple[float, float]] = []
_gc_began = [0.0]


def timing_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_began[0] = time.perf_counter()
    else:
        GC_PAUSES.append((_gc_began[0], time.perf_counter() - _gc_began[0]))


def timing_litellm_tasks(loop: asyncio.AbstractEventLoop, coroutine, **kwargs) -> asyncio.Task:
    code = getattr(coroutine, "cr_code", None)
    if code is not None and f"{os.sep}litellm{os.sep}" in code.co_filename:
        coroutine = TimedCoroutine(coroutine)
    return asyncio.Task(coroutine, loop=loop, **kwargs)


@dataclass
class TxCounter:
    """Transactions, counted where the database sees them (SQLite trace) and where Django issues them."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sqlite: Counter = field(default_factory=Counter)
    django: Counter = field(default_factory=Counter)
    statements: int = 0  # every SQL statement Django ran, in a transaction or not (BEGIN, savepoints excluded)
    trips: float = 0.0  # calls through database_sync_to_async

    def reset(self) -> None:
        with self.lock:
            self.sqlite.clear()
            self.django.clear()
            self.statements = 0
            self.trips = 0.0

    def traced(self, raw, sql: str) -> None:
        head = sql.lstrip()[:12].upper()
        with self.lock:
            if head.startswith("COMMIT") or head.startswith("END"):
                self.sqlite["commit"] += 1
            elif head.startswith("ROLLBACK") and not head.startswith("ROLLBACK TO"):
                self.sqlite["rollback"] += 1
            elif not raw.in_transaction and not head.startswith(("BEGIN", "SAVEPOINT", "RELEASE", "PRAGMA")):
                self.sqlite["autocommit " + ("read" if head.startswith("SELECT") else "write")] += 1

    def executed(self, connection, execute, sql, params, many, context):
        head = sql.lstrip()[:9].upper()
        if head.startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            return execute(sql, params, many, context)  # BEGIN opens the transaction the commit counts
        with self.lock:
            self.statements += 1
            if not connection.in_atomic_block:
                self.django["autocommit " + ("read" if head.startswith("SELECT") else "write")] += 1
                # The runners' heartbeats (orchestrator._beat_once): an UPDATE of heartbeat_at, then a SELECT of
                # cancel_requested, every HEARTBEAT_SECONDS per debate, however far the debate got.
                if ('"heartbeat_at"' in sql and head.startswith("UPDATE")) or (
                        '"cancel_requested"' in sql and head.startswith("SELECT") and '"last_seq"' not in sql):
                    self.django["of which heartbeat or lease claim"] += 1
        return execute(sql, params, many, context)

    def committed(self) -> None:
        with self.lock:
            self.django["atomic commit"] += 1


def breakdown(timings: list[TurnTiming]) -> dict[str, list[float]]:
    steps, pauses = sorted(LITELLM_STEPS), sorted(GC_PAUSES)
    litellm = [t.litellm_tasks(steps) for t in timings]
    return {"overhead": [t.overhead for t in timings], "litellm_tasks": litellm,
            "gc": [t.litellm_tasks(pauses) for t in timings],
            "ours": [t.overhead - spent for t, spent in zip(timings, litellm)], "span": [t.end - t.start for t in timings],
            "llm": [t.llm for t in timings], "before": [t.first_call - t.start for t in timings if t.first_call],
            "after": [t.end - t.last_return for t in timings if t.last_return]}


CURRENT_TURN: contextvars.ContextVar[TurnTiming | None] = contextvars.ContextVar("bench_turn", default=None)


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debateproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import logging

    from django.core.management import call_command
    from django.db import connection, connections
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.signals import connection_created

    counter = TxCounter()
    vendor = connection.vendor

    def on_connect(sender, connection, **kwargs) -> None:
        if not getattr(connection, "bench_counted", False):  # one wrapper per connection object, kept on reconnects
            connection.bench_counted = True
            connection.execute_wrappers.append(functools.partial(counter.executed, connection))
        if connection.vendor == "sqlite":
            raw = connection.connection
            raw.set_trace_callback(lambda sql: counter.traced(raw, sql))

    connection_created.connect(on_connect)
    import channels.db

    original_close_old = channels.db.close_old_connections

    def close_old(**kwargs) -> None:  # called before and after every database_sync_to_async call
        with counter.lock:
            counter.trips += 0.5
        original_close_old(**kwargs)

    channels.db.close_old_connections = close_old
    original_commit = BaseDatabaseWrapper.commit

    def commit(self) -> None:  # the outermost atomic block's commit (Atomic.__exit__)
        original_commit(self)
        counter.committed()

    BaseDatabaseWrapper.commit = commit

    # Everything the app logs at WARNING or above, and what the event loop reports, is an error of this run.
    problems: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(f"{record.levelname} {record.name}: {record.getMessage()[:300]}"
                            + (" [traceback]" if record.exc_info else ""))

    capture = Capture(level=logging.WARNING)
    for name in ("", "debates", "providers", "django", "asyncio"):
        logging.getLogger(name).addHandler(capture)

    call_command("migrate", verbosity=0)
    from channels.db import database_sync_to_async

    from debates.models import Debate, Turn, TurnStatus
    from debates.orchestrator import DebateRunner
    from debates.services import SeatSpec, debate_create, debate_mark_started, debate_preflight
    from providers.llm import gateway
    from providers.llm.base import LLMResult
    from providers.llm.factory import call_settings
    from providers.llm.litellm_client import load_litellm
    from providers.models import LLMModel, Provider
    from ratings.board import wait_idle

    os.environ["BENCH_KEY"] = "sk-bench"
    provider = Provider.objects.create(display_name="Bench concurrent", litellm_provider="openai",
                                       api_base=args.fake_url + "/v1", api_key_env_var="BENCH_KEY")
    model = LLMModel.objects.create(provider=provider, model_name="fake", display_name="Fake")
    stances = ["for", "against"] * ((args.seats + 1) // 2)
    seat_turns_each = args.seats * args.rounds

    timings: list[TurnTiming] = []
    original_stream = gateway.stream_answer

    async def timed(stream, record: TurnTiming):
        while True:
            started = time.perf_counter()
            if record.first_call is None:
                record.first_call = started
            try:
                item = await stream.__anext__()
            except StopAsyncIteration:
                record.llm += time.perf_counter() - started
                record.waits.append((started, time.perf_counter()))
                return
            record.last_return = time.perf_counter()
            record.llm += record.last_return - started
            record.waits.append((started, record.last_return))
            yield item

    stubbed = [False]

    async def instant(model: LLMModel, messages: list, **params):
        """The model call replaced by an instant one that yields the same reply, chunk by chunk: what is left of
        the turn is the orchestrator's own time."""
        text = reply_for({"messages": messages}, args.words)
        for piece in re.findall(r"\s*\S+", text):
            await asyncio.sleep(0)  # a real stream gives the loop away at every read
            yield piece
        yield gateway.Answer(result=LLMResult(text=text, model="instant", provider="openai", backend="stub",
                                              prompt_tokens=100, completion_tokens=args.words), model=model)

    def stream_answer(*call_args, **call_kwargs):
        stream = (instant if stubbed[0] else original_stream)(*call_args, **call_kwargs)
        record = CURRENT_TURN.get()
        return stream if record is None else timed(stream, record)

    gateway.stream_answer = stream_answer  # the orchestrator looks it up on the module at each turn

    class TimedRunner(DebateRunner):
        async def _turn(self, plan, seat, round_number) -> None:
            record = TurnTiming(self.debate_id, start=time.perf_counter())
            token = CURRENT_TURN.set(record)
            try:
                await super()._turn(plan, seat, round_number)
            finally:
                record.end = time.perf_counter()
                CURRENT_TURN.reset(token)
                timings.append(record)

    events: dict[int, Counter] = {}
    last_seq: dict[int, int] = {}

    def listener(event: dict) -> None:
        counts = events.setdefault(event["debate_id"], Counter())
        counts[event["type"]] += 1
        # A numbered event has a seq of its own and was committed with it; an unnumbered one (turn.delta once the
        # streaming path stopped committing it) carries the last numbered event's seq.
        counts["numbered" if event["seq"] != last_seq.get(event["debate_id"]) else "unnumbered"] += 1
        last_seq[event["debate_id"]] = event["seq"]

    def create(n: int) -> int:
        seats = [SeatSpec(model_id=model.pk, stance=stances[i], max_tokens=args.words * 2) for i in range(args.seats)]
        return debate_create(topic=f"Bench motion #{n}: cities should ban cars", rounds=args.rounds, seats=seats,
                             judge_model_id=model.pk).pk

    async def start(debate_id: int) -> None:
        """What debate_start does before it launches the runner."""
        await debate_preflight(debate_id=debate_id)
        await database_sync_to_async(debate_mark_started)(debate_id=debate_id)

    def launch(debate_id: int) -> asyncio.Task:
        # As debates.tasks.launch: a task on this loop in a fresh context, with a listener to count events.
        return asyncio.get_running_loop().create_task(TimedRunner(debate_id, listener=listener).run(),
                                                      name=f"debate-{debate_id}", context=contextvars.Context())

    def close_all() -> None:
        connections.close_all()

    def pg_xact() -> int:
        import psycopg

        name = connection.settings_dict["NAME"]
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as conn:
            return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                                ).fetchone()[0]

    def pg_settled() -> tuple[int, int]:
        """(xact_commit once every backend that worked has exited and flushed its counts, the readings it took):
        readings 1 s apart until two differ by this bench's own reading (1 transaction) only. At most 15 s."""
        previous, readings = pg_xact(), 1
        for _ in range(15):
            time.sleep(1.0)
            now, readings = pg_xact(), readings + 1
            if now - previous <= 1:
                break
            previous = now
        return now, readings

    async def scenario() -> dict:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(timing_litellm_tasks)
        gc.callbacks.append(timing_gc)
        loop.set_exception_handler(lambda _, context: problems.append(f"event loop: {context.get('message')} "
                                                                      f"{context.get('exception')!r}"))
        out: dict = {}
        litellm = load_litellm()

        async def batch(ids: list[int]) -> dict:
            """Launch every debate at once and wait for all: wall time, CPU, and each turn's timing."""
            del timings[:]
            cpu0, began = cpu_now(), time.perf_counter()
            done, pending = await asyncio.wait([launch(i) for i in ids], timeout=RUN_TIMEOUT)
            wall, cpu = time.perf_counter() - began, cpu_now() - cpu0
            for task in pending:
                task.cancel()
            pauses = [seconds for start, seconds in GC_PAUSES if began <= start <= began + wall]
            return {"wall_s": wall, "cpu_s": cpu, "pending": len(pending), "gc_pauses": pauses,
                    "task_errors": [repr(t.exception())[:300] for t in done if not t.cancelled() and t.exception()],
                    "last_turn_s": max((t.end for t in timings), default=began) - began, "turns": breakdown(timings)}

        async def settle() -> None:
            """Let the leaderboard builds that the last verdicts queued (a background thread) finish first, so that
            a phase does not pay for the one before it. The measured run's own builds stay in it: a server's do."""
            try:
                await asyncio.to_thread(wait_idle, 30.0)
            except TimeoutError:
                problems.append("the leaderboard builds did not finish within 30 s")
            await asyncio.sleep(0.3)

        async def created(numbers: range) -> list[int]:
            ids = [await database_sync_to_async(create)(n) for n in numbers]
            await asyncio.gather(*(start(i) for i in ids))
            return ids

        async def solos(numbers: range) -> dict:
            runs = []
            for n in numbers:
                ids = await created(range(n, n + 1))
                await settle()
                runs.append(await batch(ids))
            return {"wall_s": statistics.median(r["wall_s"] for r in runs),
                    "turns": {key: [x for r in runs for x in r["turns"][key]] for key in runs[0]["turns"]}}

        await solos(range(-1, 0))  # warm-up: LiteLLM's import, the first connections, the pre-flight's memory
        out["solo"] = await solos(range(-1 - SOLO_RUNS, -1))

        # The orchestrator alone: the model call stubbed out (the judge still asks the fake server).
        stubbed[0] = True
        out["stub_solo"] = await solos(range(-10 - SOLO_RUNS, -10))
        stub_ids = await created(range(-1000 - min(args.debates, STUB_AT_ONCE), -1000))
        await settle()
        out["stub"] = await batch(stub_ids)
        out["stub"]["debates"] = len(stub_ids)
        out["stub"]["completed"] = await database_sync_to_async(
            lambda: Debate.objects.filter(pk__in=stub_ids, status="completed").count())()
        stubbed[0] = False

        # Bare LiteLLM, the very parameters our client passes, a seat's prompt so the reply is a seat's reply.
        settings = call_settings(model)
        params = {"model": "openai/fake", "api_base": args.fake_url + "/v1", "api_key": "sk-bench",
                  "timeout": settings.timeout, "stream_timeout": settings.first_chunk_timeout, "max_retries": 0,
                  "num_retries": 0, "drop_params": True, "stream": True, "stream_options": {"include_usage": True},
                  "messages": [{"role": "system", "content": "You are Speaker A, a debater."},
                               {"role": "user", "content": "Motion: Bench motion #0\nThis is round 1 of 2."}]}

        async def bare() -> float:
            began = time.perf_counter()
            async for _ in await litellm.acompletion(**params):
                pass
            return time.perf_counter() - began

        await settle()
        cpu0 = cpu_now()
        alone = [await bare() for _ in range(BARE_CALLS)]
        await asyncio.sleep(0.5)  # LiteLLM's after-call bookkeeping is part of a call's CPU
        out["bare_alone"] = {"wall": alone, "cpu_per_call": (cpu_now() - cpu0) / len(alone)}
        cpu0, began = cpu_now(), time.perf_counter()
        together = await asyncio.gather(*(bare() for _ in range(BARE_CALLS)))
        out["bare_together"] = {"wall": list(together), "all_s": time.perf_counter() - began}
        await asyncio.sleep(0.5)
        out["bare_together"]["cpu_per_call"] = (cpu_now() - cpu0) / len(together)

        # The measured run.
        ids = [await database_sync_to_async(create)(n) for n in range(args.debates)]
        counter.reset()
        began = time.perf_counter()
        starts = await asyncio.gather(*(start(i) for i in ids), return_exceptions=True)
        out["start_s"] = time.perf_counter() - began
        out["start_errors"] = [repr(s)[:300] for s in starts if isinstance(s, BaseException)]
        out["start_tx"] = sum(counter.django.values())

        await settle()
        await database_sync_to_async(close_all)()
        xact_before = (await asyncio.to_thread(pg_settled))[0] if vendor == "postgresql" else None
        counter.reset()
        out.update(await batch(ids))
        out["tx"] = {"django": dict(counter.django), "sqlite": dict(counter.sqlite), "statements": counter.statements,
                     "trips": counter.trips}
        await database_sync_to_async(close_all)()
        if vendor == "postgresql":
            xact_after, readings = await asyncio.to_thread(pg_settled)
            # Ours to subtract: the last reading before the run and every reading after it but the last.
            out["tx"]["xact_commit"] = xact_after - xact_before - readings
        out["events"] = dict(sum((events[i] for i in ids if i in events), Counter()))
        out["ids"] = ids
        return out

    connections.close_all()  # this thread's connection (migrate, the model rows) stays idle from here on
    out = asyncio.run(scenario())
    ids = out.pop("ids")
    # The record: what the database holds for every measured debate.
    statuses = Counter(Debate.objects.filter(pk__in=ids).values_list("status", flat=True))
    reasons = list(Debate.objects.filter(pk__in=ids).exclude(status="completed").values_list("failure_reason",
                                                                                             flat=True)[:3])
    turns = Turn.objects.filter(debate_id__in=ids)
    completed_turns = turns.filter(status=TurnStatus.COMPLETED)
    wrong_text = 0
    for debate_id, text, round_, position in completed_turns.values_list("debate_id", "text", "round",
                                                                          "seat__position"):
        topic_n = ids.index(debate_id)
        label = "ABCDEF"[position - 1]
        if not text.startswith(f"[d{topic_n}-{label}-r{round_}]") or len(text.split()) != args.words:
            wrong_text += 1
    verdicts = Debate.objects.filter(pk__in=ids, verdict__parsed=True)
    out.update({
        "backend": args.child, "vendor": vendor, "debates": len(ids), "statuses": dict(statuses),
        "failure_reasons": reasons, "turns_expected": len(ids) * seat_turns_each,
        "turns_completed": completed_turns.count(), "turns_failed": turns.filter(status=TurnStatus.FAILED).count(),
        "turns_wrong_text": wrong_text, "verdicts_parsed": verdicts.count(),
        "verdicts_with_winner": verdicts.filter(verdict__winner__isnull=False).count(),
        "problems": problems, "locked": sum("database is locked" in p for p in problems + reasons),
        "channel_layer": "redis" if os.environ.get("REDIS_URL") else "in-memory",
        "tree": str(Path(sys.modules["debates"].__file__).resolve().parents[1]),
    })
    print("RESULT " + json.dumps(out), flush=True)


# ---- the parent: the fake server, one child per backend, the report ----------------------------------------------
def report(r: dict, args: argparse.Namespace) -> None:
    turns = r["turns_completed"]
    print(f"\n[{r['backend']}] {r['debates']} debates x {args.seats} seats x {args.rounds} rounds, "
          f"{args.words} words per turn at chunk delay {args.chunk_delay * 1000:g} ms; channel layer "
          f"{r['channel_layer']}; code from {r['tree']}")
    print(f"  errors: debates {r['statuses']} (not completed: {r['debates'] - r['statuses'].get('completed', 0)}); "
          f"turns completed {turns}/{r['turns_expected']}, failed {r['turns_failed']}, wrong text "
          f"{r['turns_wrong_text']}; verdicts parsed {r['verdicts_parsed']}, with a winner "
          f"{r['verdicts_with_winner']}; runners still going at the deadline {r['pending']}; task exceptions "
          f"{len(r['task_errors'])}; start errors {len(r['start_errors'])}; warnings/errors logged "
          f"{len(r['problems'])}; 'database is locked' {r['locked']}")
    for line in (r["failure_reasons"] + r["start_errors"] + r["task_errors"] + r["problems"])[:8]:
        print(f"    {line}")
    print(f"  start (pre-flight + marked started, all at once): {r['start_s'] * 1000:.0f} ms, {r['start_tx']} "
          f"transactions (Django-side)")
    print(f"  run: {r['wall_s']:.2f} s wall for all debates (last turn done at {r['last_turn_s']:.2f} s), "
          f"{turns / r['wall_s']:.1f} turns/s, {r['debates'] / r['wall_s']:.2f} debates/s; process CPU "
          f"{r['cpu_s']:.1f} s ({r['cpu_s'] / max(1, turns) * 1000:.1f} ms per turn, judge included)")
    rows = [(f"{r['debates']} at once", r["turns"]),
            (f"one debate alone ({SOLO_RUNS} debates, median wall {r['solo']['wall_s'] * 1000:.0f} ms)",
             r["solo"]["turns"]),
            (f"model call stubbed, {r['stub']['debates']} at once ({r['stub']['completed']} completed, "
             f"{r['stub']['wall_s']:.2f} s wall, CPU {r['stub']['cpu_s']:.1f} s)", r["stub"]["turns"]),
            (f"model call stubbed, one debate alone (median wall {r['stub_solo']['wall_s'] * 1000:.0f} ms)",
             r["stub_solo"]["turns"])]
    pauses = r.get("gc_pauses", [])
    print(f"  garbage collections during the run of {r['debates']}: {len(pauses)}, {sum(pauses) * 1000:.0f} ms in all, "
          f"the longest {max(pauses, default=0) * 1000:.1f} ms (every debate of the process waits through each)")
    for label, t in rows:
        print(f"  overhead per turn, {label}: {ms(t['overhead'])}")
        print(f"    of which LiteLLM's own tasks on the event loop: {ms(t['litellm_tasks'])}; ours without them: "
              f"{ms(t['ours'])}; the garbage collector's pauses in it: {ms(t['gc'])}")
        print(f"    before the call (row, prompt, turn.started commit): {ms(t['before'])}")
        print(f"    after the stream (last flush, turn.completed commit): {ms(t['after'])}")
        print(f"    turn span {ms(t['span'])}; awaiting the stream {ms(t['llm'])}")
    ba, bt = r["bare_alone"], r["bare_together"]
    stub_turns = len(r["stub"]["turns"]["span"])
    print(f"  throughput: {r['wall_s'] / turns * 1000:.1f} ms of wall time per turn, {r['debates']} at once; bare "
          f"LiteLLM {bt['all_s'] / len(bt['wall']) * 1000:.1f} ms per call, {len(bt['wall'])} at once; model call "
          f"stubbed {r['stub']['wall_s'] / max(1, stub_turns) * 1000:.1f} ms per turn, {r['stub']['debates']} at once "
          f"(each figure: the batch's wall time over its calls or turns)")
    print(f"  bare litellm.acompletion stream of the same reply: one at a time {ms(ba['wall'])}, CPU "
          f"{ba['cpu_per_call'] * 1000:.1f} ms per call; {len(bt['wall'])} at once {ms(bt['wall'])}, all in "
          f"{bt['all_s'] * 1000:.0f} ms, CPU {bt['cpu_per_call'] * 1000:.1f} ms per call")
    tx, ev = r["tx"], r["events"]
    django_total = sum(v for k, v in tx["django"].items() if not k.startswith("of which"))
    line = (f"  database transactions per turn (the runners' work, reads included): Django-side "
            f"{django_total / turns:.2f}")
    if tx["sqlite"]:
        line += f", SQLite trace {sum(v for k, v in tx['sqlite'].items() if k != 'rollback') / turns:.2f}"
    if "xact_commit" in tx:
        line += f", pg_stat_database xact_commit {tx['xact_commit'] / turns:.2f}"
    beats = tx["django"].get("of which heartbeat or lease claim", 0)
    print(line + f"; of the Django-side ones, heartbeats and lease claims {beats / turns:.2f}")
    print(f"    Django-side {tx['django']}; SQLite {tx['sqlite'] or '-'}; SQL statements {tx['statements']} "
          f"({tx['statements'] / turns:.1f} per turn); trips to the database thread {tx['trips']:.0f} "
          f"({tx['trips'] / turns:.1f} per turn)")
    kinds = {k: v for k, v in ev.items() if k not in ("numbered", "unnumbered")}
    print(f"    events {kinds}: per turn {sum(kinds.values()) / turns:.2f}, of them turn.delta "
          f"{ev.get('turn.delta', 0) / turns:.2f}; numbered (each committed with its seq) "
          f"{ev.get('numbered', 0) / turns:.2f}, unnumbered {ev.get('unnumbered', 0) / turns:.2f}")


def free_db_name() -> str:
    return f"arena_bench_concurrent_{uuid.uuid4().hex[:8]}"


def run_child(backend: str, args: argparse.Namespace, env: dict) -> dict | None:
    command = [sys.executable, __file__, "--child", backend, "--fake-url", args.fake_url, "--debates",
               str(args.debates), "--seats", str(args.seats), "--rounds", str(args.rounds), "--words",
               str(args.words), "--chunk-delay", str(args.chunk_delay)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(CHILD_TIMEOUT, process.kill)
    watchdog.start()
    result = None
    try:
        for line in process.stdout:
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
            else:
                print(line, end="")
        process.wait(timeout=30)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    if result is None:
        print(f"\n[{backend}] the child ended with code {process.returncode} and no result")
    return result


def pg_up() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 5432)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debates", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    # 50, not more: at 100 the run takes some 9 minutes here, most of it LiteLLM parsing chunks (about 1 ms each).
    parser.add_argument("--words", type=int, default=50, help="words (chunks) in every seat's reply")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between the model's chunks")
    parser.add_argument("--redis", action="store_true", help="postgres with the Redis channel layer (db 9)")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--fake-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        return serve_fake(args.words, args.chunk_delay)
    if args.child:
        return child(args)

    load = os.getloadavg()
    print(f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}; {os.cpu_count()} cores; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {' '.join(sys.argv[1:]) or '(defaults)'}")
    var_dir = Path(tempfile.mkdtemp(prefix="bench-concurrent-"))
    base = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    base.update({"DJANGO_DEBUG": "false", "ARENA_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                 "LITELLM_LOCAL_MODEL_COST_MAP": "True", "ARENA_VAR_DIR": str(var_dir)})
    fake = subprocess.Popen([sys.executable, __file__, "--serve-fake", "--words", str(args.words), "--chunk-delay",
                             str(args.chunk_delay)], cwd=ROOT, env=base, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    results = []
    try:
        args.fake_url = fake.stdout.readline().strip()
        if not args.fake_url.startswith("http://127.0.0.1:"):
            raise SystemExit("the fake model server did not start")
        for backend in args.backends.split(","):
            if backend == "sqlite":
                env = {**base, "DATABASE_URL": f"sqlite:///{var_dir / 'bench.sqlite3'}"}
                results.append(run_child(backend, args, env))
            elif backend == "postgres":
                if not pg_up():
                    print("\n[postgres] skipped: nothing answers on 127.0.0.1:5432 (bash scripts/ensure_services.sh)")
                    continue
                import psycopg

                name = free_db_name()
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                try:
                    env = {**base, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}"}
                    if args.redis:
                        env["REDIS_URL"] = REDIS_URL
                    results.append(run_child(backend, args, env))
                finally:
                    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                print(f"unknown backend {backend!r}: sqlite or postgres")
    finally:
        close_fake(fake)
        shutil.rmtree(var_dir, ignore_errors=True)
    for result in results:
        if result:
            report(result, args)
    load = os.getloadavg()
    print(f"\nended {datetime.now(timezone.utc).isoformat(timespec='seconds')}; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
