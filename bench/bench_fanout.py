"""WebSocket fan-out: N clients watching one debate that runs inside the daphne process serving them.

    .venv/bin/python bench/bench_fanout.py [--clients 0,50,100,200] [--words 300] [--rounds 2] [--embedded-only]

Embedded mode: one daphne process, SQLite in a temporary ARENA_VAR_DIR, the in-memory channel layer. Then, when
PostgreSQL (5432) and Redis (6379) answer on 127.0.0.1, scale-out mode: two daphne processes on a fresh PostgreSQL
database and Redis, the clients split between them, the debate started (and so run) on the first.

The model is `providers.tests.servers.FakeOpenAIServer` in a process of its own, streaming one word per chunk every
10 ms (100 tokens/s); every seat reply is `--words` words long. The debate is created and started over the REST API
with a token from `manage.py create_api_token`. Each client follows the live channel as debate.js does: it applies
events in `seq` order (a `turn.delta` is not numbered: applied by its offset), asks for a resync on a seq gap or a
`turn.delta` whose offset lies past its text, and
ignores events while a resync is on its way. Prints, for each run: the time for all clients to connect (snapshot
received), whether every client ended with the exact text of every turn the database holds, gaps, resyncs, and
the delivery latency of `turn.completed` and `turn.delta` (the event's `ts` against the time this process received
it; both clocks are this machine's, and the figure includes this process's own queueing), the delta batching the
runner achieved, and the CPU daphne spent. Before that, in embedded mode, it checks the doors the old app left open:
a foreign Origin, a socket without a session, and DELETE without a token or by another user.
"""
import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ROOT = Path(__file__).resolve().parents[1]
DAPHNE = ROOT / ".venv" / "bin" / "daphne"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/7"  # not the tests' database 0: a test run beside this never shares groups
CHUNK_DELAY = 0.01  # seconds between streamed words: a model writing 100 tokens/s
CONNECT_TIMEOUT = 60.0  # for all clients together
SILENCE_TIMEOUT = 15.0  # a client that hears nothing this long while the debate should be running is stuck
START_TIMEOUT = 30.0
FAKE_SERVER_LIFETIME = 1800.0  # the fake model server exits on its own after this, whatever happens here
TERMINAL = ("completed", "failed", "cancelled")

SETUP = """
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from providers.models import Provider, LLMModel
user = User.objects.create_user("bench", password="bench-" + "{nonce}")
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
provider = Provider.objects.create(display_name="Bench fake OpenAI", litellm_provider="openai", api_base="{api_base}")
model = LLMModel.objects.create(provider=provider, model_name="fake", display_name="Fake")
User.objects.create_user("bystander", password="bystander-" + "{nonce}")
print(session.session_key, model.pk)
"""


# ---- the fake model, in a process of its own so that 200 clients here do not slow its stream -------------------
def serve_fake(words: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debateproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from debates.tests.conftest import valid_verdict

    replies = itertools.count(1)
    lock = threading.Lock()

    def respond(body) -> str:
        text = json.dumps(body)
        if "impartial" in text:
            return valid_verdict(body)
        if "Warm-up" in text:
            return "A short warm-up reply."
        with lock:
            n = next(replies)
        # Distinct words per reply, with a few non-ASCII letters: a mixed-up or shifted text cannot pass.
        return " ".join(f"r{n}-w{i}{'é' if i % 7 == 0 else ''}" for i in range(words)) + "."

    serve(respond, FAKE_SERVER_LIFETIME)


def serve(respond, lifetime: float) -> None:
    """FakeOpenAIServer answering with `respond`, a word every CHUNK_DELAY, until stdin closes (after django.setup)."""
    from providers.tests.servers import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        server.responder = respond
        server.chunk_delay = CHUNK_DELAY
        print(server.url, flush=True)
        done = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
        done.wait(lifetime)  # stdin closes when the bench ends


def close_fake(fake: subprocess.Popen) -> None:
    """Closing its stdin tells the fake model server to exit."""
    fake.stdin.close()
    try:
        fake.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fake.kill()
        fake.wait(timeout=10)


# ---- processes ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode:
        raise SystemExit(f"manage.py {args[0]} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def start_daphne(env: dict, log_dir: Path, prefix: tuple[str, ...] = ()) -> tuple[subprocess.Popen, int]:
    """`prefix`: a command daphne runs under (bench_takeover's PID namespace)."""
    port = free_port()
    with open(log_dir / f"daphne-{port}.log", "w") as log:  # the child keeps its own descriptor
        process = subprocess.Popen([*prefix, str(DAPHNE), "-b", "127.0.0.1", "-p", str(port),
                                    "debateproject.asgi:application"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"daphne exited:\n{(log_dir / f'daphne-{port}.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"daphne on port {port} never became healthy")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- one client, following the protocol as debate.js does ---------------------------------------------------------
def status_after(kind: str, payload: dict) -> str | None:
    """The debate's status once event `kind` has applied; None for an event that does not change it."""
    if kind in ("debate.completed", "debate.failed", "debate.cancelled"):
        return payload.get("status") or kind.split(".")[1]
    return {"debate.started": "running", "judging.started": "judging"}.get(kind)


@dataclass
class Client:
    index: int
    port: int
    seq: int | None = None
    resyncing: bool = False
    status: str = ""
    turns: dict = field(default_factory=dict)  # turn id -> text
    has_verdict: bool = False
    connect_s: float | None = None
    error: str = ""
    messages: int = 0
    snapshots: int = 0
    gaps: int = 0  # events whose seq jumped past seq + 1
    holes: int = 0  # turn.delta whose offset lay past the text this client had
    resyncs: int = 0
    ignored: int = 0  # events that arrived while a resync was on its way
    stuck: bool = False  # heard nothing for SILENCE_TIMEOUT seconds before the end
    timed_out: bool = False  # the bench's overall deadline passed before the end
    heard: float = 0.0  # time.monotonic() of the last message
    done: bool = False  # no longer following (the end, an error, or closed by `watch`)
    deltas: int = 0
    delta_chars: int = 0
    completed_latency: list = field(default_factory=list)
    delta_latency: list = field(default_factory=list)

    def apply_snapshot(self, message: dict) -> None:
        payload = message["payload"]
        self.snapshots += 1
        self.seq = message["seq"]
        self.status = payload["debate"]["status"]
        self.turns = {turn["id"]: turn["text"] for turn in payload["turns"]}
        self.has_verdict = payload["verdict"] is not None
        self.resyncing = False

    def apply_event(self, event: dict) -> bool:
        """False when the event cannot be applied and a snapshot is needed."""
        kind, payload = event["type"], event.get("payload") or {}
        if kind == "turn.started":
            self.turns[payload["turn"]["id"]] = payload["turn"]["text"]
        elif kind == "turn.delta":
            text = self.turns.get(payload["turn_id"])
            if text is None:
                if payload["offset"]:
                    return False
                text = ""
            if payload["offset"] > len(text):
                return False
            end = payload["offset"] + len(payload["text"])
            if end > len(text):
                text += payload["text"][len(text) - payload["offset"]:]
            self.turns[payload["turn_id"]] = text
        elif kind == "turn.completed":
            self.turns[payload["id"]] = payload["text"]
        elif kind == "turn.failed":
            if payload["turn_id"] not in self.turns:
                return False
        elif kind == "verdict":
            self.has_verdict = True
        else:
            self.status = status_after(kind, payload) or self.status
        return True

    async def on_message(self, socket_, raw: str, received: float) -> None:
        self.messages += 1
        message = json.loads(raw)
        kind = message["type"]
        if kind == "snapshot":
            self.apply_snapshot(message)
            return
        if kind == "error":
            self.error = message["payload"].get("code", "error")
            return
        if kind == "turn.delta":
            self.deltas += 1
            self.delta_chars += len(message["payload"]["text"])
        if "ts" in message and kind in ("turn.completed", "turn.delta"):
            latency = received - datetime.fromisoformat(message["ts"]).timestamp()
            (self.completed_latency if kind == "turn.completed" else self.delta_latency).append(latency)
        if self.seq is None or self.resyncing:
            self.ignored += 1
            return
        if kind == "turn.delta":  # not numbered: its seq is the last numbered event's, and it may repeat text
            if message["seq"] < self.seq:
                return
            if not self.apply_event(message):
                self.holes += 1
                await self.resync(socket_)
            return
        if message["seq"] <= self.seq:
            return
        if message["seq"] > self.seq + 1:
            self.gaps += 1
            await self.resync(socket_)
            return
        if not self.apply_event(message):
            self.holes += 1
            await self.resync(socket_)
            return
        self.seq = message["seq"]

    async def resync(self, socket_) -> None:
        self.resyncing = True
        self.resyncs += 1
        await socket_.send(json.dumps({"type": "resync"}))

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL and not self.resyncing


async def open_client(client: Client, debate_id: int, session: str):
    started = time.perf_counter()
    try:
        socket_ = await ws_connect(f"ws://127.0.0.1:{client.port}/ws/debates/{debate_id}/",
                                   origin=f"http://127.0.0.1:{client.port}",
                                   additional_headers={"Cookie": f"sessionid={session}"},
                                   open_timeout=CONNECT_TIMEOUT, ping_interval=None, max_size=2 ** 24,
                                   max_queue=None)
        raw = await asyncio.wait_for(socket_.recv(), CONNECT_TIMEOUT)
        await client.on_message(socket_, raw, time.time())
        if client.seq is None:
            client.error = client.error or "no snapshot"
            await socket_.close()
            return None
    except Exception as exc:  # noqa: BLE001 - a refused client is a result to report, not a crash
        client.error = f"{type(exc).__name__}: {exc}"[:200]
        return None
    client.connect_s = time.perf_counter() - started
    return socket_


async def follow(client: Client, socket_) -> None:
    """Apply every message until the debate ends, or `watch` closes the socket (silent, or past the deadline)."""
    try:
        if not client.finished:
            async for raw in socket_:  # no timer per message: on Python 3.11 each costs the clients CPU that a
                client.heard = time.monotonic()  # browser elsewhere would not take from the server's cores
                await client.on_message(socket_, raw, time.time())
                if client.finished:
                    break
    except Exception as exc:  # noqa: BLE001
        client.error = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        client.done = True
        with suppress(Exception):
            await asyncio.wait_for(socket_.close(), 5)


async def watch(followed: list, deadline: float) -> None:
    """Once a second, close the socket of each client still following that heard nothing for SILENCE_TIMEOUT
    (stuck) or that the deadline passed: its `follow` then ends."""
    closing = set()  # the close tasks, held until they end
    while not all(client.done for client, _ in followed):
        await asyncio.sleep(1.0)
        now = time.monotonic()
        for client, socket_ in followed:
            if client.done or client.stuck or client.timed_out:
                continue
            client.timed_out = now >= deadline
            client.stuck = not client.timed_out and now - client.heard >= SILENCE_TIMEOUT
            if client.stuck or client.timed_out:
                task = asyncio.create_task(socket_.close())
                closing.add(task)
                task.add_done_callback(closing.discard)


# ---- one run: create a debate, connect N clients, start it, follow it to the end ---------------------------------
def api(port: int, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}/api", headers={"Authorization": f"Bearer {token}"},
                        timeout=30)


def create_debate(http: httpx.Client, model_id: int, rounds: int, topic: str) -> int:
    response = http.post("/debates", json={
        "topic": topic, "rounds": rounds, "judge_model_id": model_id,
        "seats": [{"model_id": model_id, "stance": stance, "display_name": name, "max_tokens": 2000}
                  for stance, name in (("for", "Ada"), ("against", "Bo"))]})
    if response.is_error:
        raise SystemExit(f"creating the debate failed: {response.status_code} {response.text[:500]}")
    return response.json()["id"]


def wait_finished(http: httpx.Client, debate_id: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        debate = http.get(f"/debates/{debate_id}").json()
        if debate["status"] in TERMINAL:
            return debate
        time.sleep(0.2)
    return http.get(f"/debates/{debate_id}").json()


def warm_up(port: int, token: str, model_id: int) -> int:
    """One short debate on this process, so that the measured one does not wait for LiteLLM's import."""
    with api(port, token) as http:
        debate_id = create_debate(http, model_id, 1, "Warm-up motion")
        http.post(f"/debates/{debate_id}/start").raise_for_status()
        debate = wait_finished(http, debate_id, 60)
        if debate["status"] != "completed":
            raise SystemExit(f"the warm-up debate on port {port} ended {debate['status']}: {debate['failure_reason']}")
    return debate_id


def check_doors(port: int, debate_id: int, session: str, token: str, bystander_token: str) -> None:
    """What the old app let anyone do: open the live channel from any origin, delete any debate."""
    url = f"ws://127.0.0.1:{port}/ws/debates/{debate_id}/"

    async def sockets() -> tuple[str, str]:
        try:
            async with ws_connect(url, origin="http://evil.example", open_timeout=10,
                                  additional_headers={"Cookie": f"sessionid={session}"}) as socket_:
                foreign = f"ACCEPTED, first message {(await socket_.recv())[:80]!r}"
        except InvalidStatus as exc:
            foreign = f"refused at the handshake with HTTP {exc.response.status_code}"
        async with ws_connect(url, origin=f"http://127.0.0.1:{port}", open_timeout=10) as socket_:
            first = json.loads(await asyncio.wait_for(socket_.recv(), 10))
            try:
                await asyncio.wait_for(socket_.recv(), 10)
                anonymous = f"ACCEPTED: {first['type']} then more"
            except ConnectionClosed as exc:
                anonymous = f"told {first['payload'].get('code')!r}, then closed with code {exc.rcvd.code}"
        return foreign, anonymous

    foreign, anonymous = asyncio.run(sockets())
    base = f"http://127.0.0.1:{port}/api/debates/{debate_id}"
    nobody = httpx.delete(base, timeout=10)
    bystander = httpx.delete(base, headers={"Authorization": f"Bearer {bystander_token}"}, timeout=10)
    still_there = httpx.get(base, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    print(f"doors (debate {debate_id}): a foreign Origin with a valid session is {foreign}; a socket without a "
          f"session is {anonymous}; DELETE without a token: {nobody.status_code} {nobody.json().get('code')}; "
          f"DELETE by another signed-in user: {bystander.status_code} {bystander.json().get('code')}; "
          f"the debate is still there: {still_there}")


def pct(values: list, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def ms(values: list) -> str:
    if not values:
        return "none received"
    return (f"p50 {pct(values, 50) * 1000:.0f} ms, p95 {pct(values, 95) * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms (n={len(values)})")


def run_case(label: str, ports: list[int], daphne_pids: list[int], token: str, session: str, model_id: int,
             clients_count: int, rounds: int, words: int) -> dict:
    expected_s = 2 * rounds * words * CHUNK_DELAY
    with api(ports[0], token) as http:
        debate_id = create_debate(http, model_id, rounds, f"Fan-out to {clients_count} clients")
        clients = [Client(index=i, port=ports[i % len(ports)]) for i in range(clients_count)]

        async def scenario():
            started = time.perf_counter()
            sockets = await asyncio.gather(*(open_client(c, debate_id, session) for c in clients))
            connect_all = time.perf_counter() - started
            cpu_before = {pid: cpu_seconds(pid) for pid in daphne_pids}
            own_before = os.times()
            response = await asyncio.to_thread(http.post, f"/debates/{debate_id}/start")
            response.raise_for_status()
            deadline = time.monotonic() + expected_s * 12 + 60
            followed = [(c, s) for c, s in zip(clients, sockets) if s is not None]
            for client, _ in followed:
                client.heard = time.monotonic()
            await asyncio.gather(watch(followed, deadline), *(follow(c, s) for c, s in followed))
            finished = await asyncio.to_thread(wait_finished, http, debate_id, 30)
            own_after = os.times()
            cpu = {pid: cpu_seconds(pid) - before for pid, before in cpu_before.items()}
            own = (own_after.user + own_after.system) - (own_before.user + own_before.system)
            return connect_all, cpu, own, finished

        connect_all, cpu, own_cpu, debate = asyncio.run(scenario())

    truth = {turn["id"]: turn["text"] for turn in debate["turns"]}
    connected = [c for c in clients if c.connect_s is not None]
    whole = [c for c in connected if c.turns == truth and c.status == debate["status"] and c.has_verdict]
    wall = (datetime.fromisoformat(debate["finished_at"]) - datetime.fromisoformat(debate["started_at"])
            ).total_seconds() if debate["finished_at"] else float("nan")
    print(f"\n[{label}] {clients_count} clients on port(s) {', '.join(map(str, ports))}, debate {debate_id}: "
          f"{debate['status']}, {len(truth)} turns of {words} words, {wall:.1f} s from start to finish "
          f"(streaming alone needs {expected_s:.1f} s at 100 tokens/s)")
    if clients_count:
        print(f"  connect: {len(connected)}/{clients_count} connected; all snapshots in after {connect_all * 1000:.0f} ms; "
              f"per client {ms([c.connect_s for c in connected])}")
        refused = [c for c in clients if c.connect_s is None]
        if refused:
            print(f"  NOT CONNECTED: {len(refused)}, e.g. {refused[0].error}")
        print(f"  whole: {len(whole)}/{len(connected)} clients ended with the database's exact text of every turn, "
              f"its final status and the verdict")
        for c in [c for c in connected if c not in whole][:5]:
            wrong = [tid for tid in truth if c.turns.get(tid) != truth[tid]]
            detail = "; ".join(f"turn {tid}: has {len(c.turns.get(tid) or '')} of {len(truth[tid])} chars"
                               for tid in wrong[:3])
            print(f"    client {c.index} (port {c.port}): status {c.status!r}, verdict {c.has_verdict}, silent "
                  f"{c.stuck}, past the deadline {c.timed_out}, error {c.error!r}; {detail or 'texts equal'}")
        print(f"  gaps (seq jumps): {sum(c.gaps for c in connected)} in {sum(1 for c in connected if c.gaps)} "
              f"clients; offset holes: {sum(c.holes for c in connected)}; resyncs: "
              f"{sum(c.resyncs for c in connected)}; events ignored while resyncing: "
              f"{sum(c.ignored for c in connected)}; silent {SILENCE_TIMEOUT:.0f} s before the end: "
              f"{sum(1 for c in connected if c.stuck)}; past the deadline: {sum(1 for c in connected if c.timed_out)}")
        sample = connected[0] if connected else Client(index=-1, port=0)
        per_turn = sample.deltas / max(1, len(truth))
        print(f"  turn.delta batching (client {sample.index}): {per_turn:.0f} deltas per turn, "
              f"{sample.delta_chars / max(1, sample.deltas):.1f} characters per delta "
              f"(a word here is about {statistics.mean(len(t) for t in truth.values()) / words:.1f})")
        print(f"  messages received: {sum(c.messages for c in connected)} "
              f"({statistics.mean(c.messages for c in connected):.0f} per client)")
        print(f"  turn.completed latency: {ms([x for c in connected for x in c.completed_latency])}")
        print(f"  turn.delta latency:     {ms([x for c in connected for x in c.delta_latency])}")
        if len(ports) > 1:
            for port in ports:
                mine = [c for c in connected if c.port == port]
                role = "runs the debate" if port == ports[0] else "relays through Redis"
                print(f"    port {port} ({role}): turn.completed {ms([x for c in mine for x in c.completed_latency])}; "
                      f"gaps {sum(c.gaps for c in mine)}; whole {sum(1 for c in mine if c in whole)}/{len(mine)}")
    print(f"  CPU during the debate: daphne {', '.join(f'{v:.1f} s' for v in cpu.values())}; "
          f"these clients {own_cpu:.1f} s; over {wall:.1f} s of wall time on {os.cpu_count()} cores")
    return {"whole": len(whole), "connected": len(connected)}


# ---- the two modes --------------------------------------------------------------------------------------------------
def prepare(env: dict, fake_url: str) -> tuple[str, int, str]:
    manage(env, "migrate", "-v0")
    out = manage(env, "shell", "-c", SETUP.format(api_base=fake_url + "/v1", nonce=uuid.uuid4().hex))
    session, model_id = out.strip().splitlines()[-1].split()
    token = manage(env, "create_api_token", "bench", "--name", "bench_fanout").strip()
    bystander_token = manage(env, "create_api_token", "bystander", "--name", "bench_fanout").strip()
    return session, int(model_id), token, bystander_token


def run_mode(label: str, env: dict, var_dir: Path, fake_url: str, processes: int, counts: list[int], rounds: int,
             words: int, doors: bool = False) -> None:
    session, model_id, token, bystander_token = prepare(env, fake_url)
    daphnes = []
    try:
        for _ in range(processes):
            daphnes.append(start_daphne(env, var_dir))
        warmed = [warm_up(port, token, model_id) for _, port in daphnes]
        ports, pids = [port for _, port in daphnes], [p.pid for p, _ in daphnes]
        if doors:
            check_doors(ports[0], warmed[0], session, token, bystander_token)
        for count in counts:
            run_case(label, ports, pids, token, session, model_id, count, rounds, words)
    finally:
        for process, port in daphnes:
            stop(process)
            errors = [line for line in (var_dir / f"daphne-{port}.log").read_text(errors="replace").splitlines()
                      if "Traceback" in line or "ERROR" in line]
            if errors:
                print(f"  daphne on port {port} logged {len(errors)} error line(s), e.g. {errors[0][:200]!r}")


def services_up() -> bool:
    for port in (5432, 6379):
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="0,50,100,200", help="comma-separated client counts; 0 = no client (baseline)")
    parser.add_argument("--words", type=int, default=300, help="words (streamed tokens) in every seat's reply")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--embedded-only", action="store_true")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        return serve_fake(args.words)
    counts = [int(n) for n in args.clients.split(",")]
    load = os.getloadavg()
    print(f"{datetime.now().isoformat(timespec='seconds')}; {os.cpu_count()} cores; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.rounds} rounds x 2 seats, {args.words} words per turn "
          f"at 100 tokens/s, deltas batched every 50 ms")

    base_env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    base_env.update({"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_DEBUG": "false",
                     "ARENA_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    var_dir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    base_env["ARENA_VAR_DIR"] = str(var_dir)
    fake = subprocess.Popen([sys.executable, __file__, "--serve-fake", "--words", str(args.words)], cwd=ROOT,
                            env=base_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        fake_url = fake.stdout.readline().strip()
        if not fake_url.startswith("http://127.0.0.1:"):
            raise SystemExit("the fake model server did not start")

        run_mode("embedded: SQLite + in-memory layer, 1 daphne", base_env, var_dir, fake_url, 1, counts,
                 args.rounds, args.words, doors=True)

        if args.embedded_only:
            return
        if not services_up():
            print("\n[scale-out] skipped: PostgreSQL on 5432 and Redis on 6379 are not both up (make services)")
            return
        import psycopg

        name = f"arena_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            env = {**base_env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}", "REDIS_URL": REDIS_URL}
            run_mode("scale-out: PostgreSQL + Redis, 2 daphne", env, var_dir, fake_url, 2, counts, args.rounds,
                     args.words)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        close_fake(fake)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
