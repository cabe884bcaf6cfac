import numpy as np
import pytest

from hardsample.neighbors import LatentIndex

METHODS = ["kdtree", "brute", "nndescent"]


@pytest.fixture(scope="module")
def codes():
    return np.random.RandomState(0).standard_normal((500, 3)).astype(np.float32)


@pytest.mark.parametrize("method", ["kdtree", "brute"])
def test_exact_backends_agree_with_argsort(codes, method):
    queries = codes[:20] + 0.05
    index = LatentIndex(method=method).fit(codes)
    idx, dist = index.kneighbors(queries, 5)
    expected = np.argsort(((queries[:, None] - codes[None]) ** 2).sum(-1), axis=1)[:, :5]
    np.testing.assert_array_equal(idx, expected)
    assert np.all(np.diff(dist, axis=1) >= -1e-6)


def test_nndescent_recall(codes):
    index = LatentIndex(method="nndescent", random_state=0).fit(codes)
    idx, _ = index.kneighbors(codes[:50] + 0.01, 1)
    exact, _ = LatentIndex(method="kdtree").fit(codes).kneighbors(codes[:50] + 0.01, 1)
    assert (idx[:, 0] == exact[:, 0]).mean() >= 0.9


@pytest.mark.parametrize("method", METHODS)
def test_nearest_available_skips_excluded_and_taken(codes, method):
    index = LatentIndex(method=method, random_state=0).fit(codes)
    excluded = np.zeros(len(codes), dtype=bool)
    excluded[:250] = True
    # The same query three times: nearest, then next nearest, then the third.
    picks = index.nearest_available(np.repeat(codes[:1], 3, axis=0), excluded)
    assert len(set(picks)) == 3 and not excluded[picks].any()
    available = np.flatnonzero(~excluded)
    order = available[np.argsort(((codes[available] - codes[0]) ** 2).sum(1))]
    if method != "nndescent":
        np.testing.assert_array_equal(picks, order[:3])


def test_nearest_available_counts_and_exhaustion(codes):
    index = LatentIndex().fit(codes)
    excluded = np.ones(len(codes), dtype=bool)
    excluded[[7, 42, 99]] = False
    picks = index.nearest_available(codes[:2], excluded, counts=[2, 1])
    assert sorted(picks) == [7, 42, 99]
    with pytest.raises(ValueError, match="only 3 are available"):
        index.nearest_available(codes[:4], excluded)


def test_auto_choice():
    assert LatentIndex().fit(np.zeros((10, 3))).method_ == "kdtree"
    assert LatentIndex().fit(np.zeros((10, 32))).method_ == "brute"


def test_bad_input():
    with pytest.raises(ValueError, match="method"):
        LatentIndex(method="annoy").fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        LatentIndex().fit(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="non-empty"):
        LatentIndex().fit(np.zeros((0, 2)))
    index = LatentIndex().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="excluded"):
        index.nearest_available(np.zeros((1, 2)), np.zeros(5, dtype=bool))


def test_brute_merges_point_blocks(codes, monkeypatch):
    import hardsample.neighbors as neighbors

    monkeypatch.setattr(neighbors, "POINT_BLOCK", 64)
    queries = codes[:30] - 0.02
    idx, dist = LatentIndex(method="brute", batch_size=7).fit(codes).kneighbors(queries, 5)
    expected, expected_dist = LatentIndex(method="kdtree").fit(codes).kneighbors(queries, 5)
    np.testing.assert_array_equal(idx, expected)
    # cdist computes through matrix products in float32: distances agree to ~1e-4.
    np.testing.assert_allclose(dist, expected_dist, rtol=1e-3, atol=1e-4)
