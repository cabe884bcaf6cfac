"""Uncertainty sampling: label the pool samples the target net is least sure about.

Both samplers run the trained net over every *available* pool sample each round
(in batches), so their mining cost grows with the pool: one forward pass over it.
"""

import numbers

import numpy as np

from .._timing import Stopwatch
from ._base import BaseSampler, Proposal


def check_n(n, n_available):
    """Validate a request for ``n`` distinct pool samples among ``n_available``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}.")
    if n > n_available:
        raise ValueError(f"Asked for {n} samples but only {n_available} are unlabeled.")
    return int(n)


def check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    return int(batch_size)


def predict_proba_batched(net, X, batch_size=1024):
    """Class probabilities of ``net`` on ``X``, computed ``batch_size`` rows at a time.

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
    batch_size = check_batch_size(batch_size)
    parts = [np.asarray(net.predict_proba(X[start:start + batch_size]), dtype=np.float64)
             for start in range(0, len(X), batch_size)]
    if not parts:
        return np.empty((0, 0))
    proba = np.concatenate(parts)
    if proba.ndim != 2 or proba.shape[0] != len(X) or proba.shape[1] < 2:
        raise ValueError(
            f"predict_proba returned shape {proba.shape} for {len(X)} samples; expected "
            "(n_samples, n_classes) with at least 2 classes."
        )
    if not np.isfinite(proba).all() or proba.min() < -1e-6 \
            or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("predict_proba did not return probabilities (rows of non-negative "
                         "values summing to 1); does the net end in a softmax?")
    return proba


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

    def __init__(self, batch_size=1024):
        self.batch_size = batch_size

    def _scores(self, proba):
        raise NotImplementedError

    def propose(self, state, n, random_state):
        available = state.available_indices
        n = check_n(n, len(available))
        watch = Stopwatch()
        with watch("judging"):
            proba = predict_proba_batched(state.net, state.X_pool[available], self.batch_size)
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

    Examples
    --------
    >>> from hardsample.samplers import EntropySampler
    >>> EntropySampler()
    EntropySampler(batch_size=1024)
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

    Examples
    --------
    >>> from hardsample.samplers import MarginSampler
    >>> MarginSampler(batch_size=256)
    MarginSampler(batch_size=256)
    """

    def _scores(self, proba):
        return -margin(proba)
