"""The leaderboard's arithmetic: plain functions, no database."""
import math

import numpy as np
import pytest
from scipy import optimize, stats

from ratings.fit import (
    Outcomes,
    bootstrap_strengths,
    fit_strengths,
    outcomes_from_records,
    rate_models,
    spearman,
    to_elo,
)

# Strengths in nats, 0.6 apart (about 100 points), for models 0..5.
STRENGTHS = np.array([-1.5, -0.9, -0.3, 0.3, 0.9, 1.5])


def simulate(strengths: np.ndarray, *, debates: int, seed: int, tie_rate: float = 0.0) -> Outcomes:
    """Debates of 2 to 4 seats, each pair of seats decided by the Bradley-Terry model (or tied)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, float, int]] = []
    for debate in range(debates):
        seats = rng.choice(strengths.size, size=rng.integers(2, 5), replace=False)
        for k, i in enumerate(seats):
            for j in seats[k + 1:]:
                p_win = 1 / (1 + math.exp(strengths[j] - strengths[i]))
                result = 0.5 if rng.random() < tie_rate else float(rng.random() < p_win)
                rows.append((i, j, result, debate))
    return Outcomes(*map(np.array, zip(*rows)))


def reference_strengths(outcomes: Outcomes) -> np.ndarray:
    """A direct maximum-likelihood fit over each outcome's log-likelihood, model 0 fixed at 0, then centred."""
    i, j, r = outcomes.model_i, outcomes.model_j, outcomes.result
    n = int(max(i.max(), j.max())) + 1

    def negative_log_likelihood(free: np.ndarray) -> tuple[float, np.ndarray]:
        s = np.concatenate([[0.0], free])
        p = 1 / (1 + np.exp(s[j] - s[i]))  # P(i beats j)
        nll = -np.sum(r * np.log(p) + (1 - r) * np.log(1 - p))
        grad = np.zeros(n)
        np.add.at(grad, i, p - r)
        np.add.at(grad, j, r - p)
        return nll, grad[1:]

    fitted = optimize.minimize(negative_log_likelihood, np.zeros(n - 1), jac=True, method="BFGS",
                               options={"gtol": 1e-9})
    s = np.concatenate([[0.0], fitted.x])
    return s - s.mean()


def by_model(board: list) -> dict:
    return {row.model: row for row in board}


def test_it_recovers_the_order_of_known_strengths():
    strengths = fit_strengths(simulate(STRENGTHS, debates=1500, seed=1, tie_rate=0.1))
    assert list(np.argsort(strengths)) == list(range(STRENGTHS.size))


def test_a_dominant_models_interval_overlaps_no_other():
    strengths = np.append(STRENGTHS, 4.0)
    board = rate_models(simulate(strengths, debates=1500, seed=2), rounds=300)
    best, *others = board
    assert best.model == 6
    assert best.lower > max(row.upper for row in others)


def test_every_model_has_a_rating_inside_its_interval_and_its_record():
    outcomes = simulate(STRENGTHS, debates=400, seed=3, tie_rate=0.2)
    for row in rate_models(outcomes, rounds=200):
        assert row.lower < row.rating < row.upper
        assert row.wins + row.losses + row.ties == row.games
        seated = (outcomes.model_i == row.model) | (outcomes.model_j == row.model)
        assert row.games == seated.sum()
        assert row.debates == np.unique(outcomes.debate[seated]).size


def test_the_ratings_equal_an_independent_maximum_likelihood_fit():
    outcomes = simulate(STRENGTHS, debates=800, seed=4, tie_rate=0.15)
    expected = to_elo(reference_strengths(outcomes))
    assert to_elo(fit_strengths(outcomes)) == pytest.approx(expected, abs=0.01)


def test_two_models_rating_gap_is_the_log_odds_of_the_win_share():
    # 7 wins, 3 losses and 2 ties for model 0: a share of 8 of 12.
    results = [1.0] * 7 + [0.0] * 3 + [0.5] * 2
    board = by_model(rate_models(Outcomes([0] * 12, [1] * 12, results, range(12)), rounds=50))
    assert board[0].rating - board[1].rating == pytest.approx(400 * math.log10(8 / 4), abs=0.01)
    assert (board[0].wins, board[0].losses, board[0].ties) == (7, 3, 2)


def test_a_tie_counts_as_half_a_win_each_way():
    # Two ties weigh exactly as one win and one loss.
    with_ties = fit_strengths(Outcomes([0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0.5, 0.5], range(4)))
    without = fit_strengths(Outcomes([0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 0], range(4)))
    assert with_ties == pytest.approx(without, abs=1e-6)


def test_all_tie_games_give_equal_ratings():
    outcomes = Outcomes([0, 0, 1, 2], [1, 2, 2, 0], [0.5] * 4, [0, 0, 0, 1])
    for row in rate_models(outcomes, rounds=100):
        assert row.rating == pytest.approx(1000, abs=1e-6)
        assert row.lower == pytest.approx(1000, abs=1e-6) and row.upper == pytest.approx(1000, abs=1e-6)


def test_an_undefeated_model_still_gets_a_finite_rating():
    board = rate_models(Outcomes([0, 0, 1], [1, 2, 2], [1, 1, 0.5], [0, 1, 2]), rounds=100)
    assert board[0].model == 0
    assert all(math.isfinite(value) for row in board for value in (row.rating, row.lower, row.upper))


def test_a_model_with_no_games_is_absent():
    # Index 1 never plays: it has no rating, and no row on the board.
    outcomes = Outcomes([0, 2, 3], [2, 3, 0], [1, 0, 0.5], [0, 0, 1])
    assert outcomes.n_models == 4
    assert sorted(row.model for row in rate_models(outcomes, rounds=50)) == [0, 2, 3]
    strengths = fit_strengths(outcomes)
    assert math.isnan(strengths[1]) and not np.isnan(strengths[[0, 2, 3]]).any()
    assert np.isnan(bootstrap_strengths(outcomes, rounds=20)[:, 1]).all()
    assert to_elo(strengths)[[0, 2, 3]].mean() == pytest.approx(1000)


def test_a_model_a_round_left_out_has_no_strength_in_that_round():
    # Model 6 sat in one debate of 301: about a third of the rounds never draw it, and they say nothing about it.
    outcomes = simulate(STRENGTHS, debates=300, seed=10)
    outcomes = Outcomes(np.append(outcomes.model_i, 6), np.append(outcomes.model_j, 0), np.append(outcomes.result, 1),
                        np.append(outcomes.debate, 300))
    left_out = np.isnan(bootstrap_strengths(outcomes, rounds=300)[:, 6])
    assert 0.25 < left_out.mean() < 0.5


def test_no_outcomes_give_an_empty_board():
    assert rate_models(Outcomes([], [], [], [])) == []


def test_the_same_seed_gives_identical_numbers():
    outcomes = simulate(STRENGTHS, debates=300, seed=5, tie_rate=0.1)
    assert rate_models(outcomes, seed=7) == rate_models(outcomes, seed=7)


def test_another_seed_moves_the_intervals_but_not_the_ratings():
    outcomes = simulate(STRENGTHS, debates=300, seed=5, tie_rate=0.1)
    first, second = by_model(rate_models(outcomes, seed=7)), by_model(rate_models(outcomes, seed=8))
    assert [first[m].rating for m in first] == [second[m].rating for m in first]
    assert [(first[m].lower, first[m].upper) for m in first] != [(second[m].lower, second[m].upper) for m in first]
    for m in first:  # slightly: well within the interval's own width
        width = first[m].upper - first[m].lower
        assert abs(first[m].lower - second[m].lower) < width / 4
        assert abs(first[m].upper - second[m].upper) < width / 4


def test_outcomes_of_one_debate_are_resampled_together():
    # The same 400 outcomes, once as 100 debates of 4 identical outcomes and once as 400 debates: resampling whole
    # debates sees 100 independent pieces of evidence, so its interval is about twice as wide.
    results = np.tile([1.0, 1.0, 1.0, 0.0], 100)
    grouped = Outcomes(np.zeros(400), np.ones(400), np.sort(results), np.repeat(np.arange(100), 4))
    separate = Outcomes(np.zeros(400), np.ones(400), np.sort(results), np.arange(400))

    def width(outcomes: Outcomes) -> float:
        row = by_model(rate_models(outcomes))[0]
        return row.upper - row.lower

    assert 1.7 < width(grouped) / width(separate) < 2.3


def test_a_rounds_ratings_do_not_depend_on_the_rounds_fitted_with_it():
    # All rounds are fitted in one call; each must still reach its own optimum. The first rounds' draws are the
    # same whatever the number of rounds, so fitting them alone and among 300 must agree.
    outcomes = simulate(STRENGTHS, debates=300, seed=11, tie_rate=0.1)
    among_many = to_elo(bootstrap_strengths(outcomes, rounds=300, seed=3))
    assert to_elo(bootstrap_strengths(outcomes, rounds=1, seed=3)) == pytest.approx(among_many[:1], abs=0.001)
    assert to_elo(bootstrap_strengths(outcomes, rounds=150, seed=3)) == pytest.approx(among_many[:150], abs=0.001)


def test_anchoring_puts_the_chosen_model_at_exactly_1000():
    outcomes = simulate(STRENGTHS, debates=300, seed=6)
    anchored, centred = by_model(rate_models(outcomes, anchor=2)), by_model(rate_models(outcomes))
    assert (anchored[2].rating, anchored[2].lower, anchored[2].upper) == (1000.0, 1000.0, 1000.0)
    shift = centred[2].rating - 1000
    assert [anchored[m].rating for m in centred] == pytest.approx([centred[m].rating - shift for m in centred])


def test_centring_gives_a_mean_of_1000():
    board = rate_models(simulate(STRENGTHS, debates=300, seed=6), rounds=50)
    assert np.mean([row.rating for row in board]) == pytest.approx(1000, abs=1e-9)


def test_an_anchor_without_games_is_refused():
    with pytest.raises(ValueError, match="anchor"):
        rate_models(Outcomes([0, 2], [2, 0], [1, 0], [0, 1]), anchor=1)


def test_400_points_are_a_factor_of_10_in_the_odds():
    assert to_elo(np.array([math.log(10), 0.0])) == pytest.approx([1200, 800])


def test_it_builds_arrays_from_records_with_any_keys():
    records = [("gpt", "claude", 1, "d1"), ("claude", "llama", 0.5, "d1"), ("llama", "gpt", 0, ("d", 2))]
    outcomes, models = outcomes_from_records(records)
    assert models == ["gpt", "claude", "llama"]
    assert outcomes.model_i.tolist() == [0, 1, 2] and outcomes.model_j.tolist() == [1, 2, 0]
    assert outcomes.result.tolist() == [1, 0.5, 0] and outcomes.debate.tolist() == [0, 0, 1]
    assert outcomes_from_records([])[1] == []


def test_it_refuses_a_result_that_is_not_a_win_a_loss_or_a_tie():
    with pytest.raises(ValueError, match="result"):
        Outcomes([0], [1], [0.7], [0])
    with pytest.raises(ValueError, match="different models"):
        Outcomes([0], [0], [1], [0])


def test_spearman_agrees_with_scipy():
    rng = np.random.default_rng(9)
    length = rng.integers(50, 500, size=40)
    score = length / 100 + rng.normal(size=40)
    expected = stats.spearmanr(length, score)
    found = spearman(length, score)
    assert (found.rho, found.p_value, found.n) == pytest.approx((expected.statistic, expected.pvalue, 40))


def test_spearman_skips_missing_pairs():
    found = spearman([1, 2, np.nan, 4, 5], [2, 1, 3, np.nan, 6])
    expected = stats.spearmanr([1, 2, 5], [2, 1, 6])
    assert (found.rho, found.n) == pytest.approx((expected.statistic, 3))


def test_spearman_says_nothing_below_three_pairs_or_for_constant_input():
    assert spearman([1, 2], [3, 4]) is None
    assert spearman([], []) is None
    assert spearman([1, 2, 3, 4], [5, 5, 5, 5]) is None
    assert spearman([7, 7, 7], [1, 2, 3]) is None
