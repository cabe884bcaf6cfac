import numpy as np
import pytest

from hardsample.neighbors import LatentIndex, faiss_available, recall_at_k

from .conftest import importorskip_unless_ci

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


def test_auto_choice(monkeypatch):
    import hardsample.neighbors as neighbors

    assert LatentIndex().fit(np.zeros((10, 3))).method_ == "kdtree"
    expected = "faiss" if faiss_available() else "brute"
    assert LatentIndex().fit(np.zeros((10, 32))).method_ == expected
    # Without faiss: today's rule (brute force, pynndescent beyond BRUTE_MAX_POINTS).
    monkeypatch.setattr(neighbors, "faiss_available", lambda: False)
    assert LatentIndex().fit(np.zeros((10, 32))).method_ == "brute"
    assert LatentIndex().fit(np.zeros((10, 3))).method_ == "kdtree"


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


def test_nearest_available_exact_fallback_serves_every_query(codes, monkeypatch):
    """Past MAX_OVERFETCH the available points are ranked exactly: same picks."""
    import hardsample.neighbors as neighbors

    excluded = np.zeros(len(codes), dtype=bool)
    excluded[::2] = True
    queries = codes[:6] + 0.03
    expected = LatentIndex("kdtree").fit(codes).nearest_available(queries, excluded,
                                                                  counts=[3] * 6)
    monkeypatch.setattr(neighbors, "MAX_OVERFETCH", 4)
    picks = LatentIndex("kdtree").fit(codes).nearest_available(queries, excluded,
                                                               counts=[3] * 6)
    np.testing.assert_array_equal(picks, expected)


def test_recall_at_k_of_exact_index_is_one(codes):
    index = LatentIndex("brute").fit(codes)
    assert recall_at_k(index, codes, codes[:30] + 0.02, k=10) == 1.0


class _Fixed:
    """A stand-in index answering fixed neighbours, to check recall_at_k's counting."""

    def __init__(self, idx):
        self.idx = idx

    def kneighbors(self, Q, k):
        return self.idx[:, :k], None


def test_recall_at_k_counts_misses(codes):
    queries = codes[:2]
    exact, _ = LatentIndex("kdtree").fit(codes).kneighbors(queries, 4)
    found = exact.copy()
    found[0, 3] = -1  # one miss out of 8
    assert recall_at_k(_Fixed(found), codes, queries, k=4) == pytest.approx(7 / 8)


# ------------------------------------------------------------------------- faiss
@pytest.fixture(scope="module")
def codes32():
    # Clustered codes in 16 dimensions (like a VAE's), beyond the KD-tree's range.
    rng = np.random.RandomState(1)
    centers = rng.standard_normal((20, 16)) * 3
    return (centers[rng.randint(20, size=4000)] + rng.standard_normal((4000, 16))
            ).astype(np.float32)


def test_faiss_flat_is_exact(codes32):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    queries = codes32[:25] + 0.05
    index = LatentIndex("faiss").fit(codes32)
    assert not index.approximate_
    idx, dist = index.kneighbors(queries, 7)
    ref_idx, ref_dist = LatentIndex("kdtree").fit(codes32).kneighbors(queries, 7)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4, atol=1e-4)


def test_faiss_ivf_recall_and_exact_exclusion(codes32):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    queries = codes32[:50] + 0.05
    index = LatentIndex("faiss", exact_max_points=1000, n_lists=40, n_probe=8,
                        random_state=0).fit(codes32)
    assert index.approximate_
    assert recall_at_k(index, codes32, queries, k=10) >= 0.9
    # Visiting every cell is exhaustive: exact again.
    full = LatentIndex("faiss", exact_max_points=1000, n_lists=40, n_probe=40,
                       random_state=0).fit(codes32)
    assert recall_at_k(full, codes32, queries, k=10) == 1.0
    # Exclusion stays exact even where the probed cells run out of points.
    excluded = np.ones(len(codes32), dtype=bool)
    excluded[[5, 17, 3999]] = False
    tiny = LatentIndex("faiss", exact_max_points=1000, n_lists=40, n_probe=1,
                       random_state=0).fit(codes32)
    picks = tiny.nearest_available(queries[:3], excluded)
    assert sorted(picks) == [5, 17, 3999]


def test_faiss_ivf_is_reproducible_and_picklable(codes32):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    import pickle

    params = dict(exact_max_points=1000, n_lists=30, n_probe=4, random_state=3)
    a = LatentIndex("faiss", **params).fit(codes32)
    b = LatentIndex("faiss", **params).fit(codes32)
    queries = codes32[100:120] + 0.1
    np.testing.assert_array_equal(a.kneighbors(queries, 5)[0], b.kneighbors(queries, 5)[0])
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.kneighbors(queries, 5)[0], c.kneighbors(queries, 5)[0])
    excluded = np.zeros(len(codes32), dtype=bool)
    np.testing.assert_array_equal(a.nearest_available(queries, excluded),
                                  c.nearest_available(queries, excluded))


def test_faiss_bad_parameters(codes32):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    with pytest.raises(ValueError, match="n_probe"):
        LatentIndex("faiss", n_probe=0).fit(codes32)
    with pytest.raises(ValueError, match="n_lists"):
        LatentIndex("faiss", exact_max_points=10, n_lists=0).fit(codes32)
