"""LatentIndex: nearest-neighbour search over a pool's latent codes.

Three backends, all queried the same way:

- ``"kdtree"``: exact, :class:`scipy.spatial.cKDTree`; the fastest for low latent
  dimensions (the paper's 3).
- ``"brute"``: exact, batched distance matrices in torch (on the given device).
- ``"nndescent"``: approximate, :mod:`pynndescent`; pays off for large pools in
  high dimensions. It compiles with numba on first use (tens of seconds), so it
  is imported only when chosen.

``method="auto"`` picks the KD-tree up to :data:`KDTREE_MAX_DIM` dimensions, brute
force up to :data:`BRUTE_MAX_POINTS` points, and pynndescent beyond.
"""

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
METHODS = ("auto", "kdtree", "brute", "nndescent")


class LatentIndex(BaseEstimator):
    """Nearest-neighbour index over latent codes that can skip excluded points.

    Parameters
    ----------
    method : {"auto", "kdtree", "brute", "nndescent"}, default="auto"
    device : str or torch.device, default="cpu"
        Device of the brute-force backend.
    batch_size : int, default=1024
        Queries per distance-matrix block of the brute-force backend.
    random_state : int or None, default=None
        Seed of pynndescent's graph construction.

    Attributes
    ----------
    method_ : str
        The backend in use.
    n_points_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.neighbors import LatentIndex
    >>> index = LatentIndex().fit(np.array([[0.0], [1.0], [2.0]]))
    >>> index.nearest_available([[0.9], [0.9]], excluded=np.array([False, False, True]))
    array([1, 0])
    """

    def __init__(self, method="auto", *, device="cpu", batch_size=1024, random_state=None):
        self.method = method
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

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
        if self.method_ == "kdtree":
            self._tree = cKDTree(Z)
        elif self.method_ == "brute":
            self._points = torch.as_tensor(Z, device=resolve_device(self.device))
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
        return "brute" if n_points <= BRUTE_MAX_POINTS else "nndescent"

    def kneighbors(self, Q, k):
        """Indices and distances of the ``k`` nearest indexed points of each query.

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
        while len(pending):
            if k >= self.n_points_:
                # Last resort: rank every point, so every query is served.
                neighbors = self._rank_all(Q[pending])
            else:
                neighbors, _ = self.kneighbors(Q[pending], k)
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

    def _rank_all(self, Q):
        if self.method_ == "nndescent":
            points = self._graph._raw_data
        elif self.method_ == "kdtree":
            points = self._tree.data
        else:
            points = self._points.cpu().numpy()
        sq = (Q ** 2).sum(1)[:, None] - 2 * Q @ points.T + (points ** 2).sum(1)[None, :]
        return np.argsort(sq, axis=1, kind="stable")
