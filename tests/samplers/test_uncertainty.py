import numpy as np
import pytest

from hardsample.generators import PCAGenerator
from hardsample.neighbors import LatentIndex
from hardsample.samplers import (
    EntropySampler,
    MarginSampler,
    MiningState,
    SubsampledEntropySampler,
    SubsampledMarginSampler,
)
from hardsample.samplers.uncertainty import entropy, margin, predict_proba_batched, top_n

from ..conftest import make_classifier_net, make_regressor_net


def make_state(X, y, n_labeled=60, net=None, seed=0):
    """A MiningState over the digits: the first ``n_labeled`` samples labeled."""
    codes = PCAGenerator(n_components=3).fit(X).transform(X)
    excluded = np.zeros(len(X), dtype=bool)
    excluded[:n_labeled] = True
    if net is None:
        net = make_classifier_net(module__n_classes=10, train_split=None, max_epochs=5)
        import torch
        torch.manual_seed(seed)
        net.fit(X[:n_labeled], y[:n_labeled])
    generator = PCAGenerator(n_components=3).fit(X)
    return MiningState(
        X_pool=X, latent_codes=codes, excluded=excluded, X_labeled=X[:n_labeled],
        y_labeled=y[:n_labeled].astype(np.int64), z_labeled=codes[:n_labeled], net=net,
        generator=generator, latent_index=LatentIndex().fit(codes),
    )


@pytest.fixture(scope="module")
def state():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return make_state((X / 16.0).astype(np.float32), y)


def check_picks(state, proposal, n):
    indices = proposal.indices
    assert indices.dtype == np.int64 and indices.shape == (n,)
    assert len(np.unique(indices)) == n
    assert not state.excluded[indices].any()


@pytest.mark.parametrize("cls", [EntropySampler, MarginSampler])
@pytest.mark.parametrize("n", [1, 17, 40])
def test_picks_unlabeled_distinct_and_sized(state, cls, n):
    check_picks(state, cls(batch_size=100).propose(state, n, np.random.RandomState(0)), n)


@pytest.mark.parametrize("cls", [EntropySampler, MarginSampler])
def test_reproducible(state, cls):
    a = cls().propose(state, 25, np.random.RandomState(3)).indices
    b = cls().propose(state, 25, np.random.RandomState(3)).indices
    np.testing.assert_array_equal(a, b)


def test_entropy_picks_the_most_uncertain(state):
    picks = EntropySampler(batch_size=64).propose(state, 30, np.random.RandomState(0)).indices
    available = state.available_indices
    scores = entropy(state.net.predict_proba(state.X_pool[available]))
    threshold = np.sort(scores)[::-1][29]
    chosen = entropy(state.net.predict_proba(state.X_pool[picks]))
    assert chosen.min() >= threshold - 1e-6
    np.testing.assert_allclose(np.sort(chosen)[::-1], np.sort(scores)[::-1][:30], rtol=1e-5)


def test_margin_picks_the_smallest_margins(state):
    picks = MarginSampler().propose(state, 30, np.random.RandomState(0)).indices
    margins = margin(state.net.predict_proba(state.X_pool[state.available_indices]))
    chosen = margin(state.net.predict_proba(state.X_pool[picks]))
    np.testing.assert_allclose(np.sort(chosen), np.sort(margins)[:30], rtol=1e-5, atol=1e-7)


def test_scores_on_hand_made_probabilities():
    proba = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]])
    np.testing.assert_allclose(entropy(proba), [0.0, np.log(2), np.log(3),
                                                -(0.6 * np.log(0.6) + 0.3 * np.log(0.3)
                                                  + 0.1 * np.log(0.1))])
    np.testing.assert_allclose(margin(proba), [1.0, 0.0, 0.0, 0.3])


def test_ties_broken_by_the_seed():
    scores = np.zeros(50)
    a = top_n(scores, 10, np.random.RandomState(0))
    b = top_n(scores, 10, np.random.RandomState(0))
    c = top_n(scores, 10, np.random.RandomState(1))
    np.testing.assert_array_equal(a, b)
    assert set(a) != set(c)
    np.testing.assert_array_equal(top_n(np.array([0.1, 0.9, 0.5]), 2,
                                        np.random.RandomState(0)), [1, 2])


@pytest.mark.parametrize("cls", [EntropySampler, MarginSampler])
def test_too_many_samples_raises(state, cls):
    with pytest.raises(ValueError, match="only"):
        cls().propose(state, state.n_available + 1, np.random.RandomState(0))


@pytest.mark.parametrize("cls", [EntropySampler, MarginSampler])
def test_non_classifier_net_raises(state, cls, digits):
    X, y = digits
    reg = make_regressor_net(module__n_outputs=1, max_epochs=1, train_split=None)
    reg.fit(X[:20], y[:20].astype(np.float32).reshape(-1, 1))
    bad = MiningState(**{**state.__dict__, "net": reg})
    with pytest.raises(TypeError, match="classifier"):
        cls().propose(bad, 5, np.random.RandomState(0))
    with pytest.raises(TypeError, match="classifier"):
        cls().propose(MiningState(**{**state.__dict__, "net": object()}), 5,
                      np.random.RandomState(0))


def test_non_probability_output_raises():
    class Scores:
        def predict_proba(self, X):
            return np.full((len(X), 3), 2.0)

    with pytest.raises(ValueError, match="probabilities"):
        predict_proba_batched(Scores(), np.zeros((4, 2)))


def test_bad_batch_size_raises(state):
    with pytest.raises(ValueError, match="batch_size"):
        EntropySampler(batch_size=0).propose(state, 5, np.random.RandomState(0))


# ------------------------------------------------- subsampled: same-cost controls
class CountingNet:
    """Wraps a net and counts the rows it is asked to judge."""

    def __init__(self, net):
        self.net, self.rows = net, []

    def predict_proba(self, X):
        self.rows.extend(np.asarray(X).reshape(len(X), -1).tolist())
        return self.net.predict_proba(X)


def test_subsampled_margin_judges_n_times_n_candidates_uniform_samples(state):
    from dataclasses import replace

    from hardsample.samplers import SubsampledMarginSampler

    counting = CountingNet(state.net)
    counted = replace(state, net=counting)
    proposal = SubsampledMarginSampler(n_candidates=20).propose(
        counted, 10, np.random.RandomState(0))
    assert len(counting.rows) == 200  # the cost: n * n_candidates, not the pool
    judged = {tuple(row) for row in counting.rows}
    rows = [tuple(row) for row in state.X_pool.reshape(len(state.X_pool), -1)]
    judged_indices = [i for i, row in enumerate(rows) if row in judged and not state.excluded[i]]
    # the picks are the 10 smallest margins among the judged subset
    proba = state.net.predict_proba(state.X_pool[judged_indices])
    expected = np.asarray(judged_indices)[np.argsort(margin(proba), kind="stable")[:10]]
    assert set(proposal.indices) == set(expected)
    assert not state.excluded[proposal.indices].any()


def test_subsampling_larger_than_the_pool_is_full_pool_margin(state):
    full = MarginSampler().propose(state, 10, np.random.RandomState(0))
    many = MarginSampler(n_candidates=10_000).propose(state, 10, np.random.RandomState(0))
    np.testing.assert_array_equal(full.indices, many.indices)


def test_different_seeds_judge_different_subsets(state):
    from hardsample.samplers import SubsampledEntropySampler

    a = SubsampledEntropySampler(n_candidates=5).propose(state, 10, np.random.RandomState(0))
    b = SubsampledEntropySampler(n_candidates=5).propose(state, 10, np.random.RandomState(1))
    assert set(a.indices) != set(b.indices)


def test_uniform_subset_draws_without_replacement_in_order():
    from hardsample.samplers.uncertainty import uniform_subset

    indices = np.arange(100, 200)
    subset = uniform_subset(indices, 90, np.random.RandomState(0))
    assert len(subset) == 90 and len(np.unique(subset)) == 90  # no sample drawn twice
    assert set(subset) <= set(indices) and np.all(np.diff(subset) > 0)
    np.testing.assert_array_equal(uniform_subset(indices, 100, np.random.RandomState(0)), indices)


@pytest.mark.parametrize("name", ["SubsampledEntropySampler", "SubsampledMarginSampler"])
def test_subsampled_samplers_judge_distinct_candidates(state, name):
    # n * n_candidates just below the available samples: a subset drawn with replacement
    # would repeat samples, and the n picks (here every candidate) would too.
    from hardsample import samplers

    n = len(state.available_indices) - 1
    proposal = getattr(samplers, name)(n_candidates=1).propose(
        state, n, np.random.RandomState(0))
    check_picks(state, proposal, n)


# ------------------------------------------------- batches, timings, tie-breaks
class TiedNet:
    """A classifier unsure of everything (every score ties); records its batch sizes."""

    def __init__(self, n_classes=3):
        self.n_classes, self.batches = n_classes, []

    def predict_proba(self, X):
        self.batches.append(len(X))
        return np.full((len(X), self.n_classes), 1.0 / self.n_classes)


def tied_state(n_pool=30, n_labeled=10):
    X = np.arange(n_pool, dtype=np.float32)[:, None]
    excluded = np.zeros(n_pool, dtype=bool)
    excluded[:n_labeled] = True
    return MiningState(X_pool=X, latent_codes=None, excluded=excluded, X_labeled=X[:n_labeled],
                       y_labeled=np.zeros(n_labeled, dtype=np.int64), z_labeled=None,
                       net=TiedNet())


@pytest.mark.parametrize("cls", [EntropySampler, MarginSampler])
def test_the_net_judges_in_batches_of_batch_size_and_the_pass_is_timed(cls):
    state = tied_state(n_pool=30, n_labeled=10)
    proposal = cls(batch_size=7).propose(state, 4, np.random.RandomState(0))
    assert state.net.batches == [7, 7, 6]  # the 20 available samples, 7 at a time
    assert set(proposal.timings) == {"judging"} and proposal.timings["judging"] >= 0


@pytest.mark.parametrize("cls", [EntropySampler, MarginSampler])
def test_a_subset_of_every_available_sample_is_the_full_pass(cls):
    # n * n_candidates == n_available: the "subset" is the whole pool, and with every
    # score tied the picks show that the seed's stream was used the same way.
    state = tied_state(n_pool=30, n_labeled=10)
    full = cls().propose(state, 4, np.random.RandomState(0)).indices
    subset = cls(n_candidates=5).propose(state, 4, np.random.RandomState(0)).indices
    np.testing.assert_array_equal(subset, full)
    other_seeds = [cls().propose(state, 4, np.random.RandomState(s)).indices for s in (1, 2)]
    assert any(set(picks) != set(full) for picks in other_seeds)  # the ties are seeded


def test_predict_proba_batched_defaults_dtype_and_bad_batch_size():
    net = TiedNet(n_classes=2)
    X = np.zeros((2049, 1), dtype=np.float32)
    proba = predict_proba_batched(net, X)
    assert net.batches == [1024, 1024, 1]  # the documented default batch_size
    assert proba.shape == (2049, 2)

    class Float32Net:
        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5, dtype=np.float32)

    # float64 probabilities: scores of near-equal rows are not rounded into ties
    assert predict_proba_batched(Float32Net(), X[:5]).dtype == np.float64
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=r"^batch_size must be an int >= 1"):
            predict_proba_batched(net, X, batch_size=bad)


@pytest.mark.parametrize("net, name", [(object(), "object"), (None, "NoneType"),
                                       (make_regressor_net(), "NeuralNetRegressor")])
def test_the_not_a_classifier_error_names_the_net_given(net, name):
    with pytest.raises(TypeError, match=rf"^Uncertainty sampling needs a classifier net with "
                                        rf"predict_proba \(e\.g\. skorch\.NeuralNetClassifier\), "
                                        rf"got {name}\.$"):
        predict_proba_batched(net, np.zeros((3, 1)))


def test_entropy_of_a_softmax_rounded_above_one_is_zero_not_negative():
    # float32 softmax can give 1.0000001 for a certain net; its entropy is 0, not < 0
    np.testing.assert_array_equal(entropy(np.array([[1 + 1e-6, 0.0], [1.0, 0.0]])), [0.0, 0.0])


class FixedOutputNet:
    """A net whose predict_proba returns ``output(n_rows)``."""

    def __init__(self, output):
        self.output = output

    def predict_proba(self, X):
        return self.output(len(X))


SHAPE_ERROR = (r"^predict_proba returned shape {shape} for 4 samples; expected \(n_samples, "
               r"n_classes\) with at least 2 classes\.$")
NOT_PROBABILITIES = (r"^predict_proba did not return probabilities \(rows of non-negative "
                     r"values summing to 1\); does the net end in a softmax\?$")


@pytest.mark.parametrize("output, match", [
    (lambda n: np.full((n - 1, 2), 0.5), SHAPE_ERROR.format(shape=r"\(3, 2\)")),
    (lambda n: np.ones((n, 1)), SHAPE_ERROR.format(shape=r"\(4, 1\)")),
    (lambda n: np.full((n, 2, 1), 0.5), SHAPE_ERROR.format(shape=r"\(4, 2, 1\)")),
    (lambda n: np.tile([-0.5, 1.5], (n, 1)), NOT_PROBABILITIES),   # sums to 1, negative
    (lambda n: np.tile([0.9, 0.9], (n, 1)), NOT_PROBABILITIES),    # sums to 1.8
    (lambda n: np.tile([np.nan, 1.0], (n, 1)), NOT_PROBABILITIES),
])
def test_outputs_that_are_not_probability_rows_are_refused(output, match):
    with pytest.raises(ValueError, match=match):
        predict_proba_batched(FixedOutputNet(output), np.zeros((4, 1)))


@pytest.mark.parametrize("row", [
    [0.0, 1.0, 0.0],              # exact zeros
    [-1e-6, 0.5, 0.5 + 1e-6],     # rounding just below zero
    [0.3, 0.3, 0.4004],           # a half-precision softmax: sums to 1 within 1e-3
])
def test_probability_rows_with_rounding_errors_are_accepted(row):
    proba = predict_proba_batched(FixedOutputNet(lambda n: np.tile(row, (n, 1))),
                                  np.zeros((4, 1)))
    np.testing.assert_allclose(proba, np.tile(row, (4, 1)))


def test_an_empty_pass_asks_the_net_nothing():
    net = TiedNet()
    proba = predict_proba_batched(net, np.zeros((4, 1)), rows=np.empty(0, dtype=np.int64))
    assert proba.shape == (0, 0) and net.batches == []  # the classes are unknown


@pytest.mark.parametrize("cls", [EntropySampler, MarginSampler, SubsampledEntropySampler,
                                 SubsampledMarginSampler])
@pytest.mark.parametrize("n_labeled", [10, 30])
def test_asking_for_nothing_judges_nothing(cls, n_labeled):
    # n = 0, with samples left or none: an empty proposal, and no pass over the pool
    state = tied_state(n_pool=30, n_labeled=n_labeled)
    proposal = cls().propose(state, 0, np.random.RandomState(0))
    assert proposal.indices.dtype == np.int64 and len(proposal) == 0
    assert state.net.batches == []


@pytest.mark.parametrize("cls, n_candidates", [
    (EntropySampler, None), (MarginSampler, None), (SubsampledEntropySampler, 16),
    (SubsampledMarginSampler, 64)])
def test_documented_defaults_and_batch_size_reaches_the_net(cls, n_candidates):
    assert cls().get_params() == {"batch_size": 1024, "n_candidates": n_candidates}
    state = tied_state(n_pool=30, n_labeled=10)
    cls(batch_size=7, n_candidates=5).propose(state, 4, np.random.RandomState(0))
    assert state.net.batches == [7, 7, 6]


@pytest.mark.parametrize("scores", [np.array([0, 3, 1, 2], dtype=np.uint8),
                                    np.array([False, True, False, True])])
def test_top_n_ranks_unsigned_and_boolean_scores(scores):
    top = top_n(scores, 2, np.random.RandomState(0))
    assert set(top.tolist()) == {1, 3}
