"""Improved greedy sampling (iGS): diversity in the inputs and in the targets at once.

Wu, Lin & Huang, "Active learning for regression using greedy sampling", Information
Sciences 474 (2019): a pool sample is worth labeling when it is far from every
labeled sample both in the input space and in the (predicted) target space.
"""

from numbers import Integral

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances
from sklearn.utils._param_validation import Interval, StrOptions

from .._timing import Stopwatch
from ._base import BaseSampler, Proposal
from .representative import PCA_FIT_MAX_SAMPLES, READ_BATCH
from .uncertainty import BATCH_SIZE, uniform_subset

#: Candidates whose distances to the labeled set are computed at once (bounds memory).
DISTANCE_CHUNK = 2048


def _flat(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows.reshape(len(rows), -1)


def predict_batched(net, X, rows, batch_size):
    """A regression net's predictions on ``X[rows]``, flattened to (n, n_outputs)."""
    import skorch

    if isinstance(net, skorch.NeuralNetClassifier) or not callable(getattr(net, "predict", None)):
        raise TypeError("Greedy sampling in the target space needs a regression net "
                        f"(skorch.NeuralNetRegressor), got {type(net).__name__}.")
    parts = [_flat(net.predict(X[rows[start:start + batch_size]]))
             for start in range(0, len(rows), batch_size)]
    return np.concatenate(parts) if parts else np.empty((0, 1), dtype=np.float32)


def greedy_input_output(x_cand, y_cand, x_labeled, y_labeled, n, random_state):
    """Positions of ``n`` candidates chosen by iGS.

    Each step takes the candidate maximizing ``min_l ||x - x_l|| * ||f(x) - y_l||`` over
    the labeled samples ``l`` (their true targets ``y_l``) and the candidates chosen so
    far (their predicted targets), as scikit-activeml's ``GreedySamplingTarget(
    method="GSi")``; ties are broken in a seeded random order.
    """
    n_cand = len(x_cand)
    score = np.full(n_cand, np.inf)
    for start in range(0, n_cand, DISTANCE_CHUNK):
        part = slice(start, start + DISTANCE_CHUNK)
        if len(x_labeled):
            score[part] = (pairwise_distances(x_cand[part], x_labeled)
                           * pairwise_distances(y_cand[part], y_labeled)).min(axis=1)
    tie_break = random_state.permutation(n_cand)
    chosen = np.zeros(n_cand, dtype=bool)
    picks = []
    for _ in range(n):
        best = np.flatnonzero(~chosen & (score == score[~chosen].max()))
        pick = int(best[np.argmin(tie_break[best])])
        picks.append(pick)
        chosen[pick] = True
        new = (np.linalg.norm(x_cand - x_cand[pick], axis=1)
               * np.linalg.norm(y_cand - y_cand[pick], axis=1))
        score = np.minimum(score, new)
    return np.asarray(picks, dtype=np.int64)


class ImprovedGreedySampler(BaseSampler):
    """Improved greedy sampling, iGS (Wu, Lin & Huang 2019; registered as ``"igs"``).

    A diversity strategy for regression: each of the ``n`` picks is the available pool
    sample maximizing ``min_l d_x(x, x_l) * d_y(f(x), y_l)``, the smallest product of
    its input distance and its target distance to every labeled sample ``l`` (true
    targets) and every sample picked before it in the batch (predicted targets). ``f``
    is the run's trained net; ``d_y`` is the Euclidean distance between flattened
    targets. No uncertainty source is trained: the cost is one prediction pass over the
    candidates and the distances. As a diversity mechanism, its same-cost control is
    ``"random"``.

    Parameters
    ----------
    space : {"input", "latent", "pca"}, default="input"
        Where ``d_x`` is measured: ``"input"``, the flattened inputs (as the paper and
        scikit-activeml; no generator needed); ``"latent"``, the generator's codes (the
        estimator fits the generator and encodes the pool); ``"pca"``, an
        ``n_components``-dimensional PCA of the flattened inputs fitted on at most 20,000
        pool rows (cheaper distances on large images).
    n_components : int, default=50
        Dimensions of the ``"pca"`` space.
    n_candidates : int or None, default=None
        Judge only ``n * n_candidates`` available samples drawn uniformly (all when None).
    batch_size : int, default=1024
        Samples per prediction call.

    Examples
    --------
    >>> from hardsample.samplers import ImprovedGreedySampler
    >>> ImprovedGreedySampler(space="latent")
    ImprovedGreedySampler(space='latent')
    """

    task = "regression"
    needs_net = True
    needs_decoder = False
    _parameter_constraints = {
        "space": [StrOptions({"input", "latent", "pca"})],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_candidates": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": BATCH_SIZE,
    }

    def __init__(self, space="input", *, n_components=50, n_candidates=None, batch_size=1024):
        self.space = space
        self.n_components = n_components
        self.n_candidates = n_candidates
        self.batch_size = batch_size

    @property
    def uses_latent_space(self):
        return self.space == "latent"

    def check_compatible(self, *, task, net, generator):
        """Raise before any label is paid for: bad parameters, a classification run, or
        ``space="latent"`` without a generator."""
        self._validate_params()
        if self.space == "latent" and generator is None:
            raise ValueError("ImprovedGreedySampler(space='latent') measures input distances "
                             "in the generator's codes: pass a generator, or use "
                             "space='input' or 'pca'.")
        super().check_compatible(task=task, net=net, generator=generator)

    def _features(self, state, rows, random_state):
        if self.space == "latent":
            if state.latent_codes is None or state.z_labeled is None:
                raise ValueError("ImprovedGreedySampler(space='latent') needs the pool's latent "
                                 "codes: pass a generator, or use space='input' or 'pca'.")
            return (np.asarray(state.latent_codes[rows], dtype=np.float32),
                    np.asarray(state.z_labeled, dtype=np.float32))
        if self.space == "input":
            return (np.concatenate([_flat(state.X_pool[rows[s:s + READ_BATCH]])
                                    for s in range(0, len(rows), READ_BATCH)]),
                    _flat(state.X_labeled))
        n_pool = len(state.X_pool)
        fit_rows = np.arange(n_pool) if n_pool <= PCA_FIT_MAX_SAMPLES else np.sort(
            random_state.choice(n_pool, size=PCA_FIT_MAX_SAMPLES, replace=False))
        sample = _flat(state.X_pool[fit_rows])
        pca = PCA(min(self.n_components, *sample.shape), svd_solver="randomized",
                  random_state=random_state.randint(2**31 - 1)).fit(sample)
        cand = np.concatenate([pca.transform(_flat(state.X_pool[rows[s:s + READ_BATCH]]))
                               for s in range(0, len(rows), READ_BATCH)])
        return cand, pca.transform(_flat(state.X_labeled))

    def _propose(self, state, n, random_state):
        if n == 0:  # nothing to judge (an empty candidate set has no features to stack)
            return Proposal(indices=np.empty(0, dtype=np.int64))
        available = state.available_indices
        if self.n_candidates is not None:
            available = uniform_subset(available, n * self.n_candidates, random_state)
        watch = Stopwatch()
        with watch("features"):
            x_cand, x_labeled = self._features(state, available, random_state)
        with watch("judging"):
            y_cand = predict_batched(state.net, state.X_pool, available, self.batch_size)
        y_labeled = _flat(state.y_labeled)
        if y_labeled.shape[1] != y_cand.shape[1]:
            raise ValueError(f"The net predicts {y_cand.shape[1]} values per sample but the "
                             f"labeled targets have {y_labeled.shape[1]}.")
        with watch("selection"):
            picks = greedy_input_output(x_cand, y_cand, x_labeled, y_labeled, n, random_state)
        return Proposal(indices=np.asarray(available[picks], dtype=np.int64),
                        timings=watch.seconds)


__all__ = ["ImprovedGreedySampler", "greedy_input_output"]
