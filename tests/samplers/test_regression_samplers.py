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


# --- what the mutation run showed untested -----------------------------------------------

class CountingNet:
    """A regression net predicting the first flattened input; records its batch sizes."""

    def __init__(self, n_outputs=1):
        self.n_outputs, self.batches = n_outputs, []

    def predict(self, X):
        self.batches.append(len(X))
        first = np.asarray(X, dtype=np.float32).reshape(len(X), -1)[:, :1]
        return np.repeat(first, self.n_outputs, axis=1)


def reference_igs(x_cand, y_cand, x_labeled, y_labeled, n):
    """iGS written out plainly: each pick maximizes the smallest product of distances to
    the labeled samples (true targets) and the earlier picks (predicted targets)."""
    picks = []
    for _ in range(n):
        refs = [(x_labeled[i], y_labeled[i]) for i in range(len(x_labeled))]
        refs += [(x_cand[p], y_cand[p]) for p in picks]
        scores = [-1.0 if i in picks else min(
            np.linalg.norm(x_cand[i] - x) * np.linalg.norm(y_cand[i] - y) for x, y in refs)
            for i in range(len(x_cand))]
        picks.append(int(np.argmax(scores)))
    return picks


def test_greedy_matches_the_plain_definition_with_several_features_and_outputs():
    rng = np.random.RandomState(0)
    x_cand, y_cand = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    x_labeled, y_labeled = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    for seed in range(3):
        picks = greedy_input_output(x_cand, y_cand, x_labeled, y_labeled, 8,
                                    np.random.RandomState(seed))
        assert picks.tolist() == reference_igs(x_cand, y_cand, x_labeled, y_labeled, 8)


def test_greedy_distances_are_computed_in_chunks(monkeypatch):
    from sklearn.metrics import pairwise_distances

    from hardsample.samplers import greedy

    rng = np.random.RandomState(1)
    x_cand, y_cand = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    x_labeled, y_labeled = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    whole = greedy_input_output(x_cand, y_cand, x_labeled, y_labeled, 4, np.random.RandomState(0))
    rows = []

    def spy(A, B):
        rows.append(len(A))
        return pairwise_distances(A, B)

    monkeypatch.setattr(greedy, "DISTANCE_CHUNK", 4)
    monkeypatch.setattr(greedy, "pairwise_distances", spy)
    chunked = greedy_input_output(x_cand, y_cand, x_labeled, y_labeled, 4,
                                  np.random.RandomState(0))
    np.testing.assert_array_equal(chunked, whole)
    # inputs and targets of each candidate measured once, at most 4 candidates at a time
    assert rows == [4, 4, 4, 4, 2, 2]


def test_greedy_without_labels_starts_at_a_seeded_random_candidate():
    x_cand = np.arange(8, dtype=np.float64)[:, None]
    y_cand = x_cand.copy()
    firsts = set()
    for seed in range(8):
        picks = greedy_input_output(x_cand, y_cand, np.empty((0, 1)), np.empty((0, 1)), 2,
                                    np.random.RandomState(seed))
        again = greedy_input_output(x_cand, y_cand, np.empty((0, 1)), np.empty((0, 1)), 2,
                                    np.random.RandomState(seed))
        np.testing.assert_array_equal(picks, again)
        first = picks[0]
        firsts.add(int(first))
        # then the candidate farthest from the first (in x and in f(x), here the same)
        assert picks[1] == (7 if first < 3.5 else 0)
    assert len(firsts) > 2  # every candidate ties: the seed decides, not the position


def test_greedy_never_picks_a_candidate_twice_even_when_all_score_zero():
    # the net predicts every candidate's target as the label: every product is 0
    x_cand = np.arange(1, 6, dtype=np.float64)[:, None]
    picks = greedy_input_output(x_cand, np.zeros((5, 1)), np.zeros((1, 1)), np.zeros((1, 1)),
                                5, np.random.RandomState(0))
    assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]


def test_greedy_for_no_picks_gives_an_empty_integer_index():
    picks = greedy_input_output(np.ones((3, 1)), np.ones((3, 1)), np.zeros((1, 1)),
                                np.zeros((1, 1)), 0, np.random.RandomState(0))
    assert picks.dtype == np.int64 and picks.shape == (0,)
    assert np.arange(3)[picks].shape == (0,)


def test_predict_batched_refuses_a_net_without_predict_and_names_it():
    from hardsample.samplers.greedy import predict_batched

    with pytest.raises(TypeError, match=r"^Greedy sampling in the target space needs a regression "
                       r"net \(skorch.NeuralNetRegressor\), got object\.$"):
        predict_batched(object(), np.zeros((3, 1)), np.arange(3), 2)
    with pytest.raises(TypeError, match=r"^Greedy sampling in the target space needs a regression "
                       r"net \(skorch.NeuralNetRegressor\), got NeuralNetClassifier\.$"):
        predict_batched(make_classifier_net(), np.zeros((3, 1)), np.arange(3), 2)


def test_predict_batched_in_batches_and_an_empty_pass_asks_the_net_nothing():
    from hardsample.samplers.greedy import predict_batched

    net = CountingNet(n_outputs=2)
    X = np.arange(10, dtype=np.float64)[:, None]
    out = predict_batched(net, X, np.array([9, 0, 4, 5, 6]), 2)
    assert net.batches == [2, 2, 1] and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[9, 9], [0, 0], [4, 4], [5, 5], [6, 6]])
    net.batches.clear()
    empty = predict_batched(net, X, np.empty(0, dtype=np.int64), 2)
    # n_outputs is unknown without asking the net: one column, float32 like the predictions
    assert empty.shape == (0, 1) and empty.dtype == np.float32 and net.batches == []


def greedy_state(X, labeled, y_labeled, net, codes=None):
    excluded = np.zeros(len(X), dtype=bool)
    excluded[labeled] = True
    return MiningState(X_pool=X, latent_codes=codes, excluded=excluded, X_labeled=X[labeled],
                       y_labeled=np.asarray(y_labeled),
                       z_labeled=None if codes is None else codes[labeled], net=net)


@pytest.mark.parametrize("space", ["input", "latent", "pca"])
@pytest.mark.parametrize("n_candidates, n_labeled", [(None, 3), (3, 3), (None, 12), (3, 12)])
def test_asking_for_nothing_judges_nothing(space, n_candidates, n_labeled):
    X = np.arange(12, dtype=np.float32)[:, None]
    state = greedy_state(X, np.arange(n_labeled), X[:n_labeled], CountingNet(),
                         codes=np.concatenate([X, X], axis=1))
    proposal = ImprovedGreedySampler(space, n_candidates=n_candidates).propose(
        state, 0, np.random.RandomState(0))
    assert proposal.indices.dtype == np.int64 and len(proposal) == 0
    assert state.net.batches == []


def test_uint8_images_are_measured_without_wrap_around():
    values = np.arange(21)
    images = values.astype(np.uint8).reshape(21, 1, 1)
    labeled, y = [0], np.zeros((1, 1), dtype=np.float32)
    as_uint8 = ImprovedGreedySampler().propose(greedy_state(images, labeled, y, CountingNet()),
                                               2, np.random.RandomState(0)).indices
    as_float = ImprovedGreedySampler().propose(
        greedy_state(images.astype(np.float32), labeled, y, CountingNet()), 2,
        np.random.RandomState(0)).indices
    np.testing.assert_array_equal(as_uint8, as_float)
    # x = 20 first (20 * 20), then min(x * x, (20 - x)^2) is largest at x = 10
    assert as_uint8.tolist() == [20, 10]


def test_latent_space_measures_the_codes_not_the_inputs():
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 10, (25, 1)).astype(np.float32)
    codes = rng.normal(size=(25, 2)).astype(np.float32)
    labeled = [0, 1, 2]
    state = greedy_state(X, labeled, X[labeled], CountingNet(), codes=codes)
    picks = ImprovedGreedySampler("latent").propose(state, 4, np.random.RandomState(0)).indices
    cand = np.arange(3, 25)
    expected = cand[reference_igs(codes[cand], X[cand], codes[labeled], X[labeled], 4)]
    by_inputs = cand[reference_igs(X[cand], X[cand], X[labeled], X[labeled], 4)]
    assert picks.tolist() == expected.tolist() != by_inputs.tolist()


def test_a_duplicate_of_a_labeled_code_scores_zero_whatever_its_prediction():
    # float64 codes far from 0 (as a PCA of float64 data gives): pool row 1 has the code of
    # the labeled row 0, but the net predicts it 1000 away from its label. Its input
    # distance is exactly 0, so the sample with a small but real distance wins.
    X = np.array([[0.0], [1000.0], [0.1]], dtype=np.float32)
    codes = np.array([[1000.1], [1000.1], [1000.11]])
    state = greedy_state(X, [0], np.zeros((1, 1), dtype=np.float32), CountingNet(), codes=codes)
    picks = ImprovedGreedySampler("latent").propose(state, 1, np.random.RandomState(0)).indices
    assert picks.tolist() == [2]


def test_latent_space_needs_codes_for_the_labeled_samples_too():
    X = np.arange(6, dtype=np.float32)[:, None]
    state = greedy_state(X, [0], X[:1], CountingNet(), codes=np.concatenate([X, X], axis=1))
    state = MiningState(**{**state.__dict__, "z_labeled": None})
    with pytest.raises(ValueError, match=r"^ImprovedGreedySampler\(space='latent'\) needs the "
                       r"pool's latent codes: pass a generator, or use space='input' or 'pca'\.$"):
        ImprovedGreedySampler("latent").propose(state, 1, np.random.RandomState(0))


def anisotropic_state():
    # wide along the first input, narrow along the second, which the net predicts
    rng = np.random.RandomState(3)
    X = np.column_stack([rng.uniform(0, 10, 30), rng.uniform(0, 2, 30)]).astype(np.float32)

    class SecondInput(CountingNet):
        def predict(self, X):
            return 5 * np.asarray(X, dtype=np.float32)[:, 1:2]

    return greedy_state(X, [0, 1], 5 * X[:2, 1:2], SecondInput())


def test_input_space_ignores_n_components_and_pca_space_projects():
    from sklearn.decomposition import PCA

    state = anisotropic_state()
    X, cand, labeled = state.X_pool, np.arange(2, 30), [0, 1]
    y = 5 * X[:, 1:2]
    raw = cand[reference_igs(X[cand], y[cand], X[labeled], y[labeled], 3)]
    Z = PCA(1).fit_transform(X)
    projected = cand[reference_igs(Z[cand], y[cand], Z[labeled], y[labeled], 3)]
    assert raw.tolist() != projected.tolist()
    for n_components in (1, 2):
        picks = ImprovedGreedySampler("input", n_components=n_components).propose(
            state, 3, np.random.RandomState(0)).indices
        assert picks.tolist() == raw.tolist()
    picks = ImprovedGreedySampler("pca", n_components=1).propose(
        state, 3, np.random.RandomState(0)).indices
    assert picks.tolist() == projected.tolist()


def circle_state():
    # a PCA of points evenly on a circle has no preferred direction: only the solver's
    # seed decides which one the first component takes
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    X = np.column_stack([np.cos(angles), np.sin(angles)]).astype(np.float32)
    return greedy_state(X, [0], X[:1, :1], CountingNet())


def test_pca_space_is_reproducible_from_the_round_seed():
    runs = [ImprovedGreedySampler("pca", n_components=1).propose(
        circle_state(), 4, np.random.RandomState(5)).indices.tolist() for _ in range(6)]
    assert all(run == runs[0] for run in runs)


class SpyPCA:
    """Wraps sklearn's PCA and records the rows it is fitted on."""

    fitted = []

    def __init__(self, *args, **kwargs):
        from sklearn.decomposition import PCA
        self.pca = PCA(*args, **kwargs)

    def fit(self, X):
        SpyPCA.fitted.append(np.array(X))
        self.pca.fit(X)
        return self

    def transform(self, X):
        return self.pca.transform(X)


def test_pca_space_is_fitted_on_a_capped_subset_of_distinct_pool_rows(monkeypatch):
    from hardsample.samplers import greedy

    monkeypatch.setattr(greedy, "PCA_FIT_MAX_SAMPLES", 8)
    monkeypatch.setattr(greedy, "PCA", SpyPCA)
    monkeypatch.setattr(SpyPCA, "fitted", [])
    state = anisotropic_state()
    ImprovedGreedySampler("pca", n_components=1).propose(state, 2, np.random.RandomState(0))
    (sample,) = SpyPCA.fitted
    pool_rows = {tuple(row) for row in state.X_pool}
    assert sample.shape == (8, 2) and len({tuple(row) for row in sample}) == 8
    assert {tuple(row) for row in sample} <= pool_rows


def test_a_pool_of_exactly_the_pca_cap_is_fitted_whole_without_random_draws(monkeypatch):
    # a tied 1-D pool: the picks show whether the round's stream was used the same way
    from hardsample.samplers import greedy

    X = np.linspace(-5, 5, 21, dtype=np.float32)[:, None]
    state = greedy_state(X, [10], np.zeros((1, 1), dtype=np.float32), CountingNet())
    picks = {}
    for cap in (21, 22):
        monkeypatch.setattr(greedy, "PCA_FIT_MAX_SAMPLES", cap)
        picks[cap] = ImprovedGreedySampler("pca", n_components=1).propose(
            state, 6, np.random.RandomState(0)).indices.tolist()
    assert picks[21] == picks[22]


def test_n_candidates_bounds_the_pass_of_the_net():
    X = np.arange(40, dtype=np.float32)[:, None]
    state = greedy_state(X, [0], X[:1], CountingNet())
    proposal = ImprovedGreedySampler(n_candidates=3, batch_size=4).propose(
        state, 2, np.random.RandomState(0))
    assert state.net.batches == [4, 2] and len(set(proposal.indices)) == 2


def test_documented_defaults():
    assert ImprovedGreedySampler().get_params() == {
        "space": "input", "n_components": 50, "n_candidates": None, "batch_size": 1024}


def test_a_net_with_more_outputs_than_the_labels_is_refused_by_count():
    X = np.arange(6, dtype=np.float32)[:, None]
    state = greedy_state(X, [0], X[:1], CountingNet(n_outputs=2))
    with pytest.raises(ValueError, match=r"^The net predicts 2 values per sample but the "
                       r"labeled targets have 1\.$"):
        ImprovedGreedySampler().propose(state, 1, np.random.RandomState(0))


def test_check_compatible_messages_in_full():
    with pytest.raises(ValueError, match=r"^ImprovedGreedySampler\(space='latent'\) measures "
                       r"input distances in the generator's codes: pass a generator, or use "
                       r"space='input' or 'pca'\.$"):
        ImprovedGreedySampler("latent").check_compatible(task="regression", net=None,
                                                         generator=None)
    # the task unknown: the net tells (a classifier is refused)
    with pytest.raises(TypeError, match="regression targets only"):
        ImprovedGreedySampler().check_compatible(task=None, net=make_classifier_net(),
                                                 generator=None)
    ImprovedGreedySampler().check_compatible(task=None, net=make_regressor_net(), generator=None)
