"""The Bayesian pool samplers: variance (regression), BALD and PowerBALD (classes)."""
from numbers import Real

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import Interval, InvalidParameterError

from hardsample import LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.oracles import DatasetOracle
from hardsample.samplers import (
    SAMPLERS,
    BALDSampler,
    MiningState,
    PowerBALDSampler,
    SubsampledBALDSampler,
    SubsampledMarginSampler,
    SubsampledVarianceSampler,
    VarianceSampler,
)
from hardsample.samplers.bayesian import bald, power_top_n
from hardsample.samplers.uncertainty import entropy, uniform_subset
from hardsample.uncertainty import DeepEnsemble, MCDropout

from ..conftest import make_classifier_net, make_regressor_net


class FixedDraws:
    """An uncertainty source with known draws (one row of ``draws`` per pool sample),
    recording which rows it was asked about."""

    def __init__(self, draws=None):
        self.draws = draws

    def get_params(self, deep=True):
        return {"draws": self.draws}

    def set_params(self, **params):
        self.draws = params["draws"]
        return self

    def fit(self, net, X, y, random_state):
        self.asked_ = []
        return self

    def predict_samples(self, X, rows=None):
        self.asked_.append(np.asarray(rows))
        return self.draws[:, rows]

    def predict_proba_samples(self, X, rows=None):
        return self.predict_samples(X, rows)

    def predict_mean_var(self, X, rows=None):
        draws = self.predict_samples(X, rows)
        return draws.mean(axis=0), draws.reshape(len(draws), len(rows), -1).var(axis=0).mean(1)


def pool_state(n_pool, n_labeled=0, net=None, X=None):
    X = np.arange(n_pool, dtype=np.float32)[:, None] if X is None else X
    excluded = np.zeros(n_pool, dtype=bool)
    excluded[:n_labeled] = True
    return MiningState(X_pool=X, latent_codes=None, excluded=excluded, X_labeled=X[:n_labeled],
                       y_labeled=np.zeros(n_labeled, dtype=np.int64), z_labeled=None, net=net)


# ------------------------------------------------------------------ scores
def test_bald_tells_disagreement_from_shared_ambiguity():
    confident_disagreement = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    shared_ambiguity = [[0.5, 0.5]] * 4
    draws = np.array([confident_disagreement, shared_ambiguity]).transpose(1, 0, 2)
    scores = bald(draws)
    np.testing.assert_allclose(scores, [np.log(2), 0.0], atol=1e-9)
    # entropy of the mean cannot tell them apart
    np.testing.assert_allclose(entropy(draws.mean(axis=0)), [np.log(2), np.log(2)])


def test_bald_sampler_picks_where_the_draws_disagree():
    rng = np.random.RandomState(0)
    n_pool = 30
    draws = np.full((6, n_pool, 3), 1 / 3)           # everyone unsure, in agreement
    disagree = [4, 11, 25]
    for k in range(6):
        draws[k, disagree] = np.eye(3)[k % 3]         # confident members that disagree
    picks = BALDSampler(uncertainty=FixedDraws(draws)).propose(pool_state(n_pool), 3, rng).indices
    assert sorted(picks.tolist()) == disagree


def test_power_top_n_draws_proportionally_and_tends_to_top_n():
    scores = np.array([1.0, 3.0])
    rng = np.random.RandomState(0)
    firsts = [power_top_n(scores, 1, 1.0, rng)[0] for _ in range(4000)]
    assert abs(np.mean(firsts) - 0.75) < 0.03      # P(pick 1) = 3 / (1 + 3)
    squared = [power_top_n(scores, 1, 2.0, rng)[0] for _ in range(4000)]
    assert abs(np.mean(squared) - 0.9) < 0.03      # 9 / (1 + 9)
    many = np.random.RandomState(1).rand(50)
    expected = np.sort(np.argsort(-many)[:7])
    for power in (np.inf, 1e6):
        np.testing.assert_array_equal(np.sort(power_top_n(many, 7, power, rng)), expected)
    zeros_last = power_top_n(np.array([0.0, 0.0, 0.5, 0.2]), 2, 1.0, rng)
    assert sorted(zeros_last.tolist()) == [2, 3]


def test_power_bald_with_infinite_power_is_bald_top_k():
    rng = np.random.RandomState(3)
    draws = rng.dirichlet(np.ones(4), size=(5, 80))
    state = pool_state(80, n_labeled=10)
    top = BALDSampler(uncertainty=FixedDraws(draws)).propose(state, 9, np.random.RandomState(0))
    for power in (np.inf, 1e6):
        power_picks = PowerBALDSampler(uncertainty=FixedDraws(draws), power=power).propose(
            state, 9, np.random.RandomState(5)).indices
        np.testing.assert_array_equal(np.sort(power_picks), np.sort(top.indices))
    stochastic = [PowerBALDSampler(uncertainty=FixedDraws(draws)).propose(
        state, 9, np.random.RandomState(seed)).indices for seed in range(3)]
    assert any(set(s) != set(top.indices) for s in stochastic)
    np.testing.assert_array_equal(stochastic[0], PowerBALDSampler(
        uncertainty=FixedDraws(draws)).propose(state, 9, np.random.RandomState(0)).indices)


def test_bald_keeps_small_disagreements_apart_in_float32_draws():
    """Draws as a torch net gives them (float32): BALD is still computed in float64, so
    the tiny mutual information of nearly agreeing draws is neither rounded away nor
    reordered."""
    spread = np.array([1, 2, 3, 4, 5]) * 2e-4          # disagreement of the draws, per sample
    signs = np.array([1, -1, 1, -1])[:, None]
    first = 0.9 + signs * spread                        # (4 draws, 5 samples)
    draws = np.stack([first, 1 - first], axis=-1).astype(np.float32)
    scores = bald(draws)
    exact = bald(draws.astype(np.float64))
    np.testing.assert_allclose(scores, exact, rtol=1e-6)
    assert (np.diff(scores) > 0).all()


def test_power_top_n_draws_by_the_gumbel_top_k():
    # P(first pick) = score / sum: 6 / 12 for the last; a reversed Gumbel gives about 0.68
    scores = np.array([1.0] * 6 + [6.0])
    rng = np.random.RandomState(0)
    firsts = [power_top_n(scores, 1, 1.0, rng)[0] for _ in range(4000)]
    assert abs(np.mean(np.equal(firsts, 6)) - 0.5) < 0.03


@pytest.mark.filterwarnings("error")
def test_power_top_n_draws_zero_scores_last_and_silently():
    scores = np.array([0.0, 0.4, 0.0, 0.1])
    for seed in range(5):
        picks = power_top_n(scores, 3, 1.0, np.random.RandomState(seed))
        assert set(picks[:2]) == {1, 3} and picks[2] in (0, 2)


def test_a_huge_power_is_the_top_n_for_float32_scores_too():
    scores = np.array([0.5, 0.01, 0.001, 0.3, 1e-4], dtype=np.float32)
    for seed in range(8):
        picks = power_top_n(scores, 3, 1e38, np.random.RandomState(seed))
        np.testing.assert_array_equal(picks, [0, 3, 1])


def test_power_bald_draws_with_the_authors_power_one_by_default():
    draws = np.random.RandomState(3).dirichlet(np.ones(4), size=(5, 80))
    state = pool_state(80, n_labeled=10)
    available = state.available_indices
    for seed in range(4):
        picks = PowerBALDSampler(uncertainty=FixedDraws(draws)).propose(
            state, 9, np.random.RandomState(seed)).indices
        expected = available[power_top_n(bald(draws[:, available]), 9, 1.0,
                                         np.random.RandomState(seed))]
        np.testing.assert_array_equal(picks, expected)


# ------------------------------------------------------------------ controls
class RecordingClassifier:
    """A stand-in net that records which pool rows (feature 0 = row) it judged."""

    def predict_proba(self, X):
        self.rows = getattr(self, "rows", []) + X[:, 0].astype(int).tolist()
        return np.tile([0.6, 0.4], (len(X), 1))


@pytest.mark.parametrize("control, draws_shape, n_candidates", [
    (SubsampledBALDSampler, (3, 600, 2), 8), (SubsampledVarianceSampler, (3, 600, 1), 8),
    (PowerBALDSampler, (3, 600, 2), 8),
    # the controls' default: 64 candidates per proposed sample, as subsampled-margin's
    (SubsampledBALDSampler, (3, 600, 2), None), (SubsampledVarianceSampler, (3, 600, 1), None)])
def test_controls_judge_the_same_candidates_as_subsampled_margin(control, draws_shape,
                                                                 n_candidates):
    given = {} if n_candidates is None else {"n_candidates": n_candidates}
    state = pool_state(600, n_labeled=40, net=RecordingClassifier())
    SubsampledMarginSampler(**given).propose(state, 5, np.random.RandomState(7))
    source = FixedDraws(np.random.RandomState(0).dirichlet([1, 1], size=draws_shape[:2])
                        [..., :draws_shape[2]])
    sampler = control(uncertainty=source, **given)
    fitted = {}
    original = sampler._source
    sampler._source = lambda: fitted.setdefault("source", original())
    picks = sampler.propose(state, 5, np.random.RandomState(7)).indices
    judged = np.concatenate(fitted["source"].asked_)
    expected = uniform_subset(state.available_indices, 5 * (n_candidates or 64),
                              np.random.RandomState(7))
    np.testing.assert_array_equal(judged, expected)
    np.testing.assert_array_equal(np.sort(state.net.rows), expected)
    assert set(picks) <= set(expected)


# ------------------------------------------------------------------ a real ensemble
@pytest.fixture(scope="module")
def one_sided():
    """A 1-D regression: the labels cluster on the left, the pool spans far to the right."""
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.uniform(-1, 0, 30), rng.uniform(0, 4, 170)]).astype(np.float32)[:, None]
    y = np.sin(2 * X).astype(np.float32)
    torch.manual_seed(0)
    net = make_regressor_net(train_split=None, max_epochs=60, lr=0.03).fit(X[:30], y[:30])
    excluded = np.zeros(len(X), dtype=bool)
    excluded[:30] = True
    state = MiningState(X_pool=X, latent_codes=None, excluded=excluded, X_labeled=X[:30],
                        y_labeled=y[:30], z_labeled=None, net=net)
    return state


@pytest.mark.parametrize("uncertainty", [DeepEnsemble(n_members=4), None])
def test_variance_picks_the_far_side(one_sided, uncertainty):
    state = one_sided
    proposal = VarianceSampler(uncertainty=uncertainty).propose(state, 10, np.random.RandomState(0))
    picked_x = state.X_pool[proposal.indices, 0]
    pool_x = state.X_pool[state.available_indices, 0]
    far = 2.0
    assert np.mean(picked_x > far) >= 0.9 > np.mean(pool_x > far) + 0.3  # random: about 0.5
    assert set(proposal.timings) == {"uncertainty_training", "judging"}
    assert proposal.timings["uncertainty_training"] > 0


def test_variance_with_mc_dropout_picks_the_far_side():
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.uniform(-1, 0, 30), rng.uniform(0, 4, 170)]).astype(np.float32)[:, None]
    y = np.sin(2 * X).astype(np.float32)
    torch.manual_seed(0)
    net = make_regressor_net(module__dropout=0.3, train_split=None, max_epochs=60,
                             lr=0.03).fit(X[:30], y[:30])
    state = pool_state(200, n_labeled=30, net=net, X=X)
    sampler = VarianceSampler(uncertainty=MCDropout(n_samples=30))
    picks = sampler.propose(state, 10, np.random.RandomState(0)).indices
    assert np.mean(X[picks, 0] > 2.0) >= 0.8
    again = sampler.propose(state, 10, np.random.RandomState(0)).indices
    np.testing.assert_array_equal(picks, again)


def test_same_seed_same_picks(one_sided):
    a = VarianceSampler(uncertainty=DeepEnsemble(n_members=2)).propose(
        one_sided, 5, np.random.RandomState(4)).indices
    b = VarianceSampler(uncertainty=DeepEnsemble(n_members=2)).propose(
        one_sided, 5, np.random.RandomState(4)).indices
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ checks
@pytest.mark.parametrize("name", ["bald", "power-bald", "subsampled-bald", "variance",
                                  "subsampled-variance"])
def test_registered_and_clonable(name):
    sampler = SAMPLERS[name](uncertainty=MCDropout(n_samples=4))
    copy = clone(sampler)
    assert copy.uncertainty is not sampler.uncertainty and copy.uncertainty.n_samples == 4
    assert copy.needs_net and not copy.synthesizes and not copy.uses_latent_space


@pytest.mark.parametrize("sampler, task, net, message", [
    (BALDSampler(), "regression", make_regressor_net(), "needs class probabilities"),
    (VarianceSampler(), "classification", make_classifier_net(), "regression"),
    (VarianceSampler(uncertainty=MCDropout()), "regression", make_regressor_net(),
     "needs a net with dropout layers"),
    (BALDSampler(uncertainty=DeepEnsemble(n_members=1)), "classification",
     make_classifier_net(), "n_members"),
    (PowerBALDSampler(power=0), "classification", make_classifier_net(), "power"),
])
def test_check_compatible_refuses(sampler, task, net, message):
    with pytest.raises((TypeError, ValueError, InvalidParameterError), match=message):
        sampler.check_compatible(task=task, net=net, generator=None)


def test_check_compatible_accepts():
    BALDSampler(uncertainty=MCDropout()).check_compatible(
        task="classification", net=make_classifier_net(module__dropout=0.2), generator=None)
    VarianceSampler().check_compatible(task="regression", net=make_regressor_net(),
                                       generator=None)


class ScaledDraws(BaseEstimator):
    """A source of one's own in scikit-learn style: constrained parameters, checked by
    ``_validate_params``, and no ``check_net``."""

    _parameter_constraints = {"draws": ["array-like", None],
                              "scale": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, draws=None, scale=1.0):
        self.draws = draws
        self.scale = scale

    def fit(self, net, X, y, random_state):
        self._validate_params()
        return self

    def predict_samples(self, X, rows=None):
        return self.scale * np.asarray(self.draws)[:, rows]

    def predict_mean_var(self, X, rows=None):
        draws = self.predict_samples(X, rows)
        return draws.mean(axis=0), draws.var(axis=0).reshape(len(rows), -1).mean(axis=1)


def test_a_source_without_check_net_is_checked_by_its_parameters():
    draws = np.random.RandomState(0).normal(size=(3, 30, 1))
    good = VarianceSampler(uncertainty=ScaledDraws(draws))
    good.check_compatible(task="regression", net=make_regressor_net(), generator=None)
    assert len(good.propose(pool_state(30, 5), 4, np.random.RandomState(0))) == 4
    bad = VarianceSampler(uncertainty=ScaledDraws(draws, scale=-1.0))
    with pytest.raises(InvalidParameterError, match="'scale' parameter of ScaledDraws"):
        bad.check_compatible(task="regression", net=make_regressor_net(), generator=None)


def _regression_data(n=120):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    return X, (np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]).astype(np.float32)


@pytest.mark.parametrize("sampler, Estimator, message", [
    (VarianceSampler(uncertainty=MCDropout()), LatentHardMiningRegressor,
     "needs a net with dropout layers"),
    (VarianceSampler(uncertainty=DeepEnsemble(n_members=1)), LatentHardMiningRegressor,
     "n_members"),
    ("bald", LatentHardMiningRegressor, "needs class probabilities"),
    ("variance", LatentHardMiningClassifier, "regression targets only"),
])
def test_estimator_refuses_before_any_label(sampler, Estimator, message):
    X, y = _regression_data()
    if Estimator is LatentHardMiningClassifier:
        y, net = (y > 0).astype(np.int64), make_classifier_net()
    else:
        net = make_regressor_net()
    oracle = DatasetOracle(y)
    estimator = Estimator(net, sampler=sampler, initial_size=20, round_size=10, n_rounds=2,
                          random_state=0)
    with pytest.raises((TypeError, ValueError, InvalidParameterError), match=message):
        estimator.fit(X, oracle=oracle)
    assert oracle.n_queries_ == 0


def test_regressor_with_variance_records_the_ensemble_cost():
    X, y = _regression_data()
    reg = LatentHardMiningRegressor(
        make_regressor_net(max_epochs=3), sampler="variance", initial_size=20, round_size=10,
        n_rounds=3, random_state=0).fit(X, y)
    assert len(reg.labeled_indices_) == 40
    for record in reg.history_[1:]:
        split = record["mining_split"]
        assert split["uncertainty_training"] > 0 and "judging" in split
        assert split["uncertainty_training"] <= record["mining_seconds"]
    again = LatentHardMiningRegressor(
        make_regressor_net(max_epochs=3), sampler="variance", initial_size=20, round_size=10,
        n_rounds=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(reg.labeled_indices_, again.labeled_indices_)


@pytest.mark.parametrize("sampler", ["bald", "power-bald", "subsampled-bald"])
def test_classifier_with_bald_on_digits(digits, sampler):
    X, y = digits[0][:200], digits[1][:200]
    clf = LatentHardMiningClassifier(
        make_classifier_net(max_epochs=3), sampler=sampler, initial_size=40, round_size=20,
        n_rounds=2, random_state=0).fit(X, y, classes=np.arange(10))
    assert len(np.unique(clf.labeled_indices_)) == 60
    assert clf.history_[1]["mining_split"]["uncertainty_training"] > 0
    assert clf.score(X, y) > 0.2

