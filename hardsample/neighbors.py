"""LatentIndex: nearest-neighbour search over a pool's latent codes.

Four backends, all queried the same way:

- ``"kdtree"``: exact, :class:`scipy.spatial.cKDTree`; the fastest for low latent
  dimensions (the paper's 3).
- ``"brute"``: exact, batched distance matrices in torch (on the given device).
- ``"nndescent"``: approximate, :mod:`pynndescent`; pays off for large pools in
  high dimensions. It compiles with numba on first use (tens of seconds), so it
  is imported only when chosen.
- ``"faiss"``: :mod:`faiss` (the optional extra ``hardsample[faiss]``, i.e.
  ``faiss-cpu``). Exact flat search (``IndexFlatL2``, the CPU's SIMD/BLAS path) up to
  ``exact_max_points`` points; beyond, an inverted-file index (``IndexIVFFlat``:
  ``n_lists`` k-means cells, ``n_probe`` of them visited per query, distances
  computed exactly within them), which is approximate: measure its recall against
  exact search with :func:`recall_at_k`. Two more approximate faiss indexes serve
  the recall target below: ``"ivf-fastscan"`` (the same cells, each code stored as
  one 4-bit product-quantizer code per dimension and scanned with SIMD lookup
  tables, ``IndexIVFPQFastScan``; the ``k_factor * k`` best by these approximate
  distances are re-ranked exactly, ``IndexRefineFlat``) and ``"hnsw"``
  (``IndexHNSWFlat``, a graph).

``method="auto"`` picks the KD-tree up to :data:`KDTREE_MAX_DIM` dimensions; above,
faiss when it is installed, else brute force up to :data:`BRUTE_MAX_POINTS` points
and pynndescent beyond.

An approximate index meets a recall target (``recall=0.95`` by default): at ``fit``
it measures recall@:data:`RECALL_K` on :data:`RECALL_QUERIES` queries drawn from the
indexed codes themselves, each query's own code left out of both its found and its
true neighbours (so it scores as a new code from the same distribution would),
against exact search, and widens its search (faiss IVF's and fast-scan IVF's
``n_probe``, faiss HNSW's ``efSearch``, pynndescent's ``epsilon``) until the target is
met, or falls back to exact search. With faiss, the fastest measured candidate that
meets the target is kept; ``recall_``, ``query_seconds_`` and ``candidates_`` say what
was measured. Candidates are built and measured cheapest first: exact flat search,
fast-scan IVF (its k-means shared with IVF), IVF (its sweep stops once slower than the
best so far), and HNSW last, only when neither IVF kind meets the target cheaply (see
:data:`HNSW_WHEN_IVF_SCANS`): building HNSW dominates such a fit (1M x 32 Gaussian
codes: 772 s on one shared core against about 15 s of CPU for the whole fit without
it; faiss uses every core it is given), and on those codes fast-scan IVF met the
target in 0.28 s of CPU per 1,000 queries (recall@10 0.963 on fresh queries) where
HNSW needed 1.44 s (``benchmarks/results/neighbors_recall.md``; HNSW's figures from
its run at commit 196c680, before fast-scan). Queries far from the codes (e.g. after
a long latent step) may see a lower recall than the one measured.

Whatever the backend, :meth:`LatentIndex.nearest_available` never returns an
excluded point: it over-fetches neighbours and filters, and falls back to an exact
ranking of the available points when over-fetching does not serve every query.
"""

import importlib.util
import math
import numbers
import time

import numpy as np
import torch
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._torch import resolve_device

KDTREE_MAX_DIM = 10
BRUTE_MAX_POINTS = 2_000_000
#: Points per distance block of the brute-force backend.
POINT_BLOCK = 65_536
#: faiss: exact flat search up to this many points (the default of ``exact_max_points``).
FAISS_EXACT_MAX_POINTS = 200_000
#: faiss IVF: training points per k-means cell (a sample of the codes, seeded).
IVF_TRAIN_PER_LIST = 64
#: nearest_available: largest over-fetch before the exact ranking of available points.
MAX_OVERFETCH = 65_536
#: Distance entries per block of the exact ranking of available points.
RANK_BLOCK_ENTRIES = 2 ** 25
METHODS = ("auto", "kdtree", "brute", "nndescent", "faiss")
FAISS_INDEXES = ("auto", "flat", "ivf", "ivf-fastscan", "hnsw")
#: Recall tuning: neighbours per query (the k of recall@k).
RECALL_K = 10
#: Recall tuning: queries drawn from the indexed codes (fewer when there are fewer codes).
RECALL_QUERIES = 300
#: faiss HNSW: links per node (``M``); ``efSearch`` tried in this order.
HNSW_M = 32
HNSW_EF_SEARCH = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
#: faiss "auto": HNSW is built only when fast-scan IVF does not meet the target (or is
#: not offered) and IVF, to meet it, scans more points than this per query (an HNSW
#: query with ``efSearch`` ~128 computes about as many distances).
HNSW_WHEN_IVF_SCANS = 20_000
#: faiss fast-scan IVF: bits per product-quantizer code (fast-scan supports only 4).
FASTSCAN_BITS = 4
#: faiss fast-scan IVF: candidates re-ranked exactly per neighbour asked for (``k_factor``)
#: while ``n_probe`` is widened; once the target is met, the narrower ones of
#: :data:`FASTSCAN_NARROWER_K_FACTORS` are measured in turn while the recall stays within
#: :data:`FASTSCAN_RERANK_LOSS` of the widest's (re-ranking fewer candidates costs less;
#: the fastest measured is kept).
FASTSCAN_K_FACTOR = 32
FASTSCAN_NARROWER_K_FACTORS = (16, 8, 4)
#: faiss fast-scan IVF: recall a narrower ``k_factor`` may lose. Narrowing only trims the
#: re-ranking's slack; it does not spend the margin above the target, which n_probe set
#: (a recall measured on 300 queries is itself uncertain by about 0.004).
FASTSCAN_RERANK_LOSS = 0.005
#: faiss fast-scan IVF: fewest codes it is built on (its quantizer has 16 centroids per
#: dimension); "auto" does not offer it below.
FASTSCAN_MIN_POINTS = 2 ** FASTSCAN_BITS
#: faiss search: largest (queries x candidates) block searched at once, for memory.
SEARCH_BLOCK_ENTRIES = 2 ** 22
#: pynndescent: query ``epsilon`` tried in this order.
NNDESCENT_EPSILON = (0.1, 0.2, 0.4, 0.8)


def faiss_available():
    """Whether :mod:`faiss` can be imported (without importing it)."""
    return importlib.util.find_spec("faiss") is not None


def _import_faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "LatentIndex(method='faiss') needs faiss: pip install 'hardsample[faiss]' "
            "(or faiss-cpu)."
        ) from exc
    return faiss


def recall_at_k(index, codes, queries, k=10):
    """Recall@k of ``index`` against exact search over the same ``codes``.

    The fraction of each query's true ``k`` nearest codes (exact, by a faiss flat
    index when faiss is installed, else by blocks of brute-force distances) that
    ``index.kneighbors(queries, k)`` returns, averaged over the queries.

    Parameters
    ----------
    index : LatentIndex
        Fitted on ``codes``.
    codes : array-like of shape (n_points, latent_dim)
    queries : array-like of shape (n_queries, latent_dim)
    k : int, default=10

    Returns
    -------
    recall : float in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.neighbors import LatentIndex, recall_at_k
    >>> codes = np.random.RandomState(0).standard_normal((300, 4))
    >>> recall_at_k(LatentIndex("kdtree").fit(codes), codes, codes[:20] + 0.1, k=5)
    1.0
    """
    codes = np.ascontiguousarray(codes, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, codes.shape[1])
    k = int(min(k, len(codes)))
    found, _ = index.kneighbors(queries, k)
    exact = _exact_knn(codes, queries, k)
    hits = [len(np.intersect1d(a[a >= 0], b)) for a, b in zip(found, exact)]
    return float(np.sum(hits) / (k * len(queries))) if len(queries) else 1.0


def _exact_knn(codes, queries, k):
    if faiss_available():
        faiss = _import_faiss()
        flat = faiss.IndexFlatL2(codes.shape[1])
        flat.add(codes)
        return flat.search(queries, k)[1]
    return _rank_available(queries, codes, np.arange(len(codes)), k)


def _rank_available(Q, points, available, m):
    """The ``m`` nearest of ``points[available]`` to each query, exactly, in order.

    Distances by the expansion ``|q|^2 - 2 q.p + |p|^2`` in float32, ranked with a
    stable sort (ties in index order); queries are processed in blocks so the
    distance matrix stays under :data:`RANK_BLOCK_ENTRIES` entries.
    """
    sub = points[available]
    m = int(min(m, len(available)))
    norms = (sub ** 2).sum(1)[None, :]
    block = max(1, RANK_BLOCK_ENTRIES // max(1, len(available)))
    out = np.empty((len(Q), m), dtype=np.int64)
    for start in range(0, len(Q), block):
        q = Q[start:start + block]
        sq = (q ** 2).sum(1)[:, None] - 2 * q @ sub.T + norms
        if m < len(available):
            part = np.argpartition(sq, m - 1, axis=1)[:, :m]
            # Stable order among the m kept: by distance, then by index.
            part.sort(axis=1)
            order = np.argsort(np.take_along_axis(sq, part, 1), axis=1, kind="stable")
            out[start:start + block] = available[np.take_along_axis(part, order, 1)]
        else:
            out[start:start + block] = available[np.argsort(sq, axis=1, kind="stable")]
    return out


class LatentIndex(BaseEstimator):
    """Nearest-neighbour index over latent codes that can skip excluded points.

    Parameters
    ----------
    method : {"auto", "kdtree", "brute", "nndescent", "faiss"}, default="auto"
        ``"auto"``: the KD-tree up to :data:`KDTREE_MAX_DIM` dimensions; above, faiss
        when installed, else brute force up to :data:`BRUTE_MAX_POINTS` points and
        pynndescent beyond.
    device : str or torch.device, default="cpu"
        Device of the brute-force backend.
    batch_size : int, default=1024
        Queries per distance-matrix block of the brute-force backend.
    random_state : int or None, default=None
        Seed of pynndescent's graph construction and of the sample faiss's IVF
        k-means is trained on.
    exact_max_points : int, default=200_000
        faiss: exact flat search (``IndexFlatL2``) up to this many points, an IVF
        index (``IndexIVFFlat``, approximate) beyond.
    n_lists : int or None, default=None
        faiss IVF: number of k-means cells; None: ``round(sqrt(n_points))``. The
        k-means is trained on at most ``64 * n_lists`` codes drawn with
        ``random_state``.
    n_probe : int, default=32
        faiss IVF and fast-scan IVF: cells visited per query when ``recall`` is
        None. With ``recall`` set, IVF tries 1, 2, 4, ... cells and fast-scan IVF
        1, 2, 3, 4, 6, 8, 12, ... cells until the target is met. More cells: higher
        recall, slower queries (measure with :func:`recall_at_k`).
    recall : float in (0, 1] or None, default=0.95
        Recall@:data:`RECALL_K` an approximate index must reach, measured at
        ``fit`` on :data:`RECALL_QUERIES` queries drawn from the indexed codes
        (seeded by ``random_state``; each query's own code left out) against exact
        search. The search is widened until the target is met, or exact search is
        used. With faiss beyond ``exact_max_points`` points, the fastest measured
        candidate that meets it is kept (of those below), so the choice can differ
        between machines. None: no measurement, the index as configured
        (``n_probe``, pynndescent's defaults).

        Candidates are measured in this order: exact flat search, fast-scan IVF
        (offered from :data:`FASTSCAN_MIN_POINTS` codes), IVF (its sweep stops at
        the first setting slower than the best so far), then HNSW, built only when
        fast-scan IVF did not meet the target and IVF did not meet it while scanning
        at most :data:`HNSW_WHEN_IVF_SCANS` points per query. HNSW's build costs
        minutes per million codes on one core, the others seconds, so ``fit``
        pays for it only when it is the one hope of a fast index.
    faiss_index : {"auto", "flat", "ivf", "ivf-fastscan", "hnsw"}, default="auto"
        faiss beyond ``exact_max_points`` points: ``"auto"`` chooses as ``recall``
        says (IVF when ``recall`` is None); the others force that index (its
        search widened to meet ``recall``; exact flat search where it cannot).
        ``"ivf-fastscan"``: the IVF cells, one 4-bit product-quantizer code per
        dimension (any dimension; faiss pads an odd count), scanned with SIMD
        lookup tables, then the best ``k_factor`` x k re-ranked by exact distance
        (``k_factor``: :data:`FASTSCAN_K_FACTOR` while ``n_probe`` is widened, then
        lowered while the recall holds, the fastest kept); it needs at least
        :data:`FASTSCAN_MIN_POINTS` codes.

    Attributes
    ----------
    method_ : str
        The backend in use.
    faiss_index_ : {"flat", "ivf", "ivf-fastscan", "hnsw"} or None
        The faiss index in use (None for the other backends).
    search_params_ : dict
        The search parameters in use: ``{"n_probe": ...}`` (IVF),
        ``{"n_probe": ..., "k_factor": ...}`` (fast-scan IVF), ``{"ef_search": ...}``
        (HNSW), ``{"epsilon": ...}`` (pynndescent), or ``{}``.
    approximate_ : bool
        Whether the backend may miss true neighbours (pynndescent, faiss IVF,
        fast-scan IVF or HNSW).
    recall_ : float or None
        Recall@k measured at ``fit`` (k = ``min(RECALL_K, n_points - 1)``, each
        query's own code left out); 1.0 for an
        exact backend (not measured); None for an approximate one fitted with
        ``recall=None``.
    query_seconds_ : float or None
        Measured seconds per 1,000 queries of the index in use (None where nothing
        was measured: exact backends other than faiss's tuned fallback, or
        ``recall=None``).
    candidates_ : list of dict
        Every configuration measured at ``fit``: ``index``, its parameters,
        ``recall`` and ``query_seconds`` (per 1,000 queries), in the order tried.
    n_points_ : int
    dim_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.neighbors import LatentIndex
    >>> index = LatentIndex().fit(np.array([[0.0], [1.0], [2.0]]))
    >>> index.nearest_available([[0.9], [0.9]], excluded=np.array([False, False, True]))
    array([1, 0])
    """

    def __init__(self, method="auto", *, device="cpu", batch_size=1024, random_state=None,
                 exact_max_points=FAISS_EXACT_MAX_POINTS, n_lists=None, n_probe=32,
                 recall=0.95, faiss_index="auto"):
        self.method = method
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state
        self.exact_max_points = exact_max_points
        self.n_lists = n_lists
        self.n_probe = n_probe
        self.recall = recall
        self.faiss_index = faiss_index

    def fit(self, Z):
        """Index the latent codes ``Z`` of shape (n_points, latent_dim)."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}.")
        Z = np.ascontiguousarray(Z, dtype=np.float32)
        if Z.ndim != 2 or len(Z) == 0:
            raise ValueError(f"Z must be a non-empty 2-D array, got shape {Z.shape}.")
        if not np.isfinite(Z).all():
            raise ValueError("Z holds NaN or infinite latent codes.")
        _check_recall(self.recall)
        if self.faiss_index not in FAISS_INDEXES:
            raise ValueError(f"faiss_index must be one of {FAISS_INDEXES}, got "
                             f"{self.faiss_index!r}.")
        self.method_ = self._choose(Z.shape) if self.method == "auto" else self.method
        self.n_points_, self.dim_ = Z.shape
        self.approximate_ = False
        self.faiss_index_, self.search_params_, self.candidates_ = None, {}, []
        self.recall_, self.query_seconds_ = 1.0, None
        for name in ("_tree", "_points", "_graph", "_faiss", "_codes", "_quantizer"):
            self.__dict__.pop(name, None)
        if self.method_ == "kdtree":
            self._tree = cKDTree(Z)
        elif self.method_ == "brute":
            self._points = torch.as_tensor(Z, device=resolve_device(self.device))
        elif self.method_ == "faiss":
            self._codes = Z
            self._fit_faiss(Z)
        else:
            self._fit_nndescent(Z)
        return self

    def _recall_queries(self, Z):
        """Codes drawn as queries (seeded), their positions, and k + 1 (k plus themselves)."""
        rng = np.random.RandomState(self.random_state)
        n = len(Z)
        rows = np.sort(rng.choice(n, min(n, RECALL_QUERIES), replace=False))
        return Z[rows], rows, int(min(RECALL_K, n - 1)) + 1

    def _sweep(self, name, index, settings, measured, best, forced):
        """Widen the search of ``index`` through ``settings`` until recall meets the target.

        ``settings`` are dicts of search parameters (see :func:`_apply_search_params`),
        narrowest first. Returns the best candidate so far (this one when it meets the
        target faster than ``best``, or at all when ``forced``) and the setting that
        met the target (None if none did). Stops early once a setting is slower than
        ``best``.
        """
        queries, truth, k = measured
        for params in settings:
            _apply_search_params(index, name, params)
            record = self._measure(lambda q, k: index.search(q, k)[1], queries, truth, k,
                                   index=name, **params)
            too_slow = record["query_seconds"] >= best["query_seconds"] and not forced
            if record["recall"] >= self.recall:
                if not too_slow:
                    best = dict(index=name, params=dict(params), obj=index,
                                recall=record["recall"], query_seconds=record["query_seconds"])
                return best, params
            if too_slow:
                break
        return best, None

    def _narrow_rerank(self, index, met, measured, best):
        """Lower fast-scan's ``k_factor`` below ``met``'s while the recall holds.

        It holds while it meets the target and loses at most
        :data:`FASTSCAN_RERANK_LOSS` against ``met``'s. Each setting that holds
        replaces ``best`` when measured faster, as in :meth:`_sweep`.
        """
        queries, truth, k = measured
        # met was measured last (_sweep returns on the setting that meets the target).
        floor = max(self.recall, self.candidates_[-1]["recall"] - FASTSCAN_RERANK_LOSS)
        for k_factor in FASTSCAN_NARROWER_K_FACTORS:
            if k_factor >= met["k_factor"]:
                continue
            params = dict(met, k_factor=k_factor)
            _apply_search_params(index, "ivf-fastscan", params)
            record = self._measure(lambda q, k: index.search(q, k)[1], queries, truth, k,
                                   index="ivf-fastscan", **params)
            if record["recall"] < floor:
                break
            if record["query_seconds"] < best["query_seconds"]:
                best = dict(index="ivf-fastscan", params=params, obj=index,
                            recall=record["recall"], query_seconds=record["query_seconds"])
        return best

    def _measure(self, search, queries, truth, k, **record):
        """Time ``search(queries, k)`` and score it against ``truth``; append a candidate.

        ``truth`` is ``(rows, exact)``: the queries' own positions, left out of both
        the found and the exact neighbours before counting.
        """
        start = time.perf_counter()
        found = search(queries, k)
        seconds = (time.perf_counter() - start) * 1000 / len(queries)
        rows, exact = truth
        record.update(recall=_recall(_without(found, rows), _without(exact, rows)),
                      query_seconds=seconds)
        self.candidates_.append(record)
        return record

    def _fit_nndescent(self, Z):
        from pynndescent import NNDescent  # numba compiles on first import

        self._graph = NNDescent(Z, n_neighbors=30, random_state=self.random_state)
        self._graph.prepare()
        self.approximate_, self.recall_ = True, None
        self.search_params_ = {"epsilon": NNDESCENT_EPSILON[0]}
        if self.recall is None:
            return
        queries, rows, k = self._recall_queries(Z)
        truth = rows, _exact_knn(Z, queries, k)
        for epsilon in NNDESCENT_EPSILON:
            record = self._measure(
                lambda q, k: self._graph.query(q, k=k, epsilon=epsilon)[0], queries, truth, k,
                index="nndescent", epsilon=epsilon)
            if record["recall"] >= self.recall:
                self.search_params_ = {"epsilon": epsilon}
                self.recall_, self.query_seconds_ = record["recall"], record["query_seconds"]
                return
        # pynndescent cannot meet the target: exact brute force instead.
        del self._graph
        self.method_, self.approximate_, self.search_params_ = "brute", False, {}
        self.recall_ = 1.0
        self._points = torch.as_tensor(Z, device=resolve_device(self.device))

    @staticmethod
    def _choose(shape):
        n_points, dim = shape
        if dim <= KDTREE_MAX_DIM:
            return "kdtree"
        if faiss_available():
            return "faiss"
        return "brute" if n_points <= BRUTE_MAX_POINTS else "nndescent"

    def _fit_faiss(self, Z):
        faiss = _import_faiss()
        n, dim = Z.shape
        for name in ("exact_max_points", "n_probe"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        n_lists = self.n_lists if self.n_lists is not None else int(round(np.sqrt(n)))
        if isinstance(n_lists, bool) or not isinstance(n_lists, numbers.Integral) \
                or not 1 <= n_lists <= n:
            raise ValueError(f"n_lists must be an int in [1, n_points={n}], got {n_lists!r}.")
        kind = self.faiss_index
        if kind == "ivf-fastscan" and n < FASTSCAN_MIN_POINTS:
            raise ValueError(f"faiss_index='ivf-fastscan' needs at least {FASTSCAN_MIN_POINTS} "
                             f"codes to train its {FASTSCAN_BITS}-bit quantizer, got {n}.")
        if kind == "flat" or (kind == "auto" and n <= self.exact_max_points):
            return self._use_faiss(_flat(faiss, Z), "flat", {})
        n_lists = int(n_lists)
        if self.recall is None:
            if kind == "hnsw":
                return self._use_faiss(_hnsw(faiss, Z), "hnsw",
                                       {"ef_search": HNSW_EF_SEARCH[3]}, approximate=True)
            quantizer, train = _ivf_quantizer(faiss, Z, n_lists, self.random_state)
            n_probe = int(min(self.n_probe, n_lists))
            if kind == "ivf-fastscan":
                return self._use_faiss(_ivf_fastscan(faiss, Z, quantizer, train),
                                       "ivf-fastscan",
                                       {"n_probe": n_probe, "k_factor": FASTSCAN_K_FACTOR},
                                       approximate=True)
            return self._use_faiss(_ivf(faiss, Z, quantizer), "ivf", {"n_probe": n_probe},
                                   approximate=True)
        self._tune_faiss(faiss, Z, n_lists, kind)

    def _tune_faiss(self, faiss, Z, n_lists, kind):
        """Measure flat, fast-scan IVF, IVF and HNSW candidates; keep the fastest that
        meets ``recall`` (the order and when HNSW is built: see the class docstring).

        Only the best index so far is kept while the next one is built (each holds a
        copy of the codes; flat search is rebuilt at the end if it wins)."""
        queries, rows, k = self._recall_queries(Z)
        flat = _flat(faiss, Z)
        start = time.perf_counter()
        truth = rows, flat.search(queries, k)[1]
        flat_seconds = (time.perf_counter() - start) * 1000 / len(queries)
        del flat
        self.candidates_.append(dict(index="flat", recall=1.0, query_seconds=flat_seconds))
        best = dict(index="flat", params={}, query_seconds=flat_seconds, recall=1.0, obj=None)
        forced = kind != "auto"
        measured = queries, truth, k
        fastscan_met, ivf_scans = None, None
        if kind in ("auto", "ivf", "ivf-fastscan"):
            quantizer, train = _ivf_quantizer(faiss, Z, n_lists, self.random_state)
        if kind == "ivf-fastscan" or (kind == "auto" and len(Z) >= FASTSCAN_MIN_POINTS):
            fastscan = _ivf_fastscan(faiss, Z, faiss.clone_index(quantizer), train)
            best, fastscan_met = self._sweep(
                "ivf-fastscan", fastscan,
                [{"n_probe": p, "k_factor": FASTSCAN_K_FACTOR} for p in _steps(n_lists)],
                measured, best, forced)
            if fastscan_met is not None:
                best = self._narrow_rerank(fastscan, fastscan_met, measured, best)
            del fastscan  # freed unless best
        if kind in ("auto", "ivf"):
            ivf = _ivf(faiss, Z, quantizer)
            best, met = self._sweep("ivf", ivf, [{"n_probe": p} for p in _doubling(1, n_lists)],
                                    measured, best, forced)
            ivf_scans = None if met is None else met["n_probe"] / n_lists * len(Z)
            del ivf
        if kind == "hnsw" or (kind == "auto" and fastscan_met is None
                              and (ivf_scans is None or ivf_scans > HNSW_WHEN_IVF_SCANS)):
            hnsw = _hnsw(faiss, Z)
            best, _ = self._sweep("hnsw", hnsw,
                                  [{"ef_search": ef} for ef in HNSW_EF_SEARCH if ef >= k],
                                  measured, best, forced)
        self._use_faiss(_flat(faiss, Z) if best["obj"] is None else best["obj"], best["index"],
                        best["params"], approximate=best["index"] != "flat")
        self.recall_, self.query_seconds_ = best["recall"], best["query_seconds"]

    def _use_faiss(self, index, kind, params, approximate=False):
        self._faiss, self.faiss_index_ = index, kind
        self.search_params_ = dict(params)
        self.approximate_ = approximate
        _apply_search_params(index, kind, params)
        if approximate:
            self.recall_ = None

    def kneighbors(self, Q, k):
        """Indices and distances of the ``k`` nearest indexed points of each query.

        Approximate backends may return fewer than ``k`` neighbours for a query:
        the missing entries have index -1 and distance ``inf``.

        Returns
        -------
        indices : ndarray of shape (n_queries, k), int64
        distances : ndarray of shape (n_queries, k), float32
        """
        check_is_fitted(self, "method_")
        Q = np.ascontiguousarray(Q, dtype=np.float32).reshape(-1, self.dim_)
        k = int(min(k, self.n_points_))
        if len(Q) == 0:
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        if self.method_ == "kdtree":
            dist, idx = self._tree.query(Q, k=k, workers=-1)
            idx, dist = idx.reshape(len(Q), k), dist.reshape(len(Q), k)
        elif self.method_ == "brute":
            idx, dist = self._brute(Q, k)
        elif self.method_ == "faiss":
            sq, idx = self._faiss_search(Q, k)
            dist = np.where(idx >= 0, np.sqrt(np.maximum(sq, 0.0)), np.inf)
        else:
            idx, dist = self._graph.query(Q, k=k, **self.search_params_)
        return idx.astype(np.int64), dist.astype(np.float32)

    def _faiss_search(self, Q, k):
        """faiss search in blocks of queries, so that the candidates held at once (k, or
        ``k_factor * k`` before fast-scan's re-ranking) stay under
        :data:`SEARCH_BLOCK_ENTRIES`."""
        per_query = k * self.search_params_.get("k_factor", 1)
        block = max(1, SEARCH_BLOCK_ENTRIES // max(1, per_query))
        if block >= len(Q):
            return self._faiss.search(Q, k)
        parts = [self._faiss.search(Q[start:start + block], k)
                 for start in range(0, len(Q), block)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _brute(self, Q, k):
        """Exact k-NN by blocks of queries x points, merging partial top-k lists.

        Blocks keep the distance matrix at ``batch_size x POINT_BLOCK`` entries, so
        memory stays flat whatever the pool size.
        """
        points = self._points
        indices, distances = [], []
        for start in range(0, len(Q), self.batch_size):
            q = torch.as_tensor(Q[start:start + self.batch_size], device=points.device)
            best_d = best_i = None
            for offset in range(0, len(points), POINT_BLOCK):
                block = points[offset:offset + POINT_BLOCK]
                d, i = torch.topk(torch.cdist(q, block), min(k, len(block)), dim=1,
                                  largest=False)
                i = i + offset
                if best_d is not None:
                    d, order = torch.topk(torch.cat([best_d, d], 1), k, dim=1, largest=False)
                    i = torch.gather(torch.cat([best_i, i], 1), 1, order)
                best_d, best_i = d, i
            indices.append(best_i.cpu().numpy())
            distances.append(best_d.cpu().numpy())
        return np.concatenate(indices), np.concatenate(distances)

    def nearest_available(self, Q, excluded, counts=None):
        """Greedily give each query its nearest points that are not excluded.

        Queries are served in order; a point taken by an earlier query (or marked in
        ``excluded``) is skipped and the next nearest one is taken, so the result has
        no duplicates and never contains an excluded point.

        Parameters
        ----------
        Q : array-like of shape (n_queries, latent_dim)
        excluded : ndarray of bool of shape (n_points,)
            Points that may not be returned (e.g. already labeled).
        counts : array-like of int of shape (n_queries,), default=None
            How many points each query takes (1 each by default).

        Returns
        -------
        indices : ndarray of int64 of shape (sum(counts),)
            Grouped by query, in query order.
        """
        check_is_fitted(self, "method_")
        Q = np.ascontiguousarray(Q, dtype=np.float32).reshape(-1, self.dim_)
        counts = np.ones(len(Q), dtype=int) if counts is None else np.asarray(counts, dtype=int)
        taken = np.array(excluded, dtype=bool, copy=True)
        if taken.shape != (self.n_points_,):
            raise ValueError(f"excluded must have shape ({self.n_points_},), got {taken.shape}.")
        n_available = int((~taken).sum())
        if counts.sum() > n_available:
            raise ValueError(
                f"Asked for {counts.sum()} points but only {n_available} are available."
            )
        chosen = [[] for _ in range(len(Q))]
        pending = np.flatnonzero(counts > 0)
        k = int(min(self.n_points_, max(8, 2 * counts.max(initial=1))))
        exhausted = False
        while len(pending):
            if exhausted or k >= self.n_points_ or k > MAX_OVERFETCH:
                # Last resort: rank the available points exactly, so every query is served.
                m = int(counts[pending].sum())
                neighbors = _rank_available(Q[pending], self._points_array(),
                                            np.flatnonzero(~taken), m)
            else:
                neighbors, _ = self.kneighbors(Q[pending], k)
                # An approximate index may run out of candidates before k.
                exhausted = bool((neighbors < 0).any())
            unserved = []
            for row, query in enumerate(pending):
                for point in neighbors[row]:
                    if len(chosen[query]) == counts[query]:
                        break
                    if point >= 0 and not taken[point]:
                        taken[point] = True
                        chosen[query].append(point)
                if len(chosen[query]) < counts[query]:
                    unserved.append(query)
            pending = np.asarray(unserved, dtype=int)
            k = min(self.n_points_, 4 * k)
        return np.asarray([p for group in chosen for p in group], dtype=np.int64)

    def _points_array(self):
        """The indexed codes as an ndarray (shared, not copied, where possible)."""
        if self.method_ == "nndescent":
            return np.asarray(self._graph._raw_data, dtype=np.float32)
        if self.method_ == "kdtree":
            return self._tree.data
        if self.method_ == "faiss":
            return self._codes
        return self._points.cpu().numpy()

    # faiss indexes are SWIG objects: pickle them through faiss's own serialisation.
    def __getstate__(self):
        state = self.__dict__.copy()
        if "_faiss" in state:
            state["_faiss"] = _import_faiss().serialize_index(state["_faiss"])
            state.pop("_quantizer", None)
        return state

    def __setstate__(self, state):
        if "_faiss" in state:
            state["_faiss"] = _import_faiss().deserialize_index(state["_faiss"])
            _apply_search_params(state["_faiss"], state.get("faiss_index_"),
                                 state.get("search_params_", {}))
        self.__dict__.update(state)


def _check_recall(recall):
    if recall is None:
        return
    if isinstance(recall, (bool, np.bool_)) or not isinstance(recall, numbers.Real) \
            or math.isnan(recall) or not 0.0 < recall <= 1.0:
        raise ValueError(f"recall must be a number in (0, 1] or None, got {recall!r}.")


def _without(ids, rows):
    """Each row of ``ids`` without ``rows[i]`` (its query's own code), cut to one fewer column."""
    keep = np.argsort(ids == np.asarray(rows)[:, None], axis=1, kind="stable")[:, :-1]
    return np.take_along_axis(ids, keep, 1)


def _recall(found, truth):
    """Mean fraction of each row of ``truth`` found in the same row of ``found``."""
    k = truth.shape[1]
    if k == 0:
        return 1.0
    hits = sum(len(np.intersect1d(a[a >= 0], b)) for a, b in zip(found, truth))
    return float(hits / (k * len(truth))) if len(truth) else 1.0


def _doubling(first, last):
    """first, 2 first, 4 first, ... capped at (and ending with) last."""
    value = max(1, int(first))
    while value < last:
        yield value
        value *= 2
    yield int(last)


def _flat(faiss, Z):
    index = faiss.IndexFlatL2(Z.shape[1])
    index.add(Z)
    return index


def _steps(last):
    """1, 2, 3, 4, 6, 8, 12, 16, 24, ... (about 1.4x apart) capped at (and ending with) last."""
    power = 1
    while True:
        for value in (power, power * 3 // 2) if power > 1 else (1,):
            if value >= last:
                yield int(last)
                return
            yield value
        power *= 2


def _ivf_quantizer(faiss, Z, n_lists, random_state):
    """The IVF cells: k-means (seeded) on at most IVF_TRAIN_PER_LIST * n_lists codes.

    Returns the trained quantizer (an ``IndexFlatL2`` of the centroids) and the
    training sample.
    """
    n, dim = Z.shape
    n_train = min(n, IVF_TRAIN_PER_LIST * n_lists)
    rng = np.random.RandomState(random_state)
    train = Z if n_train == n else Z[np.sort(rng.choice(n, n_train, replace=False))]
    clustering = faiss.Clustering(dim, n_lists)
    clustering.seed = int(rng.randint(2 ** 31 - 1))
    clustering.min_points_per_centroid = 1  # no warning for small training samples
    quantizer = faiss.IndexFlatL2(dim)
    clustering.train(train, quantizer)
    return quantizer, train


def _owning(index, *parts):
    """``index`` made the owner of ``parts`` (SWIG objects freed along with it)."""
    for part in parts:
        part.this.disown()
    index.own_fields = True
    return index


def _ivf(faiss, Z, quantizer):
    """IndexIVFFlat over the cells of ``quantizer`` (taken over by the index)."""
    index = _owning(faiss.IndexIVFFlat(quantizer, Z.shape[1], quantizer.ntotal), quantizer)
    index.add(Z)
    return index


def _ivf_fastscan(faiss, Z, quantizer, train):
    """IVF with 4-bit fast-scan PQ codes (one per dimension) re-ranked exactly.

    ``IndexIVFPQFastScan`` over the cells of ``quantizer`` (taken over), its product
    quantizer trained on ``train`` itself, not on residuals to the cell centres:
    one distance table per query instead of one per visited cell, which on 1M x 32
    Gaussian codes (192 cells visited) cost 2.5x less CPU at the same recall; the
    coarser codes are made up by the exact re-ranking. Wrapped in
    ``IndexRefineFlat`` (which keeps the codes for that re-ranking).
    """
    dim = Z.shape[1]
    base = _owning(faiss.IndexIVFPQFastScan(quantizer, dim, quantizer.ntotal, dim,
                                            FASTSCAN_BITS), quantizer)
    base.by_residual = False
    base.pq.cp.min_points_per_centroid = 1  # no warning for small training samples
    base.train(train)  # the cells are trained already: only the product quantizer
    index = _owning(faiss.IndexRefineFlat(base), base)
    index.add(Z)
    return index


def _hnsw(faiss, Z):
    index = faiss.IndexHNSWFlat(Z.shape[1], HNSW_M)
    index.add(Z)
    return index


def _apply_search_params(index, kind, params):
    if kind == "ivf":
        index.nprobe = int(params["n_probe"])
    elif kind == "ivf-fastscan":
        _import_faiss().extract_index_ivf(index).nprobe = int(params["n_probe"])
        index.k_factor = float(params["k_factor"])
    elif kind == "hnsw":
        index.hnsw.efSearch = int(params["ef_search"])
