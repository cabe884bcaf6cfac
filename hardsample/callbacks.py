"""Callbacks of the round loop, and criteria that stop it early.

As in skorch, a callback is an object whose ``on_*`` methods the estimator calls at
fixed points (``callbacks=[...]``); each gets the estimator and keyword arguments:

- ``on_fit_begin(estimator)`` / ``on_fit_end(estimator)``: around ``fit`` (and
  around each ``partial_fit`` call);
- ``on_round_begin(estimator, round_number=...)``;
- ``on_round_end(estimator, record=...)``: ``record`` is the round's
  :class:`~hardsample.RoundRecord`.

A stopping criterion (``stop_when=``) is any callable ``(estimator, record) -> bool``
asked after each round of ``fit``; :class:`LabelBudget` and :class:`ScorePlateau`
are the two common ones (baal's stopping criteria are the model).
"""

import numbers

import numpy as np
from tqdm.auto import tqdm

__all__ = ["Callback", "LabelBudget", "ProgressBar", "ScorePlateau"]


class Callback:
    """Base class of the round-loop callbacks: every hook does nothing.

    Examples
    --------
    >>> from hardsample.callbacks import Callback
    >>> class PrintLabels(Callback):
    ...     def on_round_end(self, estimator, record=None, **kwargs):
    ...         print(record["round"], record["n_labeled"])
    """

    def on_fit_begin(self, estimator, **kwargs):
        pass

    def on_round_begin(self, estimator, round_number=None, **kwargs):
        pass

    def on_round_end(self, estimator, record=None, **kwargs):
        pass

    def on_fit_end(self, estimator, **kwargs):
        pass


class ProgressBar(Callback):
    """A tqdm bar over the rounds of ``fit``, with the labels paid so far.

    The estimators add one when ``verbose > 0``.

    Parameters
    ----------
    total : int or None, default=None
        Rounds expected (the estimator's ``n_rounds`` when None).
    """

    def __init__(self, total=None):
        self.total = total

    def on_fit_begin(self, estimator, **kwargs):
        total = self.total if self.total is not None else getattr(estimator, "n_rounds", None)
        self.bar_ = tqdm(total=total, desc=type(estimator).__name__)

    def on_round_end(self, estimator, record=None, **kwargs):
        self.bar_.set_postfix(n_labeled=record["n_labeled"])
        self.bar_.update(1)

    def on_fit_end(self, estimator, **kwargs):
        self.bar_.close()
        del self.bar_


class LabelBudget:
    """Stop once at least ``max_labels`` labels are paid for.

    Parameters
    ----------
    max_labels : int

    Examples
    --------
    >>> from hardsample.callbacks import LabelBudget
    >>> LabelBudget(100)(None, {"n_labeled": 120})
    True
    """

    def __init__(self, max_labels):
        if isinstance(max_labels, bool) or not isinstance(max_labels, numbers.Integral) \
                or max_labels < 1:
            raise ValueError(f"max_labels must be a positive int, got {max_labels!r}.")
        self.max_labels = int(max_labels)

    def __call__(self, estimator, record):
        return record["n_labeled"] >= self.max_labels


class ScorePlateau:
    """Stop when a validation score has not improved for ``patience`` rounds.

    Parameters
    ----------
    X_val, y_val : array-like
        A labeled validation set, scored with ``estimator.score`` after each round.
    patience : int, default=2
        Rounds without an improvement larger than ``min_delta`` before stopping.
    min_delta : float, default=0.0

    Attributes
    ----------
    scores_ : list of float
        The validation score after each round.

    Examples
    --------
    >>> from hardsample.callbacks import ScorePlateau
    >>> class Fixed:
    ...     def __init__(self, scores): self.scores = iter(scores)
    ...     def score(self, X, y): return next(self.scores)
    >>> stop, model = ScorePlateau(None, None, patience=2), Fixed([0.5, 0.7, 0.7, 0.69])
    >>> [stop(model, {}) for _ in range(4)]
    [False, False, False, True]
    """

    def __init__(self, X_val, y_val, *, patience=2, min_delta=0.0):
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) \
                or patience < 1:
            raise ValueError(f"patience must be a positive int, got {patience!r}.")
        if not isinstance(min_delta, numbers.Real) or not np.isfinite(min_delta) \
                or min_delta < 0:
            raise ValueError(f"min_delta must be a non-negative number, got {min_delta!r}.")
        self.X_val = X_val
        self.y_val = y_val
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.scores_ = []

    def __call__(self, estimator, record):
        score = float(estimator.score(self.X_val, self.y_val))
        if not self.scores_ or score > self.best_ + self.min_delta:
            self.best_, self.rounds_without_improvement_ = score, 0
        else:
            self.rounds_without_improvement_ += 1
        self.scores_.append(score)
        return self.rounds_without_improvement_ >= self.patience


def notify(callbacks, hook, estimator, **kwargs):
    """Call ``hook`` on every callback, in order."""
    for callback in callbacks:
        getattr(callback, hook)(estimator, **kwargs)
