"""The leaderboard end to end: 10,000 finished debates between 30 models, built with 1,000 bootstrap rounds in the
background, then served from its board by the API and the page.

    .venv/bin/python bench/bench_leaderboard.py [--debates 10000] [--models 30] [--rounds 1000] [--requests 20]

Prints how long the data took to write, how long a build took (outcomes from the database, the fit, the trust
figures), and the median and worst time of GET /api/leaderboard and GET /leaderboard/ once the board is built.
Uses a temporary SQLite database and asserts nothing.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VAR = Path(tempfile.mkdtemp(prefix="bench-leaderboard-"))
os.environ["ARENA_VAR_DIR"] = str(VAR)
os.environ["DATABASE_URL"] = f"sqlite:///{VAR / 'bench.sqlite3'}"
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debateproject.settings")
os.environ.setdefault("ARENA_LOG_LEVEL", "WARNING")
os.environ["ARENA_LEADERBOARD_REBUILD_ON_CHANGE"] = "0"  # the bench builds when it means to


def setup(debates: int, models: int, seed: int = 7) -> None:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from debates.models import Debate, DebateStatus, JudgeVerdict, Seat, SeatScore, Verdict
    from providers.models import LLMModel, Provider

    rng = np.random.default_rng(seed)
    provider = Provider.objects.create(display_name="Bench", litellm_provider="openai")
    rows = LLMModel.objects.bulk_create(LLMModel(provider=provider, model_name=f"m{i}", display_name=f"Model {i}",
                                                 context_window=8192) for i in range(models))
    strength = rng.normal(0, 1, models)
    now = timezone.now()
    made = Debate.objects.bulk_create(Debate(topic=f"Motion {i}", judge_model=rows[i % models],
                                             status=DebateStatus.COMPLETED, finished_at=now) for i in range(debates))
    seats, verdicts, scores, judges = [], [], [], []
    for debate in made:
        picked = rng.choice(models, size=int(rng.integers(2, 5)), replace=False)
        for position, model in enumerate(picked, start=1):
            seats.append(Seat(debate=debate, position=position, display_name=f"S{position}", stance="for",
                              model=rows[model]))
    Seat.objects.bulk_create(seats, batch_size=2000)
    by_debate: dict[int, list[Seat]] = {}
    for seat in Seat.objects.only("pk", "debate_id", "model_id").order_by("debate_id", "position"):
        by_debate.setdefault(seat.debate_id, []).append(seat)
    for debate in made:
        mine = by_debate[debate.pk]
        points = [strength[seat.model_id - rows[0].pk] + rng.gumbel() for seat in mine]
        verdicts.append(Verdict(debate=debate, judge_model_id=debate.judge_model_id, parsed=True,
                                winner=mine[int(np.argmax(points))]))
    Verdict.objects.bulk_create(verdicts, batch_size=2000)
    for verdict in Verdict.objects.only("pk", "debate_id", "winner_id", "judge_model_id"):
        mine = by_debate[verdict.debate_id]
        given = [float(np.clip(5 + 2 * rng.normal(), 0, 10)) for _ in mine]
        scores += [SeatScore(verdict=verdict, seat=seat, score=score) for seat, score in zip(mine, given)]
        judges.append(JudgeVerdict(verdict=verdict, position=1, judge_model_id=verdict.judge_model_id, parsed=True,
                                   winner_id=verdict.winner_id, swap_held=bool(rng.random() < 0.8),
                                   scores=[{"seat_id": s.pk, "score": g} for s, g in zip(mine, given)]))
    SeatScore.objects.bulk_create(scores, batch_size=2000)
    JudgeVerdict.objects.bulk_create(judges, batch_size=2000)
    get_user_model().objects.create_user("bench", password="bench-bench-bench")


def timed(call, requests: int) -> tuple[float, float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--debates", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    os.environ["ARENA_LEADERBOARD_BOOTSTRAP_ROUNDS"] = str(args.rounds)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from ratings import board
    from ratings.models import Board
    from ratings.outcomes import Filters, collect

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    setup(args.debates, args.models)
    print(f"wrote {args.debates} debates between {args.models} models in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    outcomes = collect(Filters())
    print(f"outcomes from the database: {len(outcomes)} in {time.perf_counter() - started:.2f} s")

    from django.conf import settings

    settings.ALLOWED_HOSTS.append("testserver")  # the test client's host name
    client = Client()
    assert client.login(username="bench", password="bench-bench-bench")
    started = time.perf_counter()
    first = client.get("/api/leaderboard")
    asked = time.perf_counter() - started
    assert first.status_code == 202, first.content
    board.wait_idle(timeout=600)
    built = Board.objects.get(key=Filters().key())
    print(f"first request: HTTP {first.status_code} in {asked * 1000:.0f} ms (it queues the build, never fits)")
    print(f"background build ({args.rounds} bootstrap rounds): {built.build_seconds:.2f} s")

    api_median, api_worst = timed(lambda: client.get("/api/leaderboard"), args.requests)
    page_median, page_worst = timed(lambda: client.get("/leaderboard/"), args.requests)
    print(f"GET /api/leaderboard from the board: median {api_median * 1000:.0f} ms, worst {api_worst * 1000:.0f} ms")
    print(f"GET /leaderboard/ from the board:    median {page_median * 1000:.0f} ms, worst {page_worst * 1000:.0f} ms")


if __name__ == "__main__":
    main()
