"""Measures what the app we replace did badly, against an instant local model.

    .venv/bin/python bench/bench_debate.py

Prints: the wall time of a 2-seat, 3-round debate with a judge (median of 5), where it goes (the debate's events
against the floor: one turn's streamed reply read straight over HTTP, and the same through litellm.acompletion
with the client the gateway gives it), the number of HTTP calls and the time a provider answering 500 costs
before the user sees why, what happens to a malformed verdict, and how long `manage.py llm_backend status` takes
(it must not import LiteLLM).
"""
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DB = ROOT / "var" / "bench.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{BENCH_DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debateproject.settings")
os.environ.setdefault("ARENA_LOG_LEVEL", "WARNING")
# Each verdict queues a leaderboard rebuild, which would run beside the next debate measured here: it is measured
# on its own (bench_leaderboard.py).
os.environ.setdefault("ARENA_LEADERBOARD_REBUILD_ON_CHANGE", "false")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from debates.models import Debate  # noqa: E402
from debates.orchestrator import DebateRunner  # noqa: E402
from debates.services import SeatSpec, debate_create  # noqa: E402
from debates.tests.conftest import valid_verdict  # noqa: E402
from providers.models import LLMModel, Provider  # noqa: E402
from providers.tests.servers import FakeOpenAIServer  # noqa: E402


def make_debate(api_base: str) -> int:
    provider, _ = Provider.objects.get_or_create(display_name="Bench", defaults={
        "litellm_provider": "openai", "api_base": api_base})
    provider.api_base = api_base
    provider.save()
    model, _ = LLMModel.objects.get_or_create(provider=provider, model_name="instant",
                                              defaults={"display_name": "Instant"})
    seats = [SeatSpec(model_id=model.pk, stance=s, max_tokens=100) for s in ("for", "against")]
    return debate_create(topic="Benchmarks should be reproducible", rounds=3, seats=seats,
                         judge_model_id=model.pk).pk


def run(debate_id: int, events: list | None = None) -> float:
    started = time.perf_counter()
    listener = (lambda event: events.append((time.perf_counter() - started, event))) if events is not None else None
    asyncio.run(DebateRunner(debate_id, listener=listener).run())
    return time.perf_counter() - started


def stream_floor(api_base: str, calls: int = 40) -> tuple[float, float, float]:
    """p50 ms of one streamed reply: read straight over HTTP (aiohttp), through litellm.acompletion, and the
    process CPU per LiteLLM call (the fake server, in this process, is in both)."""
    import aiohttp

    from providers.llm.http import litellm_client
    from providers.llm.litellm_client import load_litellm

    litellm = load_litellm()
    messages = [{"role": "user", "content": "Open the debate."}]

    async def measure() -> tuple[list[float], list[float], float]:
        raw, through = [], []
        async with aiohttp.ClientSession() as session:
            for _ in range(calls):
                started = time.perf_counter()
                async with session.post(f"{api_base}/chat/completions", json={
                        "model": "instant", "messages": messages, "stream": True, "max_tokens": 100}) as response:
                    async for _line in response.content:
                        pass
                raw.append(time.perf_counter() - started)
        cpu = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            stream = await litellm.acompletion(
                model="openai/instant", messages=messages, api_base=api_base, api_key="no-key-required",
                max_tokens=100, max_retries=0, stream=True, stream_options={"include_usage": True},
                client=litellm_client("openai", api_base=api_base, api_key="no-key-required"))
            async for _chunk in stream:
                pass
            through.append(time.perf_counter() - started)
        return raw, through, (time.process_time() - cpu) / calls

    raw, through, cpu = asyncio.run(measure())
    return statistics.median(raw) * 1000, statistics.median(through) * 1000, cpu * 1000


def main() -> None:
    BENCH_DB.parent.mkdir(exist_ok=True)
    BENCH_DB.unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    with FakeOpenAIServer() as server:
        server.responder = lambda body: valid_verdict(body) if "impartial" in str(body) else "An instant argument."
        run(make_debate(server.url + "/v1"))  # warm-up: imports LiteLLM
        times = [run(make_debate(server.url + "/v1")) for _ in range(5)]
        print(f"2 seats x 3 rounds + judge, instant model: median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) over {len(times)} runs")
        events: list = []
        total = run(make_debate(server.url + "/v1"), events)
        marks = [(t, e["type"]) for t, e in events]
        asked = sum(later - at for (at, kind), (later, following) in zip(marks, marks[1:])
                    if (kind, following) in (("turn.started", "turn.delta"), ("judging.started", "verdict")))
        print(f"  one more run, {total * 1000:.0f} ms: {asked * 1000:.0f} ms from each turn's start to its text and "
              f"from judging's start to the verdict (the model calls through LiteLLM; the verdict's parse and save too), "
              f"the rest ours")
        raw, through, cpu = stream_floor(server.url + "/v1")
        print(f"  one turn's streamed reply, p50 of 40: read straight over HTTP {raw:.1f} ms; through "
              f"litellm.acompletion {through:.1f} ms ({cpu:.1f} ms of CPU each)")

        server.responder = lambda body: valid_verdict(body) if "impartial" in str(body) else "word " * 100
        server.chunk_delay = 0.01  # a model writing 100 tokens/s
        events: list = []
        run(make_debate(server.url + "/v1"), events)
        first_delta = next(t for t, e in events if e["type"] == "turn.delta")
        first_done = next(t for t, e in events if e["type"] == "turn.completed")
        deltas = sum(1 for t, e in events if e["type"] == "turn.delta" and t <= first_done)
        print(f"streaming at 100 tokens/s: first text on screen after {first_delta * 1000:.0f} ms, the first turn "
              f"complete after {first_done * 1000:.0f} ms, in {deltas} delta events (at most one per 50 ms)")
        server.chunk_delay = 0.0

        def fail(body):
            raise RuntimeError("provider down")

        server.responder = fail
        server.requests.clear()
        debate_id = make_debate(server.url + "/v1")
        elapsed = run(debate_id)
        debate = Debate.objects.get(pk=debate_id)
        print(f"provider answering 500: {len(server.requests)} HTTP call(s), {elapsed * 1000:.0f} ms until the "
              f"debate is marked failed; the user sees: {debate.failure_reason[:120]!r}")

        server.responder = lambda body: "Both were great!" if "impartial" in str(body) else "An argument."
        debate_id = make_debate(server.url + "/v1")
        run(debate_id)
        verdict = Debate.objects.get(pk=debate_id).verdict
        print(f"malformed verdict: parsed={verdict.parsed}, winner={verdict.winner_id}, "
              f"scores={verdict.scores.count()}, raw text kept={verdict.raw_text!r}")

    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "manage.py", "llm_backend", "status"], cwd=ROOT,
                          check=True, capture_output=True, text=True, env={**os.environ})
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    print(f"manage.py llm_backend status: {(time.perf_counter() - started) * 1000:.0f} ms; "
          f"imports litellm: {'litellm' in imported}")


if __name__ == "__main__":
    main()
