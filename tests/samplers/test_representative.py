import re

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from hardsample import Pool
from hardsample.samplers import MiningState, RepresentativeSampler
from hardsample.samplers.representative import (PCA_FIT_MAX_SAMPLES, READ_BATCH, pca_features,
                                                 typicality)

from .test_uncertainty import check_picks, state  # noqa: F401  (fixture)


def _blobs(n_per_blob=40, centres=((0, 0), (20, 0), (0, 20), (20, 20)), seed=0):
    rng = np.random.RandomState(seed)
    X = np.concatenate([rng.normal(c, 1.0, (n_per_blob, 2)) for c in centres])
    return X.astype(np.float32), np.repeat(np.arange(len(centres)), n_per_blob)


def _state(X, excluded=None):
    excluded = np.zeros(len(X), bool) if excluded is None else excluded
    return MiningState(X_pool=X, latent_codes=X, excluded=excluded, X_labeled=X[excluded],
                       y_labeled=np.zeros(int(excluded.sum())), z_labeled=X[excluded], net=None)


@pytest.mark.parametrize("criterion", ["typicality", "centroid"])
@pytest.mark.parametrize("space", ["latent", "pca"])
@pytest.mark.parametrize("n", [1, 25])
def test_picks_unlabeled_distinct_and_sized(state, criterion, space, n):  # noqa: F811
    sampler = RepresentativeSampler(criterion=criterion, space=space, n_components=8)
    check_picks(state, sampler.propose(state, n, np.random.RandomState(0)), n)


@pytest.mark.parametrize("criterion", ["typicality", "centroid"])
def test_one_pick_per_blob(criterion):
    X, blob = _blobs()
    picks = RepresentativeSampler(criterion).propose(_state(X), 4, np.random.RandomState(0))
    assert sorted(blob[picks.indices]) == [0, 1, 2, 3]


def test_uncovered_blobs_first():
    X, blob = _blobs()
    excluded = np.isin(np.arange(len(X)), [0, 40])  # blobs 0 and 1 have labels
    picks = RepresentativeSampler().propose(_state(X, excluded), 2, np.random.RandomState(0))
    assert sorted(blob[picks.indices]) == [2, 3]


def test_typicality_picks_the_dense_core_not_the_outlier():
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(0, 0.1, (60, 2)), [[3.0, 3.0]]]).astype(np.float32)
    scores = typicality(X, n_neighbors=20)
    assert np.argmin(scores) == 60
    pick = RepresentativeSampler().propose(_state(X), 1, np.random.RandomState(0)).indices[0]
    assert np.linalg.norm(X[pick]) < 0.1  # a point of the core


def test_centroid_picks_the_member_nearest_the_centre():
    X = np.array([[-1.0, 0], [0.1, 0], [1.0, 0], [0, 0.9], [0, -0.8]], np.float32)
    pick = RepresentativeSampler("centroid").propose(_state(X), 1, np.random.RandomState(0))
    assert pick.indices.tolist() == [1]


def test_reproducible_and_seeded(state):  # noqa: F811
    sampler = RepresentativeSampler(space="pca", n_components=5)
    a = sampler.propose(state, 20, np.random.RandomState(3)).indices
    b = sampler.propose(state, 20, np.random.RandomState(3)).indices
    np.testing.assert_array_equal(a, b)


def test_pca_space_reads_a_lazy_pool_in_batches_like_the_array(state):  # noqa: F811
    X = np.asarray(state.X_pool)
    lazy = Pool(X, transform=lambda rows: rows)
    a = pca_features(X, 6, np.random.RandomState(0))
    b = pca_features(lazy, 6, np.random.RandomState(0))
    assert a.shape == (len(X), 6)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_space_decides_whether_the_latent_space_is_used():
    assert RepresentativeSampler().uses_latent_space
    assert not RepresentativeSampler(space="pca").uses_latent_space
    assert not RepresentativeSampler.needs_net


def test_latent_space_without_codes_is_a_clear_error(state):  # noqa: F811
    no_codes = MiningState(X_pool=state.X_pool, latent_codes=None, excluded=state.excluded,
                           X_labeled=state.X_labeled, y_labeled=state.y_labeled,
                           z_labeled=None, net=None)
    with pytest.raises(ValueError, match="latent codes.*space='pca'"):
        RepresentativeSampler().propose(no_codes, 3, np.random.RandomState(0))


@pytest.mark.parametrize("params", [{"criterion": "densest"}, {"space": "pixels"},
                                    {"n_components": 0}, {"n_neighbors": 0},
                                    {"max_clusters": 0}])
def test_bad_parameters(state, params):  # noqa: F811
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        RepresentativeSampler(**params).propose(state, 3, np.random.RandomState(0))


class RowsRead:
    """An array stand-in for a pool that records how many rows each read returns."""

    def __init__(self, X):
        self.X = np.asarray(X, dtype=np.float32)
        self.reads = []

    def __len__(self):
        return len(self.X)

    def __getitem__(self, key):
        rows = self.X[key]
        self.reads.append(len(rows))
        return rows


def test_pca_space_projects_the_pool_in_read_batches():
    pool = RowsRead(np.random.RandomState(0).normal(size=(2 * READ_BATCH + 1, 3)))
    features = pca_features(pool, 3, np.random.RandomState(0))
    assert features.shape == (len(pool), 3) and features.dtype == np.float32
    # one read for the fit rows, then the pool in ceil(n / READ_BATCH) batches
    assert pool.reads == [len(pool), READ_BATCH, READ_BATCH, 1]


def test_pca_fitted_on_a_sample_without_repeats_of_a_pool_just_over_the_cap():
    # 20,001 rows: the fit sample is all rows but one, so the projected pool is centred
    # to within 1 / 20,000 of the data's range; a sample drawn with repeats is not
    X = np.random.RandomState(0).uniform(0, 1, (PCA_FIT_MAX_SAMPLES + 1, 4))
    features = pca_features(X, 4, np.random.RandomState(0))
    assert np.linalg.norm(features.astype(np.float64).mean(axis=0)) < 1.5e-4


@pytest.mark.parametrize("n_neighbors", [1, 2, 20])
def test_typicality_is_the_inverse_mean_distance_to_the_nearest_others(n_neighbors):
    X = np.array([[0.0], [1.0], [1.9], [4.0]])
    distances = np.abs(X - X.T)
    nearest_others = np.sort(distances, axis=1)[:, 1:1 + n_neighbors]  # all 3 for 20
    np.testing.assert_allclose(typicality(X, n_neighbors),
                               1.0 / nearest_others.mean(axis=1), rtol=1e-9)


def test_typicality_of_two_rows_is_their_inverse_distance():
    np.testing.assert_allclose(typicality(np.array([[0.0], [0.5]]), 20), [2.0, 2.0])


def test_pca_space_needs_no_latent_codes():
    X, blob = _blobs()
    no_codes = MiningState(X_pool=X, latent_codes=None, excluded=np.zeros(len(X), bool),
                           X_labeled=X[:0], y_labeled=np.empty(0), z_labeled=None, net=None)
    proposal = RepresentativeSampler(space="pca", n_components=2).propose(
        no_codes, 4, np.random.RandomState(0))
    assert sorted(blob[proposal.indices]) == [0, 1, 2, 3]
    assert proposal.latent_codes is None


def test_latent_space_error_names_the_fix():
    X, _ = _blobs()
    no_codes = MiningState(X_pool=X, latent_codes=None, excluded=np.zeros(len(X), bool),
                           X_labeled=X[:0], y_labeled=np.empty(0), z_labeled=None, net=None)
    message = ("RepresentativeSampler(space='latent') needs the pool's latent codes: pass a "
               "generator to the estimator, or use space='pca'.")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        RepresentativeSampler().propose(no_codes, 3, np.random.RandomState(0))


def test_picks_do_not_depend_on_the_dtype_of_the_codes():
    # evenly spaced 1-D codes tie distances; the codes are used as float32, so float64
    # codes and their float32 values split the ties alike
    codes = (0.3 * (np.arange(30) % 7))[:, None]
    state64 = _state(codes)
    state32 = _state(codes.astype(np.float32))
    for criterion in ["typicality", "centroid"]:
        sampler = RepresentativeSampler(criterion, n_neighbors=3)
        for seed in range(10):
            np.testing.assert_array_equal(
                sampler.propose(state32, 3, np.random.RandomState(seed)).indices,
                sampler.propose(state64, 3, np.random.RandomState(seed)).indices)


def test_proposal_carries_the_codes_of_the_picks_and_the_stage_timings():
    X, _ = _blobs()
    proposal = RepresentativeSampler().propose(_state(X), 4, np.random.RandomState(0))
    np.testing.assert_array_equal(proposal.latent_codes, X[proposal.indices])
    assert set(proposal.timings) == {"features", "clustering", "picking"}
    assert all(seconds >= 0 for seconds in proposal.timings.values())


def test_clusters_under_five_samples_are_skipped():
    # three blobs and a far pair: the pair is a cluster of its own, but the fourth
    # label goes to a blob
    X, blob = _blobs(centres=((0, 0), (20, 0), (0, 20)))
    X = np.concatenate([X, [[60, 60], [60.5, 60]]]).astype(np.float32)
    proposal = RepresentativeSampler().propose(_state(X), 4, np.random.RandomState(0))
    assert (proposal.indices < len(blob)).all()
    assert set(blob[proposal.indices]) == {0, 1, 2}


def test_among_clusters_with_equally_few_labels_the_largest_comes_first():
    # blob 0 holds both labels; blobs 1, 2, 3 (40, 10, 20 samples) hold none
    X, blob = _blobs(n_per_blob=40)
    keep = (blob < 2) | ((blob == 2) & (np.arange(len(X)) % 40 < 10)) | (
        (blob == 3) & (np.arange(len(X)) % 40 < 20))
    X, blob = X[keep], blob[keep]
    excluded = np.isin(np.arange(len(X)), [0, 1])
    proposal = RepresentativeSampler().propose(_state(X, excluded), 2,
                                               np.random.RandomState(0))
    assert sorted(blob[proposal.indices]) == [1, 3]


def test_centroid_picks_the_member_nearest_the_centre_even_if_atypical():
    # two tight clumps and a lone point halfway: the lone point is the centre's
    # nearest member, and the least typical one
    X = np.array([[-1.01], [-1.0], [-0.99], [0.0], [0.99], [1.0], [1.01]], np.float32)
    centroid = RepresentativeSampler("centroid", n_neighbors=2).propose(
        _state(X), 1, np.random.RandomState(0))
    typical = RepresentativeSampler("typicality", n_neighbors=2).propose(
        _state(X), 1, np.random.RandomState(0))
    assert centroid.indices.tolist() == [3]
    assert typical.indices.tolist() != [3]


def test_asked_for_every_unlabeled_row_it_picks_them_all():
    # two clusters of 10 and 30: the small one runs out of members first
    X, _ = _blobs(n_per_blob=10, centres=((0, 0), (20, 0), (20, 1), (20, -1)))
    excluded = np.zeros(len(X), bool)
    excluded[[0, 15]] = True
    proposal = RepresentativeSampler(max_clusters=2).propose(_state(X, excluded), 38,
                                                             np.random.RandomState(0))
    np.testing.assert_array_equal(proposal.indices, np.flatnonzero(~excluded))


def test_max_clusters_caps_the_clusters_so_picks_can_share_one():
    # a tight blob and a loose one: in one cluster both picks are the tight blob's
    # most typical members; without the cap each blob is a cluster and gets one
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(0, 0.1, (40, 2)),
                        rng.normal(20, 2.0, (40, 2))]).astype(np.float32)
    capped = RepresentativeSampler(max_clusters=1).propose(_state(X), 2,
                                                           np.random.RandomState(0))
    free = RepresentativeSampler().propose(_state(X), 2, np.random.RandomState(0))
    assert (capped.indices < 40).all()
    assert sorted(free.indices // 40) == [0, 1]


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_pca_picks_do_not_depend_on_the_dtype_of_the_pool(dtype):
    # evenly spaced rows tie distances; the pool is projected as float32 whatever
    # its storage dtype, so the ties are split alike
    X = np.outer(np.arange(30) % 7, [1.0, 2.0, 2.0])
    state32 = _state(X.astype(np.float32))
    state_other = _state(X.astype(dtype))
    for criterion in ["typicality", "centroid"]:
        sampler = RepresentativeSampler(criterion, space="pca", n_components=2, n_neighbors=3)
        for seed in range(10):
            np.testing.assert_array_equal(
                sampler.propose(state32, 3, np.random.RandomState(seed)).indices,
                sampler.propose(state_other, 3, np.random.RandomState(seed)).indices)
