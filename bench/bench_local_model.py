"""The real local model (llama.cpp's llama-server + Gemma 3 270M): direct stream against our gateway.

    .venv/bin/python bench/bench_local_model.py [--runs 5] [--tokens 128]

Uses the llama-server that `manage.py local_llm start` runs for the project's var dir when it is running and
healthy; otherwise starts one with `manage.py local_llm start --port N` on a free port in a temporary
ARENA_VAR_DIR (the model file is linked from var/models, as the test fixture does) and stops it at the end.
The catalog row it registers is used in a temporary SQLite database.

For a reply of exactly `--tokens` tokens (temperature 0, `ignore_eos`, no stop string, the same messages) it
measures, alternating the two paths, `--runs` times each, and prints medians:
- direct: httpx streaming POST to llama-server's /v1/chat/completions (include_usage), as a bare client would;
- gateway: `providers.llm.factory.client_for(model).stream_message(...)`, the LiteLLM backend, as a debate turn does;
time to first token, wall-clock tokens/s over the whole call, generation tokens/s after the first token,
llama-server's own reported rate, the CPU this process spent per reply (it shares the 2 cores with llama-server),
and LiteLLM's reported overhead (`LLMResult.litellm_overhead_ms`).
"""
import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROJECT_VAR = ROOT / "var"
VAR = Path(tempfile.mkdtemp(prefix="bench-local-model-"))
os.environ["ARENA_VAR_DIR"] = str(VAR)
os.environ["DATABASE_URL"] = f"sqlite:///{VAR / 'bench.sqlite3'}"
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debateproject.settings")
os.environ.setdefault("ARENA_LOG_LEVEL", "WARNING")
os.environ["ARENA_LLM_BACKEND"] = "litellm"  # measure the LiteLLM gateway whatever the database row says

import django

django.setup()

import httpx
from django.core.management import call_command
from django.test import override_settings

from providers import local_llm
from providers.llm.base import LLMResult
from providers.llm.factory import client_for
from providers.llm.litellm_client import load_litellm

MESSAGES = [
    {"role": "system", "content": "A debate on the motion: Cities should ban cars from their centres."},
    {"role": "user", "content": "PRO, round 1:"},
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def running_project_server() -> int | None:
    with override_settings(VAR_DIR=PROJECT_VAR):
        current = local_llm.status()
    return current.port if current.running and current.healthy else None


def start_own_server() -> int:
    (VAR / "models").mkdir(parents=True, exist_ok=True)
    source = PROJECT_VAR / "models" / local_llm.MODEL_FILE_NAME
    if not source.is_file():
        raise SystemExit(f"{source} is missing: run `make local-model`")
    (VAR / "models" / local_llm.MODEL_FILE_NAME).symlink_to(source)
    port = free_port()
    done = subprocess.run([sys.executable, "manage.py", "local_llm", "start", "--port", str(port)], cwd=ROOT,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False)
    if done.returncode:
        raise SystemExit(f"manage.py local_llm start failed:\n{done.stderr[-2000:]}")
    return port


async def direct(http: httpx.AsyncClient, port: int, tokens: int) -> dict:
    body = {"model": local_llm.MODEL_ALIAS, "messages": MESSAGES, "temperature": 0, "max_tokens": tokens,
            "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
    cpu = time.process_time()
    started = time.perf_counter()
    first = None
    usage = timings = None
    async with http.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content") and first is None:
                    first = time.perf_counter()
            usage = chunk.get("usage") or usage
            timings = chunk.get("timings") or timings
    total = time.perf_counter() - started
    return {"ttft": first - started, "total": total, "tokens": usage["completion_tokens"],
            "server_tps": (timings or {}).get("predicted_per_second"), "overhead": None,
            "cpu": time.process_time() - cpu}


async def gateway(client, tokens: int) -> dict:
    cpu = time.process_time()
    started = time.perf_counter()
    first = result = None
    async for item in client.stream_message(MESSAGES, temperature=0, max_tokens=tokens):
        if isinstance(item, LLMResult):
            result = item
        elif first is None:
            first = time.perf_counter()
    total = time.perf_counter() - started
    return {"ttft": first - started, "total": total, "tokens": result.completion_tokens, "server_tps": None,
            "overhead": result.litellm_overhead_ms, "cpu": time.process_time() - cpu}


def summary(name: str, runs: list[dict]) -> None:
    med = statistics.median
    wall_tps = [r["tokens"] / r["total"] for r in runs]
    gen_tps = [(r["tokens"] - 1) / (r["total"] - r["ttft"]) for r in runs]
    line = (f"{name:8s} median of {len(runs)}: time to first token {med(r['ttft'] for r in runs) * 1000:.0f} ms "
            f"(min {min(r['ttft'] for r in runs) * 1000:.0f}, max {max(r['ttft'] for r in runs) * 1000:.0f}); "
            f"{med(r['total'] for r in runs) * 1000:.0f} ms for {med(r['tokens'] for r in runs):.0f} tokens; "
            f"{med(wall_tps):.1f} tokens/s wall-clock (min {min(wall_tps):.1f}, max {max(wall_tps):.1f}), "
            f"{med(gen_tps):.1f} tokens/s after the first token; this process's CPU "
            f"{med(r['cpu'] for r in runs) * 1000:.0f} ms per reply")
    server = [r["server_tps"] for r in runs if r["server_tps"]]
    if server:
        line += f"; llama-server reports {med(server):.1f} tokens/s"
    overhead = [r["overhead"] for r in runs if r["overhead"] is not None]
    if overhead:
        line += f"; LiteLLM overhead median {med(overhead):.1f} ms (min {min(overhead):.1f}, max {max(overhead):.1f})"
    elif name == "gateway":
        line += "; LiteLLM reported no overhead (litellm_overhead_ms is None on every run)"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    port = running_project_server()
    own = port is None
    try:
        if own:
            port = start_own_server()
        load = os.getloadavg()
        print(f"{datetime.now().isoformat(timespec='seconds')}; {os.cpu_count()} cores; load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; llama-server on 127.0.0.1:{port} "
              f"({'started for this bench' if own else 'the one already running for var/'})")
        model = local_llm.register_in_catalog(port)
        # The catalog row's stop string and penalty suit debates; here every reply must be exactly --tokens long.
        model.extra_params = {"ignore_eos": True}
        model.save(update_fields=["extra_params"])

        started = time.perf_counter()
        load_litellm()
        print(f"import litellm (once per process, not in the runs below): {(time.perf_counter() - started):.1f} s")

        # One client per call, as every turn gets one; built here because client_for reads the rows synchronously.
        clients = [client_for(model) for _ in range(args.runs + 1)]

        async def measure():
            # One httpx client for all direct runs (made outside the timings: it builds an SSL context), as
            # LiteLLM keeps its own between calls.
            async with httpx.AsyncClient(timeout=60) as http:
                await direct(http, port, args.tokens)  # warm-up: the model's first prompt, the connection pools
                await gateway(clients[0], args.tokens)
                results = {"direct": [], "gateway": []}
                for client in clients[1:]:
                    results["direct"].append(await direct(http, port, args.tokens))
                    results["gateway"].append(await gateway(client, args.tokens))
            return results

        results = asyncio.run(measure())
        for name, runs in results.items():
            counts = {r["tokens"] for r in runs}
            if counts != {args.tokens}:
                print(f"  note: {name} replies had {sorted(counts)} tokens, not {args.tokens}")
            summary(name, runs)
        med = statistics.median
        ratio = (med(r["tokens"] / r["total"] for r in results["gateway"])
                 / med(r["tokens"] / r["total"] for r in results["direct"]))
        extra = (med(r["ttft"] for r in results["gateway"]) - med(r["ttft"] for r in results["direct"])) * 1000
        print(f"gateway / direct: {ratio:.2f}x the wall-clock tokens/s; {extra:+.0f} ms to the first token")
    finally:
        if own:
            subprocess.run([sys.executable, "manage.py", "local_llm", "stop"], cwd=ROOT, env=os.environ.copy(),
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(VAR, ignore_errors=True)


if __name__ == "__main__":
    main()
