"""Callbacks of the round loop, and criteria that stop it early.

As in skorch, a callback is an object whose ``on_*`` methods the estimator calls at
fixed points (``callbacks=[...]``); each gets the estimator and keyword arguments:

- ``on_fit_begin(estimator)`` / ``on_fit_end(estimator)``: around ``fit`` (and
  around each ``partial_fit`` call);
- ``on_round_begin(estimator, round_number=...)``;
- ``on_round_end(estimator, record=...)``: ``record`` is the round's
  :class:`~hardsample.RoundRecord`.

:class:`EvaluateEachRound` scores the net on a labeled validation set after every
round and writes the score into the round's record, so ``history_`` holds the run's
own learning curve (:func:`hardsample.plotting.plot_learning_curves` draws it).

A stopping criterion (``stop_when=``) is any callable ``(estimator, record) -> bool``
asked after each round of ``fit``; :class:`LabelBudget` and :class:`ScorePlateau`
are the two common ones (baal's stopping criteria are the model).
"""

import numbers

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring, get_scorer
from tqdm.auto import tqdm

from ._validation import check_samples

__all__ = ["Callback", "EvaluateEachRound", "LabelBudget", "ProgressBar", "ScorePlateau"]


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


class EvaluateEachRound(Callback):
    """Score the trained net on a labeled validation set after every round.

    The score goes into the round's :class:`~hardsample.RoundRecord` (``score`` and
    ``score_name``), so ``history_`` is the run's learning curve, also in a real run
    whose pool has no hidden labels. The validation set is only scored, never
    trained on or mined from.

    Parameters
    ----------
    X_val : array-like of shape (n_val, ...)
        Labeled validation samples, shaped like the pool's samples.
    y_val : array-like of shape (n_val, ...)
        Their labels (classes of the classifier, or regression targets).
    scoring : None, str or callable, default=None
        As in scikit-learn (:func:`sklearn.metrics.check_scoring`): None uses
        ``estimator.score`` (accuracy for the classifier, R² for the regressor), a
        string names a scorer (e.g. ``"balanced_accuracy"``,
        ``"neg_mean_absolute_error"``), a callable is ``scorer(estimator, X, y)``.

    Attributes
    ----------
    score_name_ : str
        The name written into each record (``"accuracy"``, ``"r2"``, the scoring
        string, or the scorer's function name).

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn.datasets import load_digits
    >>> from hardsample import LatentHardMiningClassifier
    >>> from hardsample.callbacks import EvaluateEachRound
    >>> from hardsample.nets import MLP
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16.0).astype("float32")
    >>> net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss, lr=0.1,
    ...                           max_epochs=5, verbose=0)
    >>> clf = LatentHardMiningClassifier(
    ...     net, sampler="margin", initial_size=50, round_size=50, n_rounds=3,
    ...     callbacks=[EvaluateEachRound(X[1500:], y[1500:])], random_state=0,
    ... ).fit(X[:1500], y[:1500])
    >>> [(r["n_labeled"], r["score_name"]) for r in clf.history_]
    [(50, 'accuracy'), (100, 'accuracy'), (150, 'accuracy')]
    >>> all(0.0 <= r["score"] <= 1.0 for r in clf.history_)
    True
    """

    def __init__(self, X_val, y_val, scoring=None):
        X_val = check_samples(X_val, name="X_val")
        if y_val is None:
            raise ValueError("y_val is None; EvaluateEachRound needs the validation labels.")
        y_val = np.asarray(y_val)
        if y_val.ndim == 0 or len(y_val) != len(X_val):
            raise ValueError(
                f"X_val and y_val must hold the same number of samples, got {len(X_val)} "
                f"and {y_val.shape[0] if y_val.ndim else 'a scalar'}."
            )
        if not (scoring is None or isinstance(scoring, str) or callable(scoring)):
            raise TypeError("scoring must be None, a scorer name or a callable "
                            f"scorer(estimator, X, y), got {type(scoring).__name__}.")
        if isinstance(scoring, str):
            get_scorer(scoring)  # an unknown name fails here, not after labels are paid
        self.X_val = X_val
        self.y_val = y_val
        self.scoring = scoring

    def on_fit_begin(self, estimator, **kwargs):
        shape = getattr(estimator, "sample_shape_", None)
        if shape is not None and tuple(self.X_val.shape[1:]) != tuple(shape):
            raise ValueError(
                f"X_val has samples of shape {tuple(self.X_val.shape[1:])}, but the pool's "
                f"samples have shape {tuple(shape)}."
            )
        if is_classifier(estimator):
            classes = getattr(estimator, "classes_", None)
            unknown = [] if classes is None else \
                np.unique(self.y_val[~np.isin(self.y_val, classes)]).tolist()
            if unknown:
                raise ValueError(f"y_val holds labels that are not among the classes "
                                 f"{list(classes)}: {unknown[:5]}.")
        else:
            try:
                values = self.y_val.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"y_val must hold numbers for a regressor, got dtype "
                                f"{self.y_val.dtype}.") from None
            if not np.isfinite(values).all():
                raise ValueError("y_val holds NaN or infinite values.")
        self.scorer_ = check_scoring(estimator, scoring=self.scoring)
        self.score_name_ = _score_name(self.scoring, estimator)

    def on_round_end(self, estimator, record=None, **kwargs):
        if not hasattr(self, "scorer_"):  # called outside fit/partial_fit
            self.on_fit_begin(estimator)
        record.score = float(self.scorer_(estimator, self.X_val, self.y_val))
        record.score_name = self.score_name_


def _score_name(scoring, estimator):
    if scoring is None:
        return "accuracy" if is_classifier(estimator) else "r2"
    if isinstance(scoring, str):
        return scoring
    function = getattr(scoring, "_score_func", scoring)  # a make_scorer scorer
    return getattr(function, "__name__", type(scoring).__name__)


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
