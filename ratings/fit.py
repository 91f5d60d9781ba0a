"""Bradley-Terry ratings for the leaderboard: a maximum-likelihood fit, an Elo-like scale, bootstrap intervals.

Pure numpy and scipy over arrays of indices, with no Django inside: the ratings app turns rows into indices
(`outcomes_from_records`) and back, this module only does arithmetic, and the same input and seed always give
the same numbers, so a rebuilt cache never moves a rating by itself.
"""
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, sparse, special, stats

ELO_PER_NAT = 400 / np.log(10)  # 400 points for each factor of 10 in the odds of winning
ELO_CENTRE = 1000.0
# An L2 penalty, counted in games: it moves a rating by a few hundredths of a point at most after ten games, and
# by less the more games there are, yet keeps every strength finite (a model that never lost, models that never
# met) and, since the likelihood only sees differences, makes the optimum sum to zero.
PENALTY = 1e-4
# In the preconditioned units of _fit, where each strength's standard error is about 1: far below what any
# interval shows (on the benchmark's data, each round within a thousandth of a point of a fit of its own).
_GRADIENT_TOLERANCE = 1e-7
# Where the optimiser may stop instead, once the summed objective of all rounds can no longer register progress at
# machine precision (near 1e-4 for 1,000 rounds of 33,000 games): a hundredth of a standard error is still
# invisible beside any interval, and a fit that went wrong stops far above it.
_ACCEPTED_GRADIENT = 1e-2
# Rounds resampled together: one block's draws fit in cache, and all of them at once would take three arrays of
# rounds x debates (240 MB for 1,000 x 10,000). The numbers depend on it, through the order of the draws: keep it.
_BOOTSTRAP_BLOCK = 100


@dataclass(frozen=True)
class Outcomes:
    """One row per pairwise outcome: `model_i` met `model_j` in `debate` and scored `result` (1 win, 0 loss,
    0.5 tie). A debate with k seats gives k(k-1)/2 rows; the bootstrap resamples them together."""

    model_i: np.ndarray
    model_j: np.ndarray
    result: np.ndarray
    debate: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in (("model_i", np.intp), ("model_j", np.intp), ("result", float), ("debate", np.intp)):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))
        if not all(a.ndim == 1 and a.shape == self.result.shape for a in (self.model_i, self.model_j, self.debate)):
            raise ValueError("model_i, model_j, result and debate must be 1-D arrays of one length")
        if not np.isin(self.result, (0.0, 0.5, 1.0)).all():
            raise ValueError("a result is 1 (win), 0 (loss) or 0.5 (tie)")
        if (self.model_i == self.model_j).any() or (self.model_i < 0).any() or (self.model_j < 0).any():
            raise ValueError("an outcome is between two different models, each a non-negative index")

    def __len__(self) -> int:
        return self.result.size

    @property
    def n_models(self) -> int:
        return int(max(self.model_i.max(), self.model_j.max())) + 1 if len(self) else 0


@dataclass(frozen=True)
class ModelRating:
    model: int  # the model's index in the outcomes
    rating: float
    lower: float  # the bootstrap interval
    upper: float
    wins: int
    losses: int
    ties: int
    games: int  # outcomes
    debates: int


@dataclass(frozen=True)
class Correlation:
    rho: float
    p_value: float
    n: int


def outcomes_from_records(
    records: Iterable[tuple[Hashable, Hashable, float, Hashable]],
) -> tuple[Outcomes, list[Hashable]]:
    """Outcomes from (model_a, model_b, result for model_a, debate) tuples with any hashable keys, and the model
    key of each index. Indices follow first appearance, so only models that appear get one."""
    models: dict[Hashable, int] = {}
    debates: dict[Hashable, int] = {}
    columns: tuple[list, list, list, list] = ([], [], [], [])
    for model_a, model_b, result, debate in records:
        row = (_index(models, model_a), _index(models, model_b), result, _index(debates, debate))
        for column, value in zip(columns, row):
            column.append(value)
    return Outcomes(*columns), list(models)


def _index(indices: dict[Hashable, int], key: Hashable) -> int:
    return indices.setdefault(key, len(indices))


def fit_strengths(outcomes: Outcomes) -> np.ndarray:
    """Maximum-likelihood Bradley-Terry strengths in nats (P(i beats j) = sigmoid(s_i - s_j), under the tiny
    PENALTY), one per model index, summing to zero; NaN for an index with no games."""
    if not len(outcomes):
        return np.full(outcomes.n_models, np.nan)
    design = _Design.of(outcomes)
    return design.scatter(_point_fit(design), outcomes.n_models)


def bootstrap_strengths(outcomes: Outcomes, *, rounds: int = 1000, seed: int = 0) -> np.ndarray:
    """Strengths refitted on `rounds` resamplings of the debates, shape (rounds, n_models); NaN where a model
    has no games in a round (or none at all)."""
    if not len(outcomes):
        return np.full((rounds, outcomes.n_models), np.nan)
    design = _Design.of(outcomes)
    return design.scatter(_bootstrap(design, _point_fit(design), rounds, seed), outcomes.n_models)


def to_elo(strengths: np.ndarray, *, anchor: int | None = None) -> np.ndarray:
    """Strengths on the Elo-like scale, along the last axis: centred so the mean rating (of models with games)
    is 1000, or shifted so model `anchor` is exactly 1000 (all NaN where the anchor has no strength)."""
    points = np.asarray(strengths, dtype=float) * ELO_PER_NAT
    reference = np.nanmean(points, axis=-1, keepdims=True) if anchor is None else points[..., anchor : anchor + 1]
    return points - reference + ELO_CENTRE


def rate_models(
    outcomes: Outcomes,
    *,
    rounds: int = 1000,
    seed: int = 0,
    anchor: int | None = None,
    confidence: float = 0.95,
) -> list[ModelRating]:
    """The leaderboard, best first: each model with games, its rating, the bootstrap interval over debates and
    its record. Raises ValueError when `anchor` has no games, since its rating could not be 1000."""
    if not len(outcomes):
        return []
    design = _Design.of(outcomes)
    point = _point_fit(design)
    if anchor is not None and anchor not in design.models:
        raise ValueError(f"the anchor model {anchor} has no games")
    compact_anchor = None if anchor is None else int(np.searchsorted(design.models, anchor))
    ratings = to_elo(point, anchor=compact_anchor)
    rounds_elo = to_elo(_bootstrap(design, point, rounds, seed), anchor=compact_anchor)
    lower, upper = np.nanquantile(rounds_elo, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    record = _record(outcomes)[:, design.models]
    board = [
        ModelRating(int(model), float(ratings[k]), float(lower[k]), float(upper[k]), *map(int, record[:, k]))
        for k, model in enumerate(design.models)
    ]
    return sorted(board, key=lambda row: (-row.rating, row.model))


def spearman(x: ArrayLike, y: ArrayLike) -> Correlation | None:
    """Spearman's rank correlation of paired samples (say turn length and score) over the pairs where both are
    finite; None when it can say nothing: fewer than three pairs, or a side that never varies."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError("x and y must be 1-D arrays of one length")
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    result = stats.spearmanr(x, y)
    return Correlation(float(result.statistic), float(result.pvalue), int(x.size))


@dataclass(frozen=True)
class _Design:
    """The outcomes in the form the likelihood needs: only the models that played (`models` maps this compact
    index back to the caller's), one column per pair of models that met, and per debate each pair's games and
    wins, so a resampling is a matrix product instead of a pass over outcomes."""

    models: np.ndarray
    incidence: sparse.csr_array  # (models, pairs): +1 at the pair's lower index, -1 at its higher
    games: sparse.csr_array  # (debates, pairs)
    wins: sparse.csr_array  # (debates, pairs): of the lower index, a tie counting half a win each way

    @classmethod
    def of(cls, outcomes: Outcomes) -> "_Design":
        models, compact = np.unique(np.concatenate([outcomes.model_i, outcomes.model_j]), return_inverse=True)
        i, j = np.split(compact, 2)
        debates, debate = np.unique(outcomes.debate, return_inverse=True)
        pairs, pair = np.unique(np.minimum(i, j) * models.size + np.maximum(i, j), return_inverse=True)
        wins_of_lower = np.where(i < j, outcomes.result, 1 - outcomes.result)
        shape = (debates.size, pairs.size)  # duplicate (debate, pair) entries are summed
        columns = np.tile(np.arange(pairs.size), 2)
        ends = np.concatenate([pairs // models.size, pairs % models.size])
        signs = np.repeat([1.0, -1.0], pairs.size)
        return cls(
            models=models,
            incidence=sparse.csr_array((signs, (ends, columns)), shape=(models.size, pairs.size)),
            games=sparse.csr_array((np.ones(len(outcomes)), (debate, pair)), shape=shape),
            wins=sparse.csr_array((wins_of_lower, (debate, pair)), shape=shape),
        )

    def scatter(self, compact: np.ndarray, n_models: int) -> np.ndarray:
        """Values over the compact models (last axis) placed at the caller's indices, NaN elsewhere."""
        full = np.full(compact.shape[:-1] + (n_models,), np.nan)
        full[..., self.models] = compact
        return full


def _point_fit(design: _Design) -> np.ndarray:
    wins, games = design.wins.sum(axis=0)[None], design.games.sum(axis=0)[None]
    return _fit(wins, games, design.incidence, np.zeros((1, design.models.size)))[0]


def _bootstrap(design: _Design, point: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    """Strengths refitted on each resampling of the debates (compact models), NaN where a model sat out a round."""
    if rounds < 1:
        raise ValueError("a bootstrap needs at least one round")
    blocks = _debate_counts(np.random.default_rng(seed), design.games.shape[0], rounds)
    wins, games = map(np.vstack, zip(*((counts @ design.wins, counts @ design.games) for counts in blocks)))
    # Every round's optimum lies near the full data's, so starting there saves iterations.
    return _fit(wins, games, design.incidence, np.tile(point, (rounds, 1)))


def _debate_counts(rng: np.random.Generator, n_debates: int, rounds: int) -> Iterator[np.ndarray]:
    """How often each debate is drawn (with replacement, n_debates draws) in each round, a block of rounds at a
    time: a debate's outcomes are correlated (one transcript, one judge), so they are resampled together."""
    for start in range(0, rounds, _BOOTSTRAP_BLOCK):
        size = min(_BOOTSTRAP_BLOCK, rounds - start)
        draws = rng.integers(0, n_debates, size=(size, n_debates))
        cells = (draws + n_debates * np.arange(size)[:, None]).ravel()
        yield np.bincount(cells, minlength=size * n_debates).reshape(size, n_debates).astype(float)


def _fit(wins: np.ndarray, games: np.ndarray, incidence: sparse.csr_array, start: np.ndarray) -> np.ndarray:
    """Strengths maximising each row's penalised likelihood (wins and games: one row per data set, one column per
    pair), centred, NaN for a model with no games in the row. All rows go to one L-BFGS-B call: the objective is a
    sum of independent rows, so its optimum is every row's, and one vectorised evaluation for 1,000 rounds costs
    far less than 1,000 fits through Python."""
    shape = start.shape
    incidence_t = incidence.T.tocsr()
    seats = abs(incidence_t)  # (pairs, models): 1 where the model is one of the pair
    # Jacobi preconditioning: the optimiser works in units of each strength's curvature at the start, so a model
    # with one game converges as fast as a model with thousands, and one that never lost (far out, where the
    # likelihood is nearly flat) does not hold every round up for hundreds of iterations.
    p = special.expit(start @ incidence)
    scale = 1 / np.sqrt((games * p * (1 - p)) @ seats + PENALTY)

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        strengths = flat.reshape(shape) * scale
        gap = strengths @ incidence  # (rows, pairs): lower index minus higher
        # -[w log sig(gap) + (n - w) log sig(-gap)], with log sig(-x) = log sig(x) - x
        loss = ((games - wins) * gap - games * special.log_expit(gap)).sum() + PENALTY * (strengths**2).sum() / 2
        gradient = ((games * special.expit(gap) - wins) @ incidence_t + PENALTY * strengths) * scale
        return loss, gradient.ravel()

    # ftol=0: stop on the gradient alone, since the summed objective's relative progress says nothing per row.
    result = optimize.minimize(objective, (start / scale).ravel(), jac=True, method="L-BFGS-B",
                               options={"gtol": _GRADIENT_TOLERANCE, "ftol": 0, "maxiter": 10_000})
    if np.abs(result.jac).max() > _ACCEPTED_GRADIENT:
        raise ArithmeticError(f"the Bradley-Terry fit did not converge: {result.message}")
    strengths = result.x.reshape(shape) * scale
    # The likelihood ignores a common shift, so the optimum sums to zero; centring removes what the optimiser leaves
    # of a shift (the penalty alone pulls it back, too gently for the tolerance to see) and changes nothing else.
    strengths[games @ seats == 0] = np.nan
    return strengths - np.nanmean(strengths, axis=1, keepdims=True)


def _record(outcomes: Outcomes) -> np.ndarray:
    """Wins, losses, ties, games and debates of every model index, one row each."""
    i, j, result, n = outcomes.model_i, outcomes.model_j, outcomes.result, outcomes.n_models

    def count(side: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(side[mask], minlength=n)

    wins = count(i, result == 1) + count(j, result == 0)
    losses = count(i, result == 0) + count(j, result == 1)
    ties = count(i, result == 0.5) + count(j, result == 0.5)
    seats = np.unique(np.stack([np.concatenate([i, j]), np.tile(outcomes.debate, 2)]), axis=1)[0]
    return np.stack([wins, losses, ties, wins + losses + ties, np.bincount(seats, minlength=n)])
