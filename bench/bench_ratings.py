"""The leaderboard's fit at the size it must stay quick at: 10,000 debates between 30 models, 1,000 rounds.

    .venv/bin/python bench/bench_ratings.py [--debates 10000] [--models 30] [--rounds 1000] [--repeat 3]

Synthetic debates of 2 to 4 seats (one to six outcomes each), each pair of seats decided by the Bradley-Terry
model from true strengths drawn once (fixed seeds), about 10% of them tied. Prints the wall and CPU time (median of
--repeat runs) of the point fit (`fit_strengths`), of the bootstrap (`bootstrap_strengths`, its own point fit
included) and of the whole leaderboard (`rate_models`), the peak memory the whole fit allocates (tracemalloc,
in a run of its own) and the process's peak RSS, and how close the fit came to the true strengths. Then the
same with one more model that sat in a single debate and won it: a strength far out on a nearly flat
likelihood, the slowest case for the optimiser. Asserts nothing.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_ratings.py   # one BLAS thread: see the last line printed
"""
import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ratings.fit import ELO_PER_NAT, Outcomes, bootstrap_strengths, fit_strengths, rate_models, spearman  # noqa: E402


def simulate(strengths: np.ndarray, debates: int, seed: int) -> Outcomes:
    """Ties are likelier between close models, and wins are drawn so that a tie's half point keeps i's expected
    score at sigmoid(s_i - s_j): the truth is then the model being fitted, and the intervals can be checked."""
    rng = np.random.default_rng(seed)
    rows = []
    for debate in range(debates):
        seats = rng.choice(strengths.size, size=rng.integers(2, 5), replace=False)
        for k, i in enumerate(seats):
            for j in seats[k + 1:]:
                p_win = 1 / (1 + np.exp(strengths[j] - strengths[i]))
                p_tie = 0.15 * 4 * p_win * (1 - p_win)
                if rng.random() < p_tie:
                    rows.append((i, j, 0.5, debate))
                else:
                    rows.append((i, j, float(rng.random() < (p_win - p_tie / 2) / (1 - p_tie)), debate))
    return Outcomes(*map(np.array, zip(*rows)))


def with_undefeated_newcomer(outcomes: Outcomes) -> Outcomes:
    newcomer, debate = outcomes.n_models, outcomes.debate.max() + 1
    return Outcomes(np.append(outcomes.model_i, newcomer), np.append(outcomes.model_j, 0),
                    np.append(outcomes.result, 1.0), np.append(outcomes.debate, debate))


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def peak_allocated_mib(call: Callable[[], object]) -> float:
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def report(label: str, outcomes: Outcomes, rounds: int, repeat: int) -> list:
    print(f"{label}: {outcomes.n_models} models, {np.unique(outcomes.debate).size} debates, "
          f"{len(outcomes)} outcomes, {rounds} bootstrap rounds")
    for name, call in (
        ("point fit", lambda: fit_strengths(outcomes)),
        ("bootstrap", lambda: bootstrap_strengths(outcomes, rounds=rounds)),
        ("total (rate_models)", lambda: rate_models(outcomes, rounds=rounds)),
    ):
        wall, cpu = timed(call, repeat)
        print(f"  {name:<20} {wall:7.3f} s wall  {cpu:7.3f} s CPU")
    print(f"  peak allocated       {peak_allocated_mib(lambda: rate_models(outcomes, rounds=rounds)):7.1f} MiB")
    return rate_models(outcomes, rounds=rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debates", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    strengths = np.random.default_rng(2026).normal(0, 1, args.models)
    outcomes = simulate(strengths, args.debates, seed=1)
    board = report("plain", outcomes, args.rounds, args.repeat)
    true_elo = (strengths - strengths.mean()) * ELO_PER_NAT + 1000
    fitted = np.array([row.rating for row in sorted(board, key=lambda row: row.model)])
    covered = np.mean([row.lower <= true_elo[row.model] <= row.upper for row in board])
    widths = [row.upper - row.lower for row in board]
    ties = np.mean(outcomes.result == 0.5)
    print(f"  against the truth:   {ties:.0%} ties, Spearman {spearman(fitted, true_elo).rho:.4f}, "
          f"largest error {np.abs(fitted - true_elo).max():.1f} points, "
          f"{covered:.0%} of intervals hold the true rating, median width {statistics.median(widths):.1f} points")

    board = report("with an undefeated newcomer", with_undefeated_newcomer(outcomes), args.rounds, args.repeat)
    newcomer = next(row for row in board if row.model == args.models)
    print(f"  the newcomer:        {newcomer.rating:.0f} [{newcomer.lower:.0f}, {newcomer.upper:.0f}] "
          f"after {newcomer.games} game")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    # OpenBLAS's threads (scipy's L-BFGS-B calls BLAS) spin while they wait: on two busy cores they double the CPU
    # time and, when other processes compete, the wall time too. OPENBLAS_NUM_THREADS=1 keeps one thread.
    print("OpenBLAS: " + ", ".join(f"{name}={os.environ.get(name, '(unset)')}"
                                   for name in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")))


if __name__ == "__main__":
    main()
