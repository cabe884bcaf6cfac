import re

import numpy as np
import pytest
import torch

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


# ------------------------------------------------- edge cases, batches, a fake net
class LinearStackNet:
    """A fitted-net stand-in: three ``torch.nn.Linear`` layers; records its batch sizes."""

    def __init__(self):
        torch.manual_seed(0)
        self.module_ = torch.nn.Sequential(
            torch.nn.Linear(1, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3), torch.nn.ReLU(),
            torch.nn.Linear(3, 2))
        self.batches = []

    def infer(self, X):
        self.batches.append(len(X))
        return self.module_(torch.as_tensor(X, dtype=torch.float32))


def line_state(n_pool, n_labeled, **changes):
    """Pool ``0, 1, ..., n_pool - 1`` on a line (also its latent codes), the first
    ``n_labeled`` samples labeled; ``changes`` replace fields of the state."""
    X = np.arange(n_pool, dtype=np.float32)[:, None]
    excluded = np.zeros(n_pool, dtype=bool)
    excluded[:n_labeled] = True
    fields = dict(X_pool=X, latent_codes=X.copy(), excluded=excluded, X_labeled=X[:n_labeled],
                  y_labeled=np.zeros(n_labeled, dtype=np.int64), z_labeled=X[:n_labeled],
                  net=None)
    return MiningState(**{**fields, **changes})


def whole(message):
    """A ``pytest.raises`` pattern matching exactly ``message``."""
    return f"^{re.escape(message)}$"


@pytest.fixture
def cdist_blocks(monkeypatch):
    """The number of points in each block handed to ``torch.cdist``."""
    blocks, cdist = [], torch.cdist

    def spy(x1, x2, *args, **kwargs):
        blocks.append(len(x1))
        return cdist(x1, x2, *args, **kwargs)

    monkeypatch.setattr(torch, "cdist", spy)
    return blocks


def test_min_distances_to_no_centers_are_float32_infinities():
    distances = min_distances(np.array([[0, 1], [2, 3], [4, 5]]), np.empty((0, 2)))
    assert distances.dtype == np.float32 and distances.shape == (3,)
    assert np.isposinf(distances).all()


def test_min_distances_of_no_points_is_empty_float32():
    distances = min_distances(np.empty((0, 2)), np.ones((3, 2)))
    assert distances.dtype == np.float32 and distances.shape == (0,)
    assert min_distances(np.ones((2, 2)), np.ones((3, 2))).dtype == np.float32


def test_min_distances_works_in_blocks_of_batch_size(cdist_blocks):
    points, centers = np.arange(4097, dtype=np.float32)[:, None], np.array([[0.0], [100.0]])
    distances = min_distances(points, centers)
    assert cdist_blocks == [4096, 1]  # the documented default batch_size
    np.testing.assert_allclose(distances, np.minimum(points[:, 0], abs(points[:, 0] - 100)))
    cdist_blocks.clear()
    min_distances(points[:130], centers, batch_size=64)
    assert cdist_blocks == [64, 64, 2]


def test_k_center_greedy_takes_integer_features():
    points = np.array([[0, 0], [3, 4], [1, 1], [6, 8], [-6, -8]])
    dist = min_distances(points, [[0, 0]])
    picks = k_center_greedy(points, dist, 3)
    np.testing.assert_array_equal(picks, k_center_greedy(points.astype(float), dist, 3))
    np.testing.assert_array_equal(picks, [3, 4, 1])


def test_k_center_greedy_picks_do_not_depend_on_the_dtype_of_min_dist():
    # distances are compared in float32, as min_distances computes them: two float64
    # distances equal at float32 precision tie, and the first maximum is picked
    points = np.array([[0.0], [0.0], [5.0]])
    min_dist = np.array([1.0, 1.0 + 1e-9, 0.5])
    picks = k_center_greedy(points, min_dist, 2)
    np.testing.assert_array_equal(picks, k_center_greedy(points, min_dist.astype(np.float32), 2))
    np.testing.assert_array_equal(picks, [0, 2])


def test_zero_picks_are_an_empty_int64_index():
    picks = k_center_greedy(np.ones((3, 2)), np.full(3, np.inf), 0)
    assert picks.dtype == np.int64 and picks.shape == (0,)
    proposal = CoreSetSampler().propose(line_state(5, 2), 0, np.random.RandomState(0))
    assert proposal.indices.dtype == np.int64 and proposal.indices.shape == (0,)


def test_latent_covered_set_is_z_labeled_or_else_the_excluded_codes():
    # pool codes 0..5 and 10; pool sample 0 labeled, plus a synthetic one at 10
    codes = np.array([0, 1, 2, 3, 4, 5, 10], dtype=np.float32)[:, None]
    state = line_state(7, 1, latent_codes=codes, z_labeled=np.array([[0.0], [10.0]]))
    proposal = CoreSetSampler().propose(state, 1, np.random.RandomState(0))
    np.testing.assert_array_equal(proposal.indices, [5])  # 5 is farthest from {0, 10}
    np.testing.assert_array_equal(proposal.latent_codes, codes[[5]])
    assert set(proposal.timings) == {"k-center"} and proposal.timings["k-center"] >= 0
    # without z_labeled, the labeled pool codes ({0}) are the covered set
    no_z = line_state(7, 1, latent_codes=codes, z_labeled=None)
    proposal = CoreSetSampler().propose(no_z, 2, np.random.RandomState(0))
    np.testing.assert_array_equal(proposal.indices, [6, 5])
    np.testing.assert_array_equal(proposal.latent_codes, codes[[6, 5]])


def test_missing_latent_codes_error_says_what_to_pass():
    state = line_state(5, 2, latent_codes=None, z_labeled=None)
    with pytest.raises(ValueError, match=whole(
            "CoreSetSampler(features='latent') needs the pool's latent codes: pass a "
            "generator to the estimator.")):
        CoreSetSampler().propose(state, 1, np.random.RandomState(0))


def test_penultimate_passes_and_distance_blocks_follow_batch_size(cdist_blocks):
    net = LinearStackNet()
    state = line_state(20, 5, net=net, latent_codes=None, z_labeled=None)
    proposal = CoreSetSampler(features="penultimate", batch_size=2).propose(
        state, 3, np.random.RandomState(0))
    # the 15 available samples, then the 5 labeled ones, 2 at a time
    assert net.batches == [2] * 7 + [1] + [2, 2, 1]
    assert cdist_blocks == [8, 7]  # distance blocks of 4 * batch_size
    assert proposal.latent_codes is None
    assert set(proposal.timings) == {"judging", "k-center"}
    assert all(seconds >= 0 for seconds in proposal.timings.values())
    check_picks(state, proposal, 3)
    features = penultimate_features(net, state.X_pool)
    covered = features[:5]
    for i in proposal.indices:  # each pick is the farthest from what was covered before it
        dist = min_distances(features, covered)
        dist[state.excluded] = -1
        assert dist[i] == pytest.approx(dist.max())
        covered = np.vstack([covered, features[i]])


def test_penultimate_default_batch_size_is_1024(cdist_blocks):
    net = LinearStackNet()
    state = line_state(1030, 5, net=net)
    CoreSetSampler(features="penultimate").propose(state, 1, np.random.RandomState(0))
    assert net.batches == [1024, 1, 5]
    assert cdist_blocks == [1025]


def test_penultimate_features_are_the_inputs_of_the_last_linear_layer():
    net = LinearStackNet()
    X = np.linspace(-2, 2, 7, dtype=np.float32)[:, None]
    features = penultimate_features(net, X, batch_size=3)
    assert net.batches == [3, 3, 1]
    with torch.no_grad():
        expected = net.module_[:4](torch.as_tensor(X)).numpy()
    assert features.dtype == np.float32 and features.shape == (7, 3)
    np.testing.assert_allclose(features, expected, rtol=1e-6)
    net.batches.clear()
    assert penultimate_features(net, np.zeros((1025, 1), dtype=np.float32)).shape == (1025, 3)
    assert net.batches == [1024, 1]  # the documented default batch_size
    empty = penultimate_features(net, np.empty((0, 1), dtype=np.float32))
    assert empty.dtype == np.float32 and empty.shape == (0, 3)


def test_penultimate_features_refuses_unfitted_and_linear_free_nets():
    X = np.zeros((2, 1), dtype=np.float32)
    with pytest.raises(TypeError, match=whole(
            "features='penultimate' needs a fitted skorch net (with module_).")):
        penultimate_features(object(), X)
    net = LinearStackNet()
    net.module_ = torch.nn.Sequential(torch.nn.ReLU())
    with pytest.raises(ValueError, match=whole(
            "features='penultimate' needs a net whose module has a torch.nn.Linear layer.")):
        penultimate_features(net, X)
