import re
import warnings

import numpy as np
import pytest

from hardsample.samplers import (
    ClusterMarginSampler,
    MiningState,
    SubsampledMarginSampler,
)
from hardsample.samplers.uncertainty import margin, predict_proba_batched

from .test_uncertainty import check_picks, make_state


@pytest.fixture(scope="module")
def state(digits):
    X, y = digits
    return make_state(X, y)


class ProbaByRow:
    """A classifier stand-in whose predicted probabilities are fixed per pool row
    (the row's index is stored in its first feature)."""

    def __init__(self, proba):
        self.proba = proba

    def predict_proba(self, X):
        return self.proba[np.asarray(X)[:, 0].astype(int)]


def two_blobs_state():
    """Rows 0-99 in a blob at the origin, 100-199 at (50, 50); the ten most uncertain
    rows all lie in the first blob, the next ten in the second."""
    rng = np.random.RandomState(0)
    points = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(50, 1, (100, 2))])
    X = np.column_stack([np.arange(200), points]).astype(np.float32)
    top = np.full(200, 0.95)
    top[:10] = 0.50 + 0.001 * np.arange(10)
    top[100:110] = 0.60 + 0.001 * np.arange(10)
    proba = np.column_stack([top, 1 - top])
    return MiningState(X_pool=X, latent_codes=points, excluded=np.zeros(200, bool),
                       X_labeled=X[:0], y_labeled=np.empty(0), z_labeled=points[:0],
                       net=ProbaByRow(proba))


@pytest.mark.parametrize("space", ["latent", "pca"])
def test_spreads_picks_over_clusters(space):
    blobs = two_blobs_state()
    sampler = ClusterMarginSampler(space, n_candidates=100, n_uncertain=10, n_components=2)
    picks = sampler.propose(blobs, 2, np.random.RandomState(0)).indices
    # margin alone takes rows 0 and 1; one pick per blob, each its blob's most uncertain
    assert picks.tolist() == [0, 100]
    plain = SubsampledMarginSampler(n_candidates=100).propose(
        blobs, 2, np.random.RandomState(0)).indices
    assert plain.tolist() == [0, 1]


def test_one_uncertain_per_pick_is_subsampled_margin(state):
    for seed in range(3):
        ours = ClusterMarginSampler(n_uncertain=1, n_candidates=8).propose(
            state, 20, np.random.RandomState(seed)).indices
        control = SubsampledMarginSampler(n_candidates=8).propose(
            state, 20, np.random.RandomState(seed)).indices
        np.testing.assert_array_equal(ours, np.sort(control))


@pytest.mark.parametrize("space", ["latent", "pca"])
@pytest.mark.parametrize("n", [1, 17, 40])
def test_picks_unlabeled_distinct_uncertain(state, space, n):
    sampler = ClusterMarginSampler(space, n_candidates=8, n_uncertain=4)
    proposal = sampler.propose(state, n, np.random.RandomState(1))
    check_picks(state, proposal, n)
    # every pick is among the candidates' n * n_uncertain smallest margins
    candidates = state.available_indices[np.sort(np.random.RandomState(1).choice(
        state.n_available, size=min(n * 8, state.n_available), replace=False))]
    margins = margin(predict_proba_batched(state.net, state.X_pool, rows=candidates))
    cutoff = np.sort(margins)[min(n * 4, len(margins)) - 1]
    picked = margin(predict_proba_batched(state.net, state.X_pool, rows=proposal.indices))
    assert (picked <= cutoff + 1e-12).all()
    assert sampler.uses_latent_space == (space == "latent")


def test_duplicate_features_still_give_n_picks():
    blobs = two_blobs_state()
    same = MiningState(**{**blobs.__dict__, "latent_codes": np.zeros_like(blobs.latent_codes)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-means: fewer distinct clusters than asked
        picks = ClusterMarginSampler(n_candidates=100).propose(
            same, 5, np.random.RandomState(0)).indices
    assert picks.tolist() == [0, 1, 2, 3, 4]  # the smallest margins fill up


def test_reproducible_and_zero(state):
    sampler = ClusterMarginSampler("pca")
    a = sampler.propose(state, 25, np.random.RandomState(3)).indices
    b = sampler.propose(state, 25, np.random.RandomState(3)).indices
    np.testing.assert_array_equal(a, b)
    assert len(sampler.propose(state, 0, np.random.RandomState(3))) == 0


def test_latent_space_needs_codes():
    no_codes = MiningState(**{**two_blobs_state().__dict__, "latent_codes": None})
    with pytest.raises(ValueError, match="latent codes"):
        ClusterMarginSampler().propose(no_codes, 2, np.random.RandomState(0))
    assert len(ClusterMarginSampler("pca", n_components=2).propose(
        no_codes, 2, np.random.RandomState(0))) == 2


@pytest.mark.parametrize("params, match", [
    ({"space": "pixels"}, "space"),
    ({"n_uncertain": 0}, "n_uncertain"),
    ({"n_candidates": 1.5}, "n_candidates"),
])
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        ClusterMarginSampler(**params).propose(two_blobs_state(), 2, np.random.RandomState(0))


# Fast tests on fake nets (no training), written against mutmut's survivors.

class ProbaByMatch:
    """A classifier stand-in for a fixed pool: each row's two class probabilities are
    looked up by matching it to its pool row; the size of every pass is recorded."""

    def __init__(self, X_pool, margins):
        self.X_pool = np.asarray(X_pool)
        top = (1.0 + np.asarray(margins, dtype=np.float64)) / 2  # margin = 2 * top - 1
        self.proba = np.column_stack([top, 1 - top])
        self.batches = []

    def predict_proba(self, X):
        X = np.asarray(X)
        self.batches.append(len(X))
        same = X.reshape(len(X), 1, -1) == self.X_pool.reshape(1, len(self.X_pool), -1)
        return self.proba[same.all(axis=2).argmax(axis=1)]


def fake_state(X, margins, codes=None):
    """A MiningState over pool ``X`` with nothing labeled and the given margins."""
    X = np.asarray(X, dtype=np.float32)
    return MiningState(X_pool=X, latent_codes=codes, excluded=np.zeros(len(X), bool),
                       X_labeled=X[:0], y_labeled=np.empty(0),
                       z_labeled=None if codes is None else codes[:0],
                       net=ProbaByMatch(X, margins))


def test_latent_space_error_names_the_fix():
    no_codes = fake_state(np.arange(6)[:, None], np.linspace(0, 0.5, 6))
    message = ("ClusterMarginSampler(space='latent') needs the pool's latent codes: pass a "
               "generator to the estimator, or use space='pca'.")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ClusterMarginSampler().propose(no_codes, 2, np.random.RandomState(0))


@pytest.mark.parametrize("space", ["latent", "pca"])
def test_asking_for_nothing_gives_an_empty_integer_index(space):
    state = fake_state(np.arange(6)[:, None], np.linspace(0, 0.5, 6),
                       codes=np.arange(6.0)[:, None])
    proposal = ClusterMarginSampler(space).propose(state, 0, np.random.RandomState(0))
    assert proposal.indices.dtype == np.int64 and proposal.indices.shape == (0,)
    assert state.X_pool[proposal.indices].shape == (0, 1)  # usable as an index
    assert state.net.batches == []  # nothing judged


def test_batch_size_bounds_each_pass_of_the_net():
    state = fake_state(np.arange(8)[:, None], np.linspace(0, 0.7, 8),
                       codes=np.arange(8.0)[:, None])
    ClusterMarginSampler(n_candidates=8, batch_size=3).propose(
        state, 1, np.random.RandomState(0))
    assert state.net.batches == [3, 3, 2]


@pytest.mark.parametrize("space", ["latent", "pca"])
def test_proposal_carries_the_codes_and_the_stage_timings(space):
    blobs = two_blobs_state()
    proposal = ClusterMarginSampler(space, n_candidates=100, n_components=2).propose(
        blobs, 2, np.random.RandomState(0))
    assert proposal.indices.tolist() == [0, 100]
    np.testing.assert_array_equal(proposal.latent_codes, blobs.latent_codes[[0, 100]])
    assert set(proposal.timings) == {"judging", "clustering"}
    assert all(seconds >= 0 for seconds in proposal.timings.values())


@pytest.mark.parametrize("space", ["latent", "pca"])
def test_one_uncertain_per_pick_is_subsampled_margin_round_after_round(space):
    # one random stream for several rounds, as in a run: no extra draws may shift it
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    state = fake_state(X, rng.uniform(0, 1, 60), codes=rng.normal(size=(60, 2)))
    ours, control = np.random.RandomState(4), np.random.RandomState(4)
    stages = set()
    for _ in range(3):
        proposal = ClusterMarginSampler(space, n_candidates=4, n_uncertain=1,
                                        n_components=2).propose(state, 3, ours)
        expected = SubsampledMarginSampler(n_candidates=4).propose(state, 3, control)
        np.testing.assert_array_equal(proposal.indices, np.sort(expected.indices))
        stages |= set(proposal.timings)
    assert stages == {"judging"}  # nothing clustered


def test_pca_space_keeps_only_n_components():
    # The pool spreads along x, so the 1-D PCA space is x: there the four uncertain
    # rows pair up as {a, b}, {c, d}; in the full space (x, y) as {a, c}, {b, d}.
    spread = np.column_stack([np.linspace(-1000, 1000, 40), np.zeros(40)])
    uncertain = np.array([[-1, -10], [-1, 10], [1, -10], [1, 10]])  # a, b, c, d
    X = np.concatenate([uncertain, spread])
    margins = np.concatenate([[0.1, 0.2, 0.3, 0.4], np.full(40, 0.9)])
    state = fake_state(X, margins)
    for seed in range(3):
        one = ClusterMarginSampler("pca", n_candidates=100, n_uncertain=2, n_components=1)
        assert one.propose(state, 2, np.random.RandomState(seed)).indices.tolist() == [0, 2]
        full = ClusterMarginSampler("pca", n_candidates=100, n_uncertain=2, n_components=2)
        assert full.propose(state, 2, np.random.RandomState(seed)).indices.tolist() == [0, 1]


def test_pca_space_is_reproducible_from_the_round_seed():
    # points on a circle: every direction is a first principal component, so only
    # the PCA solver's seed decides which one the picks are spread along
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    state = fake_state(np.column_stack([np.cos(angles), np.sin(angles)]),
                       np.linspace(0, 0.5, 24))
    sampler = ClusterMarginSampler("pca", n_candidates=12, n_uncertain=12, n_components=1)
    for seed in range(3):
        runs = [sampler.propose(state, 2, np.random.RandomState(seed)).indices.tolist()
                for _ in range(5)]
        assert all(run == runs[0] for run in runs)


def test_picks_do_not_depend_on_the_dtype_of_the_codes():
    # evenly spaced 1-D codes tie k-means' distances; the clustering runs in float64,
    # so float32 codes and the same values as float64 split the ties alike
    codes = (0.3 * (np.arange(30) % 7)).astype(np.float32)[:, None]
    state32 = fake_state(np.arange(30)[:, None], np.linspace(0, 0.29, 30), codes=codes)
    state64 = fake_state(np.arange(30)[:, None], np.linspace(0, 0.29, 30),
                         codes=codes.astype(np.float64))
    sampler = ClusterMarginSampler(n_candidates=30, n_uncertain=10)
    for seed in range(10):
        np.testing.assert_array_equal(
            sampler.propose(state32, 3, np.random.RandomState(seed)).indices,
            sampler.propose(state64, 3, np.random.RandomState(seed)).indices)
