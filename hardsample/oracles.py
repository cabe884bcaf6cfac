"""Oracles: where labels come from.

An oracle never chooses what to label; it answers for what it is given and says,
sample by sample, which answers succeeded. Two kinds:

- :class:`DatasetOracle`: the hidden labels of a pool (a data set whose labels are
  revealed only when queried);
- :class:`LabelingToolOracle`: any callable labeling tool ``f(X_batch) -> y_batch``
  (a physics solver, a human-in-the-loop service), called in parallel through
  joblib, with retries; a sample whose labeling keeps failing is recorded and
  skipped.
"""

from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed


class LabelingError(RuntimeError):
    """The oracle could not provide the labels a round needs."""


@dataclass
class LabelingResult:
    """The answers for one batch.

    Attributes
    ----------
    labels : list
        One entry per sample: the label, or None where labeling failed.
    errors : dict of int to str
        Position in the batch -> why labeling that sample failed.
    """

    labels: list
    errors: dict = field(default_factory=dict)

    @property
    def succeeded(self):
        return np.array([pos not in self.errors for pos in range(len(self.labels))], dtype=bool)


def _label_problem(label):
    """Why a single label is unusable (a string), or None if it looks fine."""
    array = np.asarray(label)
    if array.dtype == object and array.ndim > 0:
        return f"label is a ragged or object array of shape {array.shape}"
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        return "label holds NaN or infinite values"
    if array.dtype.kind not in "biufcUSO":
        return f"label has unsupported dtype {array.dtype}"
    return None


class BaseOracle:
    """Base class of the oracles.

    Attributes
    ----------
    n_queries_ : int
        Samples sent to the oracle so far (every attempt counts).
    """

    can_label_synthetic = False

    def label(self, X, indices=None):
        """Label samples ``X`` (pool rows ``indices`` where known).

        Returns
        -------
        LabelingResult
        """
        raise NotImplementedError


class DatasetOracle(BaseOracle):
    """The hidden labels of a pool, revealed only for queried indices.

    Parameters
    ----------
    y : array-like of shape (n_pool, ...)
        The labels of every pool sample; only queried entries are ever read.

    Attributes
    ----------
    n_queries_ : int
        Number of labels revealed so far.

    Examples
    --------
    >>> from hardsample.oracles import DatasetOracle
    >>> oracle = DatasetOracle([3, 1, 4, 1, 5])
    >>> oracle.label(None, indices=[0, 2]).labels
    [3, 4]
    >>> oracle.n_queries_
    2
    """

    def __init__(self, y):
        self.y = y
        self.n_queries_ = 0

    def label(self, X, indices=None):
        if indices is None:
            raise TypeError(
                "DatasetOracle only reveals labels of pool samples (by index); synthetic "
                "samples need a labeling tool: pass oracle=<callable>."
            )
        indices = np.asarray(indices, dtype=np.int64)
        y = np.asarray(self.y)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(y)):
            raise IndexError(f"Pool indices out of range for {len(y)} labels.")
        self.n_queries_ += len(indices)
        labels = [y[i] for i in indices]
        errors = {pos: problem for pos, lab in enumerate(labels)
                  if (problem := _label_problem(lab)) is not None}
        return LabelingResult([None if pos in errors else lab for pos, lab in enumerate(labels)],
                              errors)


def _call_tool(func, X):
    """Call the tool on a batch; exceptions come back as values (they may cross processes)."""
    try:
        return func(X), None
    except Exception as exc:  # noqa: BLE001 - any failure of a user tool is recorded
        return None, f"{type(exc).__name__}: {exc}"


class LabelingToolOracle(BaseOracle):
    """Wrap a labeling tool ``func(X_batch) -> y_batch`` as an oracle.

    Batches are split into chunks labeled in parallel through joblib, so
    ``joblib.parallel_config(backend="dask")`` spreads labeling over a dask cluster
    without code changes. A chunk whose call raises or returns the wrong number of
    labels is relabeled sample by sample; a sample that still fails after
    ``max_retries`` further attempts is recorded in ``failures_`` and skipped.

    Parameters
    ----------
    func : callable
        ``func(X_batch) -> y_batch`` with ``len(y_batch) == len(X_batch)``.
    n_jobs : int or None, default=None
        Parallel jobs (joblib semantics; None means 1 unless in a
        ``joblib.parallel_config`` context).
    max_retries : int, default=1
        Further attempts for a sample whose labeling failed.

    Attributes
    ----------
    n_queries_ : int
        Samples sent to the tool, retries included.
    n_calls_ : int
        Calls of ``func``.
    failures_ : list of dict
        ``{"sample": index in the batch, "error": str}`` for each sample given up on,
        across all batches (the estimator records its own, richer, list).

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.oracles import LabelingToolOracle
    >>> oracle = LabelingToolOracle(lambda X: X.sum(axis=1))
    >>> oracle.label(np.ones((2, 3))).labels
    [3.0, 3.0]
    """

    can_label_synthetic = True

    def __init__(self, func, n_jobs=None, max_retries=1):
        self.func = func
        self.n_jobs = n_jobs
        self.max_retries = max_retries
        self.n_queries_ = 0
        self.n_calls_ = 0
        self.failures_ = []

    def _check_params(self):
        if not callable(self.func):
            raise TypeError(f"func must be callable, got {type(self.func).__name__}.")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, (int, np.integer)) \
                or self.max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative int, got {self.max_retries!r}.")

    def _run(self, batches):
        self.n_calls_ += len(batches)
        self.n_queries_ += sum(len(b) for b in batches)
        if len(batches) == 1:
            return [_call_tool(self.func, batches[0])]
        return Parallel(n_jobs=self.n_jobs)(delayed(_call_tool)(self.func, b) for b in batches)

    def _chunks(self, n):
        from joblib import effective_n_jobs

        n_chunks = max(1, min(n, effective_n_jobs(self.n_jobs)))
        return [c for c in np.array_split(np.arange(n), n_chunks) if len(c)]

    def label(self, X, indices=None):
        self._check_params()
        X = np.asarray(X)
        labels = [None] * len(X)
        errors = {}
        chunks = self._chunks(len(X))
        retry = []
        for chunk, (answer, error) in zip(chunks, self._run([X[c] for c in chunks])):
            if error is None:
                error = self._batch_problem(answer, len(chunk))
            if error is not None:
                retry.extend(chunk)
                errors.update({int(pos): error for pos in chunk})
                continue
            for pos, lab in zip(chunk, answer):
                self._accept(int(pos), lab, labels, errors)
        for _ in range(self.max_retries):
            retry = [pos for pos in retry if pos in errors]
            if not retry:
                break
            answers = self._run([X[pos:pos + 1] for pos in retry])
            for pos, (answer, error) in zip(retry, answers):
                error = error or self._batch_problem(answer, 1)
                if error is None:
                    errors.pop(pos, None)
                    self._accept(pos, answer[0], labels, errors)
                else:
                    errors[pos] = error
        self.failures_.extend({"sample": pos, "error": err} for pos, err in sorted(errors.items()))
        return LabelingResult(labels, errors)

    @staticmethod
    def _batch_problem(answer, n):
        try:
            n_answers = len(answer)
        except TypeError:
            return f"the tool returned {type(answer).__name__}, not a sequence of labels"
        if n_answers != n:
            return f"the tool returned {n_answers} labels for {n} samples"
        return None

    @staticmethod
    def _accept(pos, label, labels, errors):
        problem = _label_problem(label)
        if problem is None:
            labels[pos] = label
            errors.pop(pos, None)
        else:
            errors[pos] = problem


def check_oracle(y, oracle):
    """Turn the ``y`` / ``oracle`` arguments of ``fit`` into one oracle."""
    if y is not None and oracle is not None:
        raise ValueError("Pass either y (the pool's hidden labels) or oracle, not both.")
    if y is not None:
        return DatasetOracle(y)
    if oracle is None:
        return None
    if isinstance(oracle, BaseOracle):
        return oracle
    if callable(oracle):
        return LabelingToolOracle(oracle)
    raise TypeError(
        f"oracle must be a callable labeling tool or an oracle object, got {type(oracle).__name__}."
    )
