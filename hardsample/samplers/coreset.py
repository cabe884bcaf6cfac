"""CoreSetSampler: k-center greedy selection (Sener & Savarese, 2017)."""

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions

from .._timing import Stopwatch
from ._base import BaseSampler, Proposal
from .uncertainty import BATCH_SIZE

FEATURES = ("latent", "penultimate")


def min_distances(points, centers, batch_size=4096):
    """Euclidean distance from each row of ``points`` to its nearest row of ``centers``.

    Parameters
    ----------
    points : array-like of shape (n_points, n_features)
    centers : array-like of shape (n_centers, n_features)
    batch_size : int, default=4096
        Points per distance block, so memory stays ``O(batch_size * n_centers)``.

    Returns
    -------
    distances : ndarray of float32 of shape (n_points,)
        ``inf`` for every point when ``centers`` is empty.
    """
    points = torch.as_tensor(np.ascontiguousarray(points, dtype=np.float32))
    centers = torch.as_tensor(np.ascontiguousarray(centers, dtype=np.float32))
    if len(centers) == 0:
        return np.full(len(points), np.inf, dtype=np.float32)
    out = []
    for start in range(0, len(points), batch_size):
        d = torch.cdist(points[start:start + batch_size], centers)
        out.append(d.min(dim=1).values)
    if not out:
        return np.empty(0, dtype=np.float32)
    return torch.cat(out).numpy()


def k_center_greedy(features, min_dist, n):
    """Greedily pick ``n`` rows of ``features``, each the farthest from those covered.

    Parameters
    ----------
    features : ndarray of shape (n_points, n_features)
    min_dist : ndarray of shape (n_points,)
        Current distance of each point to the covered set (``inf`` if empty); updated
        in place after each pick, so memory is ``O(n_points)`` per step.
    n : int

    Returns
    -------
    picks : ndarray of int64 of shape (n,)
        Row positions, in picking order (first maximum on ties).
    """
    X = torch.as_tensor(np.ascontiguousarray(features, dtype=np.float32))
    dist = torch.as_tensor(np.asarray(min_dist, dtype=np.float32)).clone()
    picks = []
    for _ in range(n):
        i = int(torch.argmax(dist))
        picks.append(i)
        dist = torch.minimum(dist, torch.linalg.vector_norm(X - X[i], dim=1))
        dist[i] = -1.0  # never picked twice, even among duplicates
    return np.asarray(picks, dtype=np.int64)


class CoreSetSampler(BaseSampler):
    """Core-set selection by k-center greedy (Sener & Savarese, 2017).

    Each pick is the available pool sample farthest (Euclidean) from the labeled set
    and the samples already picked this round, so the labels cover the feature space.
    Memory is ``O(n_pool)`` per step: no pool-by-pool distance matrix is formed.

    Parameters
    ----------
    features : {"latent", "penultimate"}, default="latent"
        ``"latent"``: the pool's latent codes (the estimator's generator encodes the
        pool once; labeled codes are ``state.z_labeled``). ``"penultimate"``: the
        target net's activations entering its last ``torch.nn.Linear`` layer,
        recomputed each round over the labeled set and the available pool (one
        forward pass over the pool).
    batch_size : int, default=1024
        Samples per forward pass; the distance blocks hold ``4 * batch_size`` samples
        (a row of distances is far smaller than a forward pass).

    Examples
    --------
    >>> from hardsample.samplers import CoreSetSampler
    >>> CoreSetSampler(features="penultimate")
    CoreSetSampler(features='penultimate')
    """

    _parameter_constraints = {"features": [StrOptions(set(FEATURES))], "batch_size": BATCH_SIZE}

    def __init__(self, features="latent", batch_size=1024):
        self.features = features
        self.batch_size = batch_size

    @property
    def uses_latent_space(self):
        return self.features == "latent"

    @property
    def needs_net(self):
        return self.features == "penultimate"

    def _propose(self, state, n, random_state):
        batch_size = self.batch_size
        available = state.available_indices
        watch = Stopwatch()
        if self.features == "latent":
            if state.latent_codes is None:
                raise ValueError("CoreSetSampler(features='latent') needs the pool's latent "
                                 "codes: pass a generator to the estimator.")
            pool = state.latent_codes[available]
            labeled = state.z_labeled if state.z_labeled is not None else \
                state.latent_codes[state.excluded]
        else:
            with watch("judging"):
                pool = penultimate_features(state.net, state.X_pool[available], batch_size)
                labeled = penultimate_features(state.net, state.X_labeled, batch_size)
        with watch("k-center"):
            dist = min_distances(pool, labeled, batch_size=4 * batch_size)
            picks = available[k_center_greedy(pool, dist, n)]
        return Proposal(
            indices=picks,
            latent_codes=None if state.latent_codes is None else state.latent_codes[picks],
            timings=watch.seconds,
        )


def penultimate_features(net, X, batch_size=1024):
    """Inputs of the last ``torch.nn.Linear`` of ``net.module_``, flattened, per sample.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net (with ``module_``) whose module has a ``torch.nn.Linear`` layer;
        it runs in eval mode, and its training mode is restored afterwards.
    X : array-like of shape (n_samples, ...)
    batch_size : int, default=1024
        Samples per forward pass.

    Returns
    -------
    features : ndarray of float32 of shape (n_samples, in_features)
        ``in_features`` of the last ``torch.nn.Linear``.
    """
    module = getattr(net, "module_", None)
    if module is None:
        raise TypeError("features='penultimate' needs a fitted skorch net (with module_).")
    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError("features='penultimate' needs a net whose module has a "
                         "torch.nn.Linear layer.")
    captured = []
    hook = linears[-1].register_forward_pre_hook(
        lambda _, inputs: captured.append(inputs[0].detach().flatten(1).cpu()))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                net.infer(np.asarray(X[start:start + batch_size]))
    finally:
        hook.remove()
        module.train(was_training)
    if not captured:
        return np.empty((0, linears[-1].in_features), dtype=np.float32)
    return torch.cat(captured).numpy().astype(np.float32)
