"""Uncertainty sampling: label the pool samples the target net is least sure about.

Both samplers run the trained net over every *available* pool sample each round
(in batches), so their mining cost grows with the pool: one forward pass over it.
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from .._timing import Stopwatch
from .._validation import check_int
from ._base import BaseSampler, Proposal

#: Constraint of every sampler's ``batch_size``.
BATCH_SIZE = [Interval(Integral, 1, None, closed="left")]


def predict_proba_batched(net, X, batch_size=1024, rows=None):
    """Class probabilities of ``net`` on ``X`` (or on ``X[rows]``), ``batch_size`` rows at a time.

    With ``rows``, each batch is read as ``X[rows[i:i + batch_size]]``, so a pool read
    from disk (:class:`~hardsample.Pool`) is never copied into memory whole.

    Returns
    -------
    proba : ndarray of float64 of shape (n_rows, n_classes)
        Of shape (0, 0) when there are no rows: the net is not asked, so the number
        of classes is unknown.

    Raises
    ------
    TypeError
        The net has no ``predict_proba`` (not a classifier).
    ValueError
        The net does not return one probability row of at least 2 classes per sample.
    """
    import skorch

    # skorch's NeuralNet and NeuralNetRegressor have a predict_proba too (raw outputs).
    not_classifier = isinstance(net, skorch.NeuralNet) and not isinstance(
        net, skorch.NeuralNetClassifier)
    if net is None or not_classifier or not callable(getattr(net, "predict_proba", None)):
        raise TypeError(
            "Uncertainty sampling needs a classifier net with predict_proba (e.g. "
            f"skorch.NeuralNetClassifier), got {type(net).__name__}."
        )
    batch_size = check_int(batch_size, "batch_size")
    n = len(X) if rows is None else len(rows)
    batch = (lambda s: X[s:s + batch_size]) if rows is None \
        else (lambda s: X[rows[s:s + batch_size]])
    parts = [np.asarray(net.predict_proba(batch(start)), dtype=np.float64)
             for start in range(0, n, batch_size)]
    if not parts:
        return np.empty((0, 0))
    proba = np.concatenate(parts)
    if proba.ndim != 2 or proba.shape[0] != n or proba.shape[1] < 2:
        raise ValueError(
            f"predict_proba returned shape {proba.shape} for {n} samples; expected "
            "(n_samples, n_classes) with at least 2 classes."
        )
    if not np.isfinite(proba).all() or proba.min() < -1e-6 \
            or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("predict_proba did not return probabilities (rows of non-negative "
                         "values summing to 1); does the net end in a softmax?")
    return proba


def uniform_subset(indices, size, random_state):
    """``size`` of ``indices`` drawn uniformly without replacement, in their order
    (all of them when there are not more)."""
    if size >= len(indices):
        return indices
    return indices[np.sort(random_state.choice(len(indices), size=size, replace=False))]


def entropy(proba):
    """Shannon entropy (nats) of each probability row."""
    p = np.clip(proba, 1e-12, 1.0)
    return -(proba * np.log(p)).sum(axis=1)


def margin(proba):
    """Difference between the two largest probabilities of each row."""
    top2 = np.partition(proba, proba.shape[1] - 2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def top_n(scores, n, random_state):
    """Positions of the ``n`` largest ``scores``; ties broken by a seeded random order."""
    tie_break = random_state.permutation(len(scores))
    order = np.lexsort((tie_break, -np.asarray(scores, dtype=np.float64)))
    return order[:n]


class _UncertaintySampler(BaseSampler):
    """Shared body of the uncertainty samplers (not for direct use)."""

    task = "classification"
    _parameter_constraints = {
        "batch_size": BATCH_SIZE,
        "n_candidates": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, batch_size=1024, n_candidates=None):
        self.batch_size = batch_size
        self.n_candidates = n_candidates

    def _scores(self, proba):
        raise NotImplementedError

    def _propose(self, state, n, random_state):
        if n == 0:  # nothing to judge (margin needs at least 2 classes' columns)
            return Proposal(indices=np.empty(0, dtype=np.int64))
        available = state.available_indices
        if self.n_candidates is not None:
            # The same-cost control of the latent samplers: judge a uniform subset.
            available = uniform_subset(available, n * self.n_candidates, random_state)
        watch = Stopwatch()
        with watch("judging"):
            proba = predict_proba_batched(state.net, state.X_pool, self.batch_size,
                                          rows=available)
        chosen = available[top_n(self._scores(proba), n, random_state)]
        return Proposal(indices=np.asarray(chosen, dtype=np.int64), timings=watch.seconds)


class EntropySampler(_UncertaintySampler):
    """Label the available pool samples whose predicted class distribution has the
    highest entropy (uncertainty sampling, Settles 2009).

    Each round runs ``state.net.predict_proba`` over every unlabeled pool sample, in
    batches of ``batch_size``, and proposes the ``n`` with the largest entropy
    ``-sum_c p_c log p_c``. Ties are broken in a random order drawn from the round's
    ``random_state``, so a seed reproduces the picks.

    Parameters
    ----------
    batch_size : int, default=1024
        Pool samples per ``predict_proba`` call.
    n_candidates : int or None, default=None
        Judge only ``n * n_candidates`` available samples drawn uniformly at random
        (all of them when None or when there are fewer): a pass over a subset whose
        cost does not grow with the pool.

    Examples
    --------
    >>> from hardsample.samplers import EntropySampler
    >>> EntropySampler()
    EntropySampler()
    """

    def _scores(self, proba):
        return entropy(proba)


class MarginSampler(_UncertaintySampler):
    """Label the available pool samples with the smallest margin between the two most
    probable classes (margin sampling, Scheffer et al. 2001).

    Same pass over the pool as :class:`EntropySampler`; proposes the ``n`` samples
    with the smallest ``p_top1 - p_top2``.

    Parameters
    ----------
    batch_size : int, default=1024
        Pool samples per ``predict_proba`` call.
    n_candidates : int or None, default=None
        As in :class:`EntropySampler`.

    Examples
    --------
    >>> from hardsample.samplers import MarginSampler
    >>> MarginSampler(batch_size=256)
    MarginSampler(batch_size=256)
    """

    def _scores(self, proba):
        return -margin(proba)


class SubsampledEntropySampler(EntropySampler):
    """Entropy sampling over a uniform random subset of ``n * n_candidates`` available
    samples (registered as ``"subsampled-entropy"``).

    The same-cost control of :class:`~hardsample.samplers.LatentEntropySampler`: the
    net judges as many candidates (16 per proposed sample by default), but they are
    drawn uniformly instead of around stepped latent codes. In its own right, a
    strong strategy for pools too large for a full pass (scikit-activeml's
    ``SubSamplingWrapper`` idea).

    Parameters
    ----------
    batch_size : int, default=1024
    n_candidates : int, default=16

    Examples
    --------
    >>> from hardsample.samplers import SubsampledEntropySampler
    >>> SubsampledEntropySampler().n_candidates
    16
    """

    def __init__(self, batch_size=1024, n_candidates=16):
        super().__init__(batch_size=batch_size, n_candidates=n_candidates)


class SubsampledMarginSampler(MarginSampler):
    """Margin sampling over a uniform random subset of ``n * n_candidates`` available
    samples (registered as ``"subsampled-margin"``).

    The same-cost control of :class:`~hardsample.samplers.LatentMarginSampler` (64
    candidates per proposed sample by default, judged by the same margin, drawn
    uniformly instead of around stepped latent codes).

    Parameters
    ----------
    batch_size : int, default=1024
    n_candidates : int, default=64

    Examples
    --------
    >>> from hardsample.samplers import SubsampledMarginSampler
    >>> SubsampledMarginSampler(n_candidates=32)
    SubsampledMarginSampler(n_candidates=32)
    """

    def __init__(self, batch_size=1024, n_candidates=64):
        super().__init__(batch_size=batch_size, n_candidates=n_candidates)
