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
  exact search with :func:`recall_at_k`.

``method="auto"`` picks the KD-tree up to :data:`KDTREE_MAX_DIM` dimensions; above,
faiss when it is installed, else brute force up to :data:`BRUTE_MAX_POINTS` points
and pynndescent beyond.

Whatever the backend, :meth:`LatentIndex.nearest_available` never returns an
excluded point: it over-fetches neighbours and filters, and falls back to an exact
ranking of the available points when over-fetching does not serve every query.
"""

import importlib.util
import numbers

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
        faiss IVF: cells visited per query. More cells: higher recall, slower
        queries (measure with :func:`recall_at_k`).

    Attributes
    ----------
    method_ : str
        The backend in use.
    approximate_ : bool
        Whether the backend may miss true neighbours (pynndescent, faiss IVF).
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
                 exact_max_points=FAISS_EXACT_MAX_POINTS, n_lists=None, n_probe=32):
        self.method = method
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state
        self.exact_max_points = exact_max_points
        self.n_lists = n_lists
        self.n_probe = n_probe

    def fit(self, Z):
        """Index the latent codes ``Z`` of shape (n_points, latent_dim)."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}.")
        Z = np.ascontiguousarray(Z, dtype=np.float32)
        if Z.ndim != 2 or len(Z) == 0:
            raise ValueError(f"Z must be a non-empty 2-D array, got shape {Z.shape}.")
        if not np.isfinite(Z).all():
            raise ValueError("Z holds NaN or infinite latent codes.")
        self.method_ = self._choose(Z.shape) if self.method == "auto" else self.method
        self.n_points_, self.dim_ = Z.shape
        self.approximate_ = self.method_ == "nndescent"
        for name in ("_tree", "_points", "_graph", "_faiss", "_codes", "_quantizer"):
            self.__dict__.pop(name, None)
        if self.method_ == "kdtree":
            self._tree = cKDTree(Z)
        elif self.method_ == "brute":
            self._points = torch.as_tensor(Z, device=resolve_device(self.device))
        elif self.method_ == "faiss":
            self._faiss = self._build_faiss(Z)
            self._codes = Z
        else:
            from pynndescent import NNDescent  # numba compiles on first import

            self._graph = NNDescent(Z, n_neighbors=30, random_state=self.random_state)
            self._graph.prepare()
        return self

    @staticmethod
    def _choose(shape):
        n_points, dim = shape
        if dim <= KDTREE_MAX_DIM:
            return "kdtree"
        if faiss_available():
            return "faiss"
        return "brute" if n_points <= BRUTE_MAX_POINTS else "nndescent"

    def _build_faiss(self, Z):
        faiss = _import_faiss()
        n, dim = Z.shape
        for name in ("exact_max_points", "n_probe"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if n <= self.exact_max_points:
            index = faiss.IndexFlatL2(dim)
            index.add(Z)
            return index
        n_lists = self.n_lists if self.n_lists is not None else int(round(np.sqrt(n)))
        if isinstance(n_lists, bool) or not isinstance(n_lists, numbers.Integral) \
                or not 1 <= n_lists <= n:
            raise ValueError(f"n_lists must be an int in [1, n_points={n}], got {n_lists!r}.")
        self.approximate_ = True
        quantizer = faiss.IndexFlatL2(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, int(n_lists))
        n_train = min(n, IVF_TRAIN_PER_LIST * int(n_lists))
        rng = np.random.RandomState(self.random_state)
        train = Z if n_train == n else Z[np.sort(rng.choice(n, n_train, replace=False))]
        index.cp.seed = int(rng.randint(2 ** 31 - 1))
        index.cp.min_points_per_centroid = 1  # no warning for small training samples
        index.train(train)
        index.add(Z)
        index.nprobe = int(min(self.n_probe, n_lists))
        self._quantizer = quantizer  # the IVF index does not own it: keep it alive
        return index

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
            sq, idx = self._faiss.search(Q, k)
            dist = np.where(idx >= 0, np.sqrt(np.maximum(sq, 0.0)), np.inf)
        else:
            idx, dist = self._graph.query(Q, k=k)
        return idx.astype(np.int64), dist.astype(np.float32)

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
        self.__dict__.update(state)
