"""Data shared by the vessel benchmarks: the labeling tool and the cached test set."""

import json
import time
from pathlib import Path

import numpy as np

from _cache import cache_dir, settings_key


class ScaledStressTool:
    """Labeling tool: ``(n, 1, s, s)`` masks -> ``(n, s, s)`` stress / ``scale`` (kPa).

    Its :meth:`canonicalize` is the solver's (the cleaned binary wall the solver
    solves on), so a :class:`~hardsample.oracles.LabelingToolOracle` labels and
    returns the canonical masks. A top-level class so that it pickles for
    process-based parallel labeling.
    """

    def __init__(self, solver, scale):
        self.solver = solver
        self.scale = float(scale)

    @staticmethod
    def _masks(X):
        X = np.asarray(X, dtype=np.float64)
        return X.reshape(len(X), X.shape[-2], X.shape[-1])

    def canonicalize(self, X):
        X = np.asarray(X)
        return self.solver.canonicalize(self._masks(X)).reshape(X.shape)

    def __call__(self, X):
        return (self.solver(self._masks(X)) / self.scale).astype(np.float32)

    def __repr__(self):  # journal signature / readable records
        return f"ScaledStressTool({self.solver!r}, scale={self.scale:g})"


def cached_test_set(size, seed, solver, folder=None):
    """Held-out masks ``(n, 1, 64, 64)`` and their stress maps (kPa), cached to an .npz
    in ``folder`` (default: the per-user :func:`_cache.cache_dir`), read without pickle.

    Returns
    -------
    X, y, path, seconds
        ``seconds`` is the solve time (0.0 when read from the cache).
    """
    from hardsample.datasets.vessels import make_vessel_masks

    settings = dict(n=size, seed=seed, solver=repr(solver), lipid=None)
    path = Path(folder or cache_dir()) / f"vessels_test_{settings_key(settings)}.npz"
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        return data["X"], data["y"], path, 0.0
    masks, _ = make_vessel_masks(size, random_state=seed)
    start = time.perf_counter()
    stress = solver(masks)
    seconds = time.perf_counter() - start
    X = masks.reshape(-1, 1, 64, 64)
    np.savez_compressed(path, X=X, y=stress, settings=json.dumps(settings), seconds=seconds)
    return X, stress, path, seconds


def shape_stats(masks):
    """Wall area, lumen area and thinnest wall (pixels) of binary masks ``(n, s, s)``."""
    from hardsample.datasets._masks import clean_wall
    from hardsample.datasets.vessels import _thinnest_wall

    rows = []
    for mask in np.asarray(masks).reshape(-1, masks.shape[-2], masks.shape[-1]):
        wall, lumen = clean_wall(mask)
        rows.append((wall.sum(), lumen.sum(), _thinnest_wall(wall, lumen)))
    return np.asarray(rows, dtype=np.float64)
