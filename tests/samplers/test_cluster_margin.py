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
