import numpy as np
import pytest

from hardsample.samplers import CoreSetSampler, MiningState
from hardsample.samplers.coreset import k_center_greedy, min_distances, penultimate_features

from .test_uncertainty import check_picks, state  # noqa: F401  (fixture)


@pytest.mark.parametrize("features", ["latent", "penultimate"])
@pytest.mark.parametrize("n", [1, 30])
def test_picks_unlabeled_distinct_and_sized(state, features, n):  # noqa: F811
    sampler = CoreSetSampler(features=features, batch_size=200)
    check_picks(state, sampler.propose(state, n, np.random.RandomState(0)), n)


def test_reproducible(state):  # noqa: F811
    a = CoreSetSampler().propose(state, 20, np.random.RandomState(0)).indices
    b = CoreSetSampler().propose(state, 20, np.random.RandomState(5)).indices
    np.testing.assert_array_equal(a, b)  # deterministic: no randomness at all


def test_uses_latent_space_follows_features():
    assert CoreSetSampler().uses_latent_space
    assert not CoreSetSampler(features="penultimate").uses_latent_space


def test_k_center_greedy_on_a_line():
    points = np.array([[0.0], [1.0], [2.0], [10.0], [5.0], [9.0]])
    dist = min_distances(points, np.array([[0.0]]))
    np.testing.assert_allclose(dist, [0, 1, 2, 10, 5, 9])
    # farthest (10), then farthest from {0, 10} (5), then 2 or 1 / 9 ...
    picks = k_center_greedy(points, dist, 3)
    assert picks[0] == 3 and picks[1] == 4
    assert picks[2] in (2, 5)  # both at distance 2 from {0, 5, 10} ... first maximum: 2
    assert picks[2] == 2


def test_k_center_without_labels_and_with_duplicates():
    points = np.zeros((4, 2))
    picks = k_center_greedy(points, min_distances(points, np.empty((0, 2))), 4)
    assert sorted(picks) == [0, 1, 2, 3]


def test_min_distances_matches_brute_force():
    rng = np.random.RandomState(0)
    P, C = rng.randn(300, 4), rng.randn(17, 4)
    brute = np.sqrt(((P[:, None] - C[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(min_distances(P, C, batch_size=64), brute, rtol=1e-4, atol=1e-5)


def test_picks_cover_the_latent_space(state):  # noqa: F811
    picks = CoreSetSampler().propose(state, 10, np.random.RandomState(0)).indices
    codes = state.latent_codes
    covered = min_distances(codes[state.available_indices],
                            np.concatenate([state.z_labeled, codes[picks]])).max()
    random = np.random.RandomState(0).choice(state.available_indices, 10, replace=False)
    random_cover = min_distances(codes[state.available_indices],
                                 np.concatenate([state.z_labeled, codes[random]])).max()
    assert covered <= random_cover


def test_penultimate_features_shape(state):  # noqa: F811
    features = penultimate_features(state.net, state.X_pool[:7], batch_size=3)
    assert features.shape == (7, 100)


def test_bad_input_raises(state):  # noqa: F811
    with pytest.raises(ValueError, match="only"):
        CoreSetSampler().propose(state, state.n_available + 1, np.random.RandomState(0))
    with pytest.raises(ValueError, match="features"):
        CoreSetSampler(features="pixels").propose(state, 3, np.random.RandomState(0))
    no_codes = MiningState(**{**state.__dict__, "latent_codes": None, "z_labeled": None})
    with pytest.raises(ValueError, match="latent"):
        CoreSetSampler().propose(no_codes, 3, np.random.RandomState(0))
