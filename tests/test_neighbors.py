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
                        random_state=0, recall=None).fit(codes32)
    assert index.approximate_
    assert recall_at_k(index, codes32, queries, k=10) >= 0.9
    # Visiting every cell is exhaustive: exact again.
    full = LatentIndex("faiss", exact_max_points=1000, n_lists=40, n_probe=40,
                       random_state=0, recall=None).fit(codes32)
    assert recall_at_k(full, codes32, queries, k=10) == 1.0
    # Exclusion stays exact even where the probed cells run out of points.
    excluded = np.ones(len(codes32), dtype=bool)
    excluded[[5, 17, 3999]] = False
    tiny = LatentIndex("faiss", exact_max_points=1000, n_lists=40, n_probe=1,
                       random_state=0, recall=None).fit(codes32)
    picks = tiny.nearest_available(queries[:3], excluded)
    assert sorted(picks) == [5, 17, 3999]


def test_faiss_ivf_is_reproducible_and_picklable(codes32):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    import pickle

    params = dict(exact_max_points=1000, n_lists=30, n_probe=4, random_state=3, recall=None)
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


@pytest.fixture(scope="module")
def gaussian16():
    # Codes like a VAE's: N(0, I), no clusters to help an approximate index.
    return np.random.RandomState(2).standard_normal((20_000, 16)).astype(np.float32)


@pytest.mark.parametrize("kind, param, target", [("ivf", "n_probe", 0.95),
                                                  ("hnsw", "ef_search", 0.995)])
def test_forced_approximate_index_meets_its_recall_target(gaussian16, kind, param, target):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    index = LatentIndex("faiss", faiss_index=kind, exact_max_points=1000, n_probe=1,
                        recall=target, random_state=0).fit(gaussian16)
    assert index.approximate_ and index.faiss_index_ == kind
    assert index.recall_ >= target and index.query_seconds_ > 0
    tried = [c for c in index.candidates_ if c["index"] == kind]
    # The search was widened step by step and stopped at the first setting that met it.
    assert len(tried) >= 2
    assert [c["recall"] >= target for c in tried] == [False] * (len(tried) - 1) + [True]
    assert [c[param] for c in tried] == sorted({c[param] for c in tried})
    assert index.search_params_ == {param: tried[-1][param]}
    assert index.recall_ == tried[-1]["recall"]
    # Measured on codes drawn from the index: other codes see about the same recall.
    others = gaussian16[np.random.RandomState(5).choice(len(gaussian16), 300, replace=False)]
    assert recall_at_k(index, gaussian16, others, k=10) >= target - 0.03


def test_auto_keeps_the_fastest_candidate_that_meets_the_target(gaussian16):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    index = LatentIndex("faiss", exact_max_points=1000, n_probe=1, recall=0.9,
                        random_state=0).fit(gaussian16)
    meeting = [c for c in index.candidates_ if c["recall"] >= 0.9]
    fastest = min(meeting, key=lambda c: c["query_seconds"])
    assert index.faiss_index_ == fastest["index"]
    assert index.query_seconds_ == fastest["query_seconds"] and index.recall_ >= 0.9
    assert index.candidates_[0]["index"] == "flat" and index.candidates_[0]["recall"] == 1.0
    assert index.approximate_ == (index.faiss_index_ != "flat")


def test_recall_none_keeps_the_index_as_configured(gaussian16):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    index = LatentIndex("faiss", exact_max_points=1000, n_lists=100, n_probe=2, recall=None,
                        random_state=0).fit(gaussian16)
    assert index.faiss_index_ == "ivf" and index.search_params_ == {"n_probe": 2}
    assert index.recall_ is None and index.query_seconds_ is None and index.candidates_ == []
    assert recall_at_k(index, gaussian16, gaussian16[:200], k=10) < 0.9  # not widened


def test_tuned_index_pickles_with_its_search_parameters(gaussian16):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    import pickle

    index = LatentIndex("faiss", faiss_index="ivf", exact_max_points=1000, n_probe=1,
                        random_state=0).fit(gaussian16)
    copy = pickle.loads(pickle.dumps(index))
    assert copy.search_params_ == index.search_params_ and copy.recall_ == index.recall_
    queries = gaussian16[:50] + 0.01
    np.testing.assert_array_equal(copy.kneighbors(queries, 10)[0], index.kneighbors(queries, 10)[0])


def test_exact_backends_report_full_recall(codes):
    index = LatentIndex("kdtree").fit(codes)
    assert index.recall_ == 1.0 and not index.approximate_ and index.candidates_ == []


def test_nndescent_meets_its_target_or_falls_back_to_exact(codes):
    index = LatentIndex("nndescent", recall=1.0, random_state=0).fit(codes)
    assert index.recall_ == 1.0 and index.candidates_
    assert index.method_ in ("nndescent", "brute")
    queries = codes[:40] + 0.01
    if index.method_ == "brute":
        assert not index.approximate_
    assert recall_at_k(index, codes, codes[:40], k=10) >= (1.0 if index.method_ == "brute"
                                                             else 0.9)
    assert index.kneighbors(queries, 3)[0].shape == (40, 3)


@pytest.mark.parametrize("recall", [0, 0.0, -0.5, 1.01, float("nan"), True, np.bool_(False),
                                    "0.9"])
def test_bad_recall_is_a_value_error(recall):
    with pytest.raises(ValueError, match="recall must be a number in \\(0, 1\\] or None"):
        LatentIndex(recall=recall).fit(np.zeros((5, 2)))


def test_bad_faiss_index_is_a_value_error():
    with pytest.raises(ValueError, match="faiss_index must be one of"):
        LatentIndex(faiss_index="lsh").fit(np.zeros((5, 2)))


# ---------------------------------------------------------------- fast-scan IVF
def _fastscan_steps(index):
    return [c for c in index.candidates_ if c["index"] == "ivf-fastscan"]


@pytest.mark.parametrize("dim", [16, 15])  # an odd dimension: faiss pads the PQ codes
def test_fastscan_meets_the_recall_it_reports(dim):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    from hardsample.neighbors import (FASTSCAN_K_FACTOR, FASTSCAN_NARROWER_K_FACTORS,
                                      FASTSCAN_RERANK_LOSS, _steps)

    rng = np.random.RandomState(dim)
    codes = rng.standard_normal((8000, dim)).astype(np.float32)
    index = LatentIndex("faiss", faiss_index="ivf-fastscan", exact_max_points=1000,
                        n_lists=60, recall=0.95, random_state=0).fit(codes)
    assert index.approximate_ and index.faiss_index_ == "ivf-fastscan"
    tried = _fastscan_steps(index)
    widened = [c for c in tried if c["k_factor"] == FASTSCAN_K_FACTOR]
    narrowed = tried[len(widened):]
    # n_probe widened along _steps, stopping at the first setting that met the target,
    assert [c["n_probe"] for c in widened] == list(_steps(60))[:len(widened)]
    assert [c["recall"] >= 0.95 for c in widened] == [False] * (len(widened) - 1) + [True]
    # then k_factor lowered at that n_probe while the recall held (the fastest kept).
    assert [c["k_factor"] for c in narrowed] == list(FASTSCAN_NARROWER_K_FACTORS[:len(narrowed)])
    assert {c["n_probe"] for c in narrowed} <= {widened[-1]["n_probe"]}
    floor = max(0.95, widened[-1]["recall"] - FASTSCAN_RERANK_LOSS)
    meeting = [c for c in [widened[-1]] + narrowed if c["recall"] >= floor]
    assert meeting == [widened[-1]] + narrowed[:len(meeting) - 1]
    assert len(meeting) == len(narrowed) + 1 or narrowed[-1]["recall"] < floor
    kept = min(meeting, key=lambda c: c["query_seconds"])
    assert index.search_params_ == {"n_probe": kept["n_probe"], "k_factor": kept["k_factor"]}
    assert index.recall_ == kept["recall"] >= 0.95 and index.query_seconds_ > 0
    # Fresh queries from the same distribution, against exact search.
    queries = rng.standard_normal((300, dim)).astype(np.float32)
    assert recall_at_k(index, codes, queries, k=10) >= 0.92
    # Re-ranked exactly: the distances returned are the true ones, in order.
    idx, dist = index.kneighbors(queries[:20], 10)
    true = np.sqrt(((queries[:20, None] - codes[idx]) ** 2).sum(-1))
    np.testing.assert_allclose(dist, true, rtol=1e-4, atol=1e-4)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_auto_skips_hnsw_when_fastscan_meets_the_target(gaussian16, monkeypatch):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    import hardsample.neighbors as neighbors

    # However many points IVF would scan, a fast-scan index that meets it is enough.
    monkeypatch.setattr(neighbors, "HNSW_WHEN_IVF_SCANS", 1)
    index = LatentIndex("faiss", exact_max_points=1000, recall=0.9,
                        random_state=0).fit(gaussian16)
    kinds = [c["index"] for c in index.candidates_]
    assert kinds[0] == "flat" and "ivf-fastscan" in kinds and "hnsw" not in kinds
    assert _fastscan_steps(index)[-1]["recall"] >= 0.9
    meeting = [c for c in index.candidates_ if c["recall"] >= 0.9]
    assert index.query_seconds_ == min(c["query_seconds"] for c in meeting)


def test_auto_builds_hnsw_when_fastscan_misses_the_target(gaussian16, monkeypatch):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    import hardsample.neighbors as neighbors

    monkeypatch.setattr(neighbors, "_steps", lambda last: iter([1]))  # one cell: misses
    monkeypatch.setattr(neighbors, "HNSW_WHEN_IVF_SCANS", 1)
    monkeypatch.setattr(neighbors, "HNSW_EF_SEARCH", (16, 64))
    index = LatentIndex("faiss", exact_max_points=1000, recall=0.9,
                        random_state=0).fit(gaussian16[:5000])
    assert [c["recall"] < 0.9 for c in _fastscan_steps(index)] == [True]  # no narrowing
    assert "hnsw" in [c["index"] for c in index.candidates_]
    assert index.faiss_index_ != "ivf-fastscan" and index.recall_ >= 0.9


def test_fastscan_needs_enough_codes():
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    from hardsample.neighbors import FASTSCAN_MIN_POINTS

    few = np.random.RandomState(0).standard_normal((FASTSCAN_MIN_POINTS - 1, 12))
    with pytest.raises(ValueError, match="ivf-fastscan' needs at least 16 codes"):
        LatentIndex("faiss", faiss_index="ivf-fastscan", exact_max_points=1).fit(few)
    # "auto" does not offer it there.
    index = LatentIndex("faiss", exact_max_points=1, n_lists=2, random_state=0).fit(few)
    assert "ivf-fastscan" not in [c["index"] for c in index.candidates_]
    with pytest.raises(ValueError, match="n_probe must be a positive int"):
        LatentIndex("faiss", faiss_index="ivf-fastscan", n_probe=0).fit(few)


def test_fastscan_as_configured_pickles_and_excludes_exactly(gaussian16):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    import pickle

    from hardsample.neighbors import FASTSCAN_K_FACTOR

    codes = gaussian16[:5000]
    index = LatentIndex("faiss", faiss_index="ivf-fastscan", exact_max_points=1000,
                        n_lists=50, n_probe=3, recall=None, random_state=0).fit(codes)
    assert index.search_params_ == {"n_probe": 3, "k_factor": FASTSCAN_K_FACTOR}
    assert index.recall_ is None and index.candidates_ == []
    copy = pickle.loads(pickle.dumps(index))
    assert copy.search_params_ == index.search_params_
    queries = codes[:30] + 0.01
    np.testing.assert_array_equal(copy.kneighbors(queries, 10)[0],
                                  index.kneighbors(queries, 10)[0])
    # Three cells hold fewer than 1,000 codes: -1 beyond, and exclusion stays exact.
    assert (index.kneighbors(queries[:2], 1000)[0] == -1).any()
    excluded = np.ones(len(codes), dtype=bool)
    excluded[[5, 17, 4999]] = False
    assert sorted(copy.nearest_available(queries[:3], excluded)) == [5, 17, 4999]


def test_faiss_search_in_blocks_matches_one_search(gaussian16, monkeypatch):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    import hardsample.neighbors as neighbors

    index = LatentIndex("faiss", faiss_index="ivf-fastscan", exact_max_points=1000,
                        n_probe=4, recall=None, random_state=0).fit(gaussian16[:5000])
    queries = gaussian16[:50] + 0.01
    whole = index.kneighbors(queries, 10)
    monkeypatch.setattr(neighbors, "SEARCH_BLOCK_ENTRIES", 7 * 10 * 32)  # 7 queries a block
    blocks = index.kneighbors(queries, 10)
    np.testing.assert_array_equal(blocks[0], whole[0])
    np.testing.assert_array_equal(blocks[1], whole[1])


def test_forced_fastscan_that_misses_the_target_falls_back_to_exact(gaussian16, monkeypatch):
    importorskip_unless_ci("faiss", reason="faiss-cpu is not installed (extra 'faiss')")
    import hardsample.neighbors as neighbors

    monkeypatch.setattr(neighbors, "_steps", lambda last: iter([1, 2]))  # too few cells
    codes = gaussian16[:3000]
    index = LatentIndex("faiss", faiss_index="ivf-fastscan", exact_max_points=100,
                        recall=0.99, random_state=0).fit(codes)
    assert [c["index"] for c in index.candidates_] == ["flat"] + ["ivf-fastscan"] * 2
    assert index.faiss_index_ == "flat" and not index.approximate_ and index.recall_ == 1.0
    assert recall_at_k(index, codes, codes[:40] + 0.01, k=10) == 1.0
