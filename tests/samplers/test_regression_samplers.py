"""Improved greedy sampling (iGS) for regression."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from hardsample import LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator
from hardsample.oracles import DatasetOracle
from hardsample.samplers import SAMPLERS, ImprovedGreedySampler, MiningState
from hardsample.samplers.greedy import greedy_input_output

from ..conftest import make_classifier_net, make_regressor_net


class Identity:
    """A stand-in regression net predicting ``f(x) = x[:, 0]``."""

    def predict(self, X):
        return np.asarray(X)[:, :1].copy()


def test_greedy_takes_the_candidate_far_in_both_spaces():
    x_labeled, y_labeled = np.zeros((1, 1)), np.zeros((1, 1))
    x_cand = np.array([[5.0], [5.0], [1.0], [4.0]])
    y_cand = np.array([[0.0], [3.0], [3.0], [3.5]])
    # products of distances to the labeled point: 0, 15, 3, 14
    picks = greedy_input_output(x_cand, y_cand, x_labeled, y_labeled, 1, np.random.RandomState(0))
    assert picks.tolist() == [1]


def test_greedy_batch_avoids_near_duplicates():
    x_labeled, y_labeled = np.zeros((1, 1)), np.zeros((1, 1))
    x_cand = np.array([[5.0], [5.01], [-4.0], [1.0]])
    y_cand = np.array([[3.0], [3.01], [-3.0], [1.0]])
    picks = greedy_input_output(x_cand, y_cand, x_labeled, y_labeled, 2, np.random.RandomState(0))
    assert picks.tolist() == [1, 2]  # not the near-duplicate of the first pick


def one_dimensional_state(latent=False):
    X = np.linspace(0, 10, 101, dtype=np.float32)[:, None]
    excluded = X[:, 0] <= 1.0
    codes = np.concatenate([X, np.zeros_like(X)], axis=1) if latent else None
    return MiningState(X_pool=X, latent_codes=codes, excluded=excluded, X_labeled=X[excluded],
                       y_labeled=X[excluded], z_labeled=None if codes is None else codes[excluded],
                       net=Identity())


@pytest.mark.parametrize("space", ["input", "latent", "pca"])
def test_igs_picks_far_in_input_and_output(space):
    state = one_dimensional_state(latent=space == "latent")
    proposal = ImprovedGreedySampler(space=space).propose(state, 3, np.random.RandomState(0))
    picked = state.X_pool[proposal.indices, 0]
    assert picked.max() == 10.0  # the farthest sample, in x and in f(x)
    assert len(np.unique(proposal.indices)) == 3 and not state.excluded[proposal.indices].any()
    # then spread: the batch fills the gap, not the neighbourhood of 10
    assert np.sort(picked)[-2] < 9.0
    assert set(proposal.timings) == {"features", "judging", "selection"}


def test_igs_measures_target_distances_to_the_true_labels():
    # the labels of x <= 1 are 10, not what the net predicts there (x): a candidate
    # predicted 10 (x = 10) is then close to them in the target space
    state = one_dimensional_state()
    state = MiningState(**{**state.__dict__, "y_labeled": np.full_like(state.y_labeled, 10.0)})
    picked = state.X_pool[ImprovedGreedySampler().propose(
        state, 1, np.random.RandomState(0)).indices, 0]
    # argmax of (x - 1) * (10 - x): x = 5.5
    np.testing.assert_allclose(picked, [5.5], atol=0.051)


def test_igs_same_seed_same_picks_and_subsets():
    state = one_dimensional_state()
    sampler = ImprovedGreedySampler(n_candidates=5)
    a = sampler.propose(state, 4, np.random.RandomState(2)).indices
    b = clone(sampler).propose(state, 4, np.random.RandomState(2)).indices
    np.testing.assert_array_equal(a, b)
    c = sampler.propose(state, 4, np.random.RandomState(3)).indices
    assert set(a) != set(c)  # another subset of 20 candidates


def test_igs_refuses_a_classifier_net():
    state = one_dimensional_state()
    state = MiningState(**{**state.__dict__, "net": make_classifier_net()})
    with pytest.raises(TypeError, match="needs a regression net"):
        ImprovedGreedySampler().propose(state, 2, np.random.RandomState(0))


@pytest.mark.parametrize("sampler, generator, task, message", [
    (ImprovedGreedySampler(), None, "classification", "regression targets only"),
    (ImprovedGreedySampler(space="latent"), None, "regression", "pass a generator"),
    (ImprovedGreedySampler(space="codes"), None, "regression", "space"),
    (ImprovedGreedySampler(n_candidates=0), None, "regression", "n_candidates"),
])
def test_igs_check_compatible_refuses(sampler, generator, task, message):
    with pytest.raises((TypeError, ValueError, InvalidParameterError), match=message):
        sampler.check_compatible(task=task, net=make_regressor_net(), generator=generator)


def test_igs_uses_the_latent_space_only_when_asked():
    assert SAMPLERS["igs"] is ImprovedGreedySampler
    assert not ImprovedGreedySampler().uses_latent_space
    assert ImprovedGreedySampler(space="latent").uses_latent_space


def _data(n=120):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (n, 4)).astype(np.float32)
    return X, (np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]).astype(np.float32)


@pytest.mark.parametrize("sampler, generator", [
    ("igs", None), (ImprovedGreedySampler(space="latent"), PCAGenerator(2)),
    (ImprovedGreedySampler(space="pca", n_components=2), None)])
def test_regressor_with_igs(sampler, generator):
    X, y = _data()
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=3), generator, sampler=sampler,
                                    initial_size=20, round_size=10, n_rounds=3,
                                    random_state=0).fit(X, y)
    assert len(np.unique(reg.labeled_indices_)) == 40
    assert {"features", "judging", "selection"} <= set(reg.history_[1]["mining_split"])


def test_classifier_refuses_igs_before_any_label():
    X, y = _data()
    oracle = DatasetOracle((y > 0).astype(np.int64))
    clf = LatentHardMiningClassifier(make_classifier_net(), sampler="igs", initial_size=20,
                                     round_size=10, n_rounds=2, random_state=0)
    with pytest.raises(TypeError, match="regression targets only"):
        clf.fit(X, oracle=oracle)
    assert oracle.n_queries_ == 0
