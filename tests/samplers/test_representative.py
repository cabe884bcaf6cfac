import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from hardsample import Pool
from hardsample.samplers import MiningState, RepresentativeSampler
from hardsample.samplers.representative import pca_features, typicality

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
