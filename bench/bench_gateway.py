"""What our gateway adds over bare LiteLLM, and what each provider fault costs, against a loopback server.

    .venv/bin/python bench/bench_gateway.py [--calls 200]

Part 1, one run, four paths called in turn against the same instant FakeOpenAIServer, sent and streamed, in an
order shuffled each round (fixed seed): LiteLLM finishes each call's bookkeeping just after it returns, and in a
fixed order the same path would always pay for the one before it. The paths: raw httpx (a POST to
/v1/chat/completions), bare `litellm.acompletion` with the parameters our client passes, and our
`providers.llm.gateway.answer` / `stream_answer` on a model row with retries (2) and a fallback configured but not
triggered, twice: the row fetched as the orchestrator fetches each turn's (`with_answer_chain()`: the fallbacks and
the backend flag come with it, so the call reads nothing), and the same row read plainly (the gateway then reads
the chain and the flag itself, in one trip to the database thread per call). Prints median and p99 latency per
path and the differences.
Part 2, the fault matrix through the gateway (retries 2, the backoff of settings, a fallback on a second server):
for each fault, the requests each server received and the time to the outcome.
Uses a temporary SQLite database and asserts nothing.
"""
import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VAR = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
os.environ["ARENA_VAR_DIR"] = str(VAR)
os.environ["DATABASE_URL"] = f"sqlite:///{VAR / 'bench.sqlite3'}"
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debateproject.settings")
os.environ.setdefault("ARENA_LOG_LEVEL", "WARNING")
os.environ.pop("ARENA_LLM_BACKEND", None)  # the default: the backend flag comes from the database
os.environ["BENCH_KEY"] = "sk-bench"

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.core.management import call_command  # noqa: E402

from providers.llm import gateway  # noqa: E402
from providers.llm.errors import LLMError  # noqa: E402
from providers.llm.factory import call_settings  # noqa: E402
from providers.llm.litellm_client import load_litellm  # noqa: E402
from providers.models import LLMModel, ModelFallback, Provider  # noqa: E402
from providers.tests.servers import FakeOpenAIServer, closed_port_server  # noqa: E402

MESSAGES = [{"role": "user", "content": "Open the debate."}]


def model_row(name: str, api_base: str, **fields) -> LLMModel:
    provider = Provider.objects.create(display_name=f"Bench {name}", litellm_provider="openai", api_base=api_base,
                                       api_key_env_var="BENCH_KEY")
    return LLMModel.objects.create(provider=provider, model_name=name, display_name=name, **fields)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def overhead(server: FakeOpenAIServer, model: LLMModel, plain: LLMModel, calls: int) -> None:
    litellm = load_litellm()
    url = server.url + "/v1/chat/completions"
    # The very parameters our client passes (providers.llm.litellm_client), so that the difference is our layer
    # alone: a call with a `timeout` of its own, for one, makes LiteLLM set up its HTTP client differently.
    settings = call_settings(model)
    params = {"model": "openai/bench", "messages": MESSAGES, "api_base": server.url + "/v1", "api_key": "sk-bench",
              "timeout": settings.timeout, "stream_timeout": settings.first_chunk_timeout, "max_retries": 0,
              "num_retries": 0, "drop_params": True}

    async def raw(stream: bool, http: httpx.AsyncClient) -> None:
        body = {"model": "bench", "messages": MESSAGES, "stream": stream}
        if stream:
            async with http.stream("POST", url, json=body) as response:
                async for _ in response.aiter_lines():
                    pass
        else:
            (await http.post(url, json=body)).json()

    async def bare(stream: bool, http) -> None:
        if stream:
            async for _ in await litellm.acompletion(**params, stream=True, stream_options={"include_usage": True}):
                pass
        else:
            await litellm.acompletion(**params)

    def ours(row: LLMModel):
        async def call(stream: bool, http) -> None:
            if stream:
                async for _ in gateway.stream_answer(row, MESSAGES):
                    pass
            else:
                await gateway.answer(row, MESSAGES)
        return call

    paths = {"raw httpx": raw, "bare litellm.acompletion": bare, "our gateway": ours(model),
             "our gateway, plain row": ours(plain)}
    async with httpx.AsyncClient(headers={"Authorization": "Bearer sk-bench"}) as http:
        for stream in (False, True):
            times: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(5):  # warm-up: imports, connection pools, LiteLLM's caches
                for call in paths.values():
                    await call(stream, http)
            order, shuffle = list(paths.items()), random.Random(0).shuffle
            for _ in range(calls):
                shuffle(order)
                for name, call in order:
                    began = time.perf_counter()
                    await call(stream, http)
                    times[name].append((time.perf_counter() - began) * 1000)
            print(f"\n{'streamed' if stream else 'sent'} ({calls} calls per path, in shuffled rounds)")
            print(f"{'path':<26} {'p50 ms':>8} {'p99 ms':>8}")
            for name, values in times.items():
                print(f"{name:<26} {statistics.median(values):8.2f} {percentile(values, 0.99):8.2f}")
            bare_p50 = statistics.median(times["bare litellm.acompletion"])
            for name in ("our gateway", "our gateway, plain row"):
                ours_p50 = statistics.median(times[name])
                print(f"{name} - bare LiteLLM, p50: {ours_p50 - bare_p50:+.2f} ms ({ours_p50 / bare_p50:.2f}x)")
            print(f"bare LiteLLM / raw, p50: {bare_p50 / statistics.median(times['raw httpx']):.2f}x")


async def faults(primary: LLMModel, primary_server: FakeOpenAIServer, fallback_server: FakeOpenAIServer) -> None:
    cases = {
        "500 once": lambda s: s.enqueue_error(500),
        "429, Retry-After: 1": lambda s: s.enqueue_error(429, retry_after=1),
        "no first byte (hang)": lambda s: s.enqueue_hang(seconds=5),
        "stall midway": lambda s: s.enqueue_stall(after_chunks=2, seconds=5),
        "stream cut midway": lambda s: s.enqueue_stream_cut(after_chunks=2),
        "malformed body": lambda s: s.enqueue_malformed(),
        "401": lambda s: s.enqueue_error(401),
        "500 every time": lambda s: [s.enqueue_error(500) for _ in range(3)],
        "connection refused": None,
    }
    down = await asyncio.to_thread(model_row, "down", closed_port_server().url + "/v1", max_retries=2)
    await asyncio.to_thread(ModelFallback.objects.create, model=down,
                            fallback=(await asyncio.to_thread(primary.answer_chain))[1])
    print("\nfault matrix, streamed (a debate turn): retries 2, chunk timeout 1 s, a fallback on another server")
    print(f"{'fault':<24} {'primary calls':>13} {'fallback calls':>14} {'ms to outcome':>13}  outcome")
    for name, enqueue in cases.items():
        primary_server.reset()
        fallback_server.reset()
        model = down if enqueue is None else primary
        if enqueue is not None:
            enqueue(primary_server)
        began = time.perf_counter()
        try:
            outcome = None
            async for item in gateway.stream_answer(model, MESSAGES):
                outcome = item
            result = f"answered by {outcome.model.model_name}"
        except LLMError as error:
            result = f"failed: {error.kind}"
        elapsed = (time.perf_counter() - began) * 1000
        print(f"{name:<24} {len(primary_server.requests):>13} {len(fallback_server.requests):>14} "
              f"{elapsed:13.0f}  {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    load_litellm()
    with FakeOpenAIServer() as server, FakeOpenAIServer() as backup:
        primary = model_row("bench", server.url + "/v1", max_retries=2, first_chunk_timeout_seconds=1.0,
                            timeout_seconds=3.0)
        fallback = model_row("fallback", backup.url + "/v1")
        ModelFallback.objects.create(model=primary, fallback=fallback)
        # Fetched as the orchestrator fetches a seat's model each turn: with its fallbacks and the backend flag.
        turn_row = LLMModel.objects.with_answer_chain().get(pk=primary.pk)
        plain_row = LLMModel.objects.select_related("provider").get(pk=primary.pk)
        asyncio.run(overhead(server, turn_row, plain_row, args.calls))
        asyncio.run(faults(primary, server, backup))


if __name__ == "__main__":
    main()
