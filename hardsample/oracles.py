"""Oracles: where labels come from (the protocol of a label request and its answer).

An oracle never chooses what to label; it answers for what it is given and says,
sample by sample, which answers succeeded, which failed and which are not
available yet. Two kinds:

- :class:`DatasetOracle`: the hidden labels of a pool (a data set whose labels are
  revealed only when queried);
- :class:`LabelingToolOracle`: any callable labeling tool ``f(X_batch) -> y_batch``
  (a physics solver, a human-in-the-loop service). Running the tool (worker
  processes, timeouts, retries, the failure budget, claims) is
  :mod:`hardsample._tool_runner`'s job; storing labels is
  :class:`~hardsample.journal.AnnotationJournal`'s.

A tool that cannot answer yet (a person has not labeled the sample) raises
:class:`NotLabeledYet`, or returns :data:`PENDING` in place of one label: those
samples are *pending*, neither labeled nor failed.
"""

import functools
import inspect
import numbers
import os
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .journal import AnnotationJournal, JournalError, sample_key


class LabelingError(ValueError):
    """The oracle could not provide the labels a round needs.

    Raised by the meta-estimators when labeling failures (an oracle that raises,
    returns the wrong shape, NaN, or hangs) leave a round short of its budget, and
    by :class:`LabelingToolOracle` when its failure budget (``max_failures``) is
    spent; the message lists the failures, and the labels already paid for are
    kept (``result``).

    Attributes
    ----------
    result : LabelingResult or None
        The answers of the batch so far, when raised by an oracle: its labels
        are already stored in the journal.

    Examples
    --------
    >>> from hardsample import LabelingError
    >>> issubclass(LabelingError, ValueError)
    True
    """

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result


class NotLabeledYet(Exception):
    """Raised by a labeling tool: the samples of this call have no label yet.

    They are *pending* (:attr:`LabelingResult.pending`): not retried, not counted
    as failures, not journaled, their claims released. With ``chunk_size=1``
    (the default) this is per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.oracles import LabelingToolOracle, NotLabeledYet
    >>> def ask_a_person(X):
    ...     raise NotLabeledYet("the annotator has not answered")
    >>> LabelingToolOracle(ask_a_person).label(np.zeros((2, 3))).pending
    {0, 1}
    """


class _Pending:
    """The type of :data:`PENDING` (one instance; pickles to itself)."""

    def __repr__(self):
        return "PENDING"

    def __reduce__(self):
        return "PENDING"


#: Returned by a labeling tool in place of one label: that sample has no label yet.
PENDING = _Pending()


@dataclass
class LabelingResult:
    """The answers for one batch.

    Attributes
    ----------
    labels : list
        One entry per sample: the label, or None where labeling failed or the
        label is pending.
    errors : dict of int to str
        Position in the batch -> why labeling that sample failed.
    inputs : ndarray or None, default=None
        The inputs actually labeled, one row per position, in the shape of the batch
        sent (e.g. the canonical form a labeling tool's ``canonicalize`` step turned
        them into); None when the oracle labeled the batch as sent. A row whose
        canonicalization failed holds the input as sent (its position is in
        ``errors``). Store these, not the batch sent, with the labels.
    pending : set of int, default=set()
        Positions whose label is not available yet (neither a label nor an
        error): ask again later.
    unsent : set of int, default=set()
        Positions never sent: labeling stopped before their turn (the failure
        budget was spent, or the journal failed). Neither labeled nor failed,
        and they cost nothing.
    """

    labels: list
    errors: dict = field(default_factory=dict)
    inputs: Optional[np.ndarray] = None
    pending: set = field(default_factory=set)
    unsent: set = field(default_factory=set)

    @property
    def succeeded(self):
        return np.array([pos not in self.errors and pos not in self.pending
                         and pos not in self.unsent
                         for pos in range(len(self.labels))], dtype=bool)


def label_problem(label):
    """Why a single label is unusable (a string), or None if it looks fine."""
    array = np.asarray(label)
    if array.dtype == object and array.ndim > 0:
        return f"label is a ragged or object array of shape {array.shape}"
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        return "label holds NaN or infinite values"
    if array.dtype.kind not in "biufcUSO":
        return f"label has unsupported dtype {array.dtype}"
    return None


def batch_problem(answer, n):
    """Why a tool's answer for ``n`` samples is not a sequence of ``n`` labels (or None)."""
    if isinstance(answer, (Mapping, Set, str, bytes)):
        return (f"the tool returned a {type(answer).__name__}, not a sequence of labels "
                "in the order of the samples")
    try:
        n_answers = len(answer)
    except TypeError:
        return f"the tool returned {type(answer).__name__}, not a sequence of labels"
    if n_answers != n:
        return f"the tool returned {n_answers} labels for {n} samples"
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


def _is_missing(label, missing):
    if missing is None:
        return False
    if isinstance(missing, float) and np.isnan(missing):
        array = np.asarray(label)
        return array.dtype.kind in "fc" and bool(np.isnan(array).all())
    try:
        return bool(np.all(np.asarray(label) == missing))
    except (TypeError, ValueError):
        return False


class DatasetOracle(BaseOracle):
    """The hidden labels of a pool, revealed only for queried indices.

    Parameters
    ----------
    y : array-like of shape (n_pool, ...)
        The labels of every pool sample; only queried entries are ever read.
    missing : scalar or None, default=None
        The value of an entry not labeled yet (scikit-learn's semi-supervised
        convention: -1 for classes, NaN for regression); such entries are
        returned as pending, not as errors. None: every entry is a label.

    Attributes
    ----------
    n_queries_ : int
        Number of labels revealed so far.

    Examples
    --------
    >>> from hardsample.oracles import DatasetOracle
    >>> oracle = DatasetOracle([3, 1, 4, 1, 5])
    >>> [int(label) for label in oracle.label(None, indices=[0, 2]).labels]
    [3, 4]
    >>> oracle.n_queries_
    2
    >>> DatasetOracle([3, -1, 4], missing=-1).label(None, indices=[0, 1]).pending
    {1}
    """

    def __init__(self, y, missing=None):
        self.y = y
        self.missing = missing
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
        pending = {pos for pos, lab in enumerate(labels) if _is_missing(lab, self.missing)}
        errors = {pos: problem for pos, lab in enumerate(labels)
                  if pos not in pending and (problem := label_problem(lab)) is not None}
        return LabelingResult([None if pos in errors or pos in pending else lab
                               for pos, lab in enumerate(labels)], errors, pending=pending)


def _describe_callable(func):
    """A stable text naming a callable and, where its repr shows it, its settings."""
    if isinstance(func, functools.partial):
        return (f"functools.partial({_describe_callable(func.func)}, *{func.args!r}, "
                f"**{func.keywords!r})")
    if inspect.isfunction(func) or inspect.isbuiltin(func) or inspect.isclass(func):
        return f"{getattr(func, '__module__', None)}.{func.__qualname__}"
    if inspect.ismethod(func):
        return f"{_describe_callable(func.__func__)} of {_describe_callable(func.__self__)}"
    cls = type(func)
    name = f"{cls.__module__}.{cls.__qualname__}"
    text = repr(func)
    if " at 0x" in text or text.startswith("<"):  # default repr: says nothing of the settings
        return name
    return f"{name}: {text}"


def _code_names(code):
    """Global names read by ``code`` and the code objects nested in it."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _plain_global(value):
    return (inspect.ismodule(value) or inspect.isclass(value) or inspect.isroutine(value)
            or isinstance(value, np.ufunc))


def _unsignable(func):
    """Why ``func``'s derived signature cannot tell two configurations apart (or None)."""
    if isinstance(func, functools.partial):
        return _unsignable(func.func)
    if inspect.ismethod(func):
        return _unsignable(func.__func__) or _unsignable(func.__self__)
    if inspect.isfunction(func):
        if func.__name__ == "<lambda>":
            return "it is a lambda"
        if func.__closure__:
            return "it is a closure (it reads variables of an enclosing function)"
        if "<locals>" in func.__qualname__:
            return "it is a nested function"
        for name in sorted(_code_names(func.__code__)):
            if name in func.__globals__ and not _plain_global(func.__globals__[name]):
                return (f"it reads the module global {name!r} "
                        f"({type(func.__globals__[name]).__name__}), which may change")
        return None
    if inspect.isbuiltin(func) or inspect.isclass(func):
        return None
    text = repr(func)
    if (" at 0x" in text or text.startswith("<")) and getattr(func, "__dict__", None):
        return "its repr does not show its settings"
    return None


def tool_signature(func, journal_key=None):
    """The run signature a journal stores: ``journal_key`` or one derived from ``func``.

    The derived signature is the tool's qualified name, followed by its ``repr``
    for callable objects whose ``repr`` shows their settings (e.g. scikit-learn
    style objects) and by the bound arguments of a ``functools.partial``. A tool
    whose signature cannot tell two configurations apart is refused: lambdas,
    closures, nested functions, functions reading module globals other than
    modules, functions and classes, and objects with state but a default
    ``repr``. Pass ``journal_key`` for them.

    Raises
    ------
    ValueError
        If no signature can be derived from ``func`` and ``journal_key`` is None.

    Examples
    --------
    >>> import functools
    >>> from hardsample.oracles import tool_signature
    >>> tool_signature(abs)
    'builtins.abs'
    >>> tool_signature(functools.partial(round, ndigits=2))
    "functools.partial(builtins.round, *(), **{'ndigits': 2})"
    >>> tool_signature(abs, journal_key="solver v2, mesh 0.1")
    'solver v2, mesh 0.1'
    >>> tool_signature(lambda X: X)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: Cannot sign the journal from the tool <lambda>: it is a lambda; ...
    """
    if journal_key is not None:
        if not isinstance(journal_key, str) or not journal_key:
            raise TypeError(f"journal_key must be a non-empty str or None, got {journal_key!r}.")
        return journal_key
    reason = _unsignable(func)
    if reason is not None:
        name = getattr(func, "__qualname__", type(func).__qualname__)
        raise ValueError(
            f"Cannot sign the journal from the tool {name}: {reason}; two configurations of "
            "it would get the same signature and reuse each other's labels. Pass "
            "journal_key='<tool name, version and settings>' to LabelingToolOracle.")
    return _describe_callable(func)


def _canonical_problem(out, shape):
    """Why a canonicalizer's output is unusable for a batch of ``shape`` (or None)."""
    if out.dtype.kind not in "biuf":
        return f"it returned dtype {out.dtype}, not real numbers"
    if out.shape != tuple(shape):
        return f"it returned shape {out.shape} for a batch of shape {tuple(shape)}"
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        return "it returned NaN or infinite values"
    return None


def _call_canonicalizer(func, X):
    """``(canonical batch, None)`` or ``(None, why it failed)``."""
    try:
        out = np.asarray(func(X))
    except Exception as exc:  # noqa: BLE001 - any failure of a user step is recorded
        return None, f"{type(exc).__name__}: {exc}"
    return (None, problem) if (problem := _canonical_problem(out, X.shape)) else (out, None)


def canonicalize_batch(func, X):
    """Apply a labeling tool's ``canonicalize`` step to a batch, sample by sample on failure.

    Parameters
    ----------
    func : callable
        ``func(X_batch) -> X_canonical`` of the batch's shape, finite real values.
    X : ndarray of shape (n_samples, ...)

    Returns
    -------
    inputs : ndarray of the shape of ``X``
        The canonical batch (in the dtype ``func`` returns); rows that failed keep
        the input as sent.
    errors : dict of int to str
        Position -> why canonicalizing that sample failed.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.oracles import canonicalize_batch
    >>> def binarize(X):
    ...     if (X < 0).any():
    ...         raise ValueError("negative input")
    ...     return (X > 0.5).astype(np.float32)
    >>> inputs, errors = canonicalize_batch(binarize, np.array([[0.2, 0.7], [-1.0, 0.9]]))
    >>> inputs[0].tolist(), errors
    ([0.0, 1.0], {1: 'canonicalize failed: ValueError: negative input'})
    """
    if len(X) == 0:
        return X, {}
    out, problem = _call_canonicalizer(func, X)
    if problem is None:
        return out, {}
    rows, errors = [], {}
    for pos in range(len(X)):
        row, problem = _call_canonicalizer(func, X[pos:pos + 1])
        rows.append(None if row is None else row[0])
        if problem is not None:
            errors[pos] = f"canonicalize failed: {problem}"
    dtype = next((row.dtype for row in rows if row is not None), X.dtype)
    inputs = X.astype(dtype, copy=True)
    for pos, row in enumerate(rows):
        if row is not None:
            inputs[pos] = row
    return inputs, errors


class LabelingToolOracle(BaseOracle):
    """Wrap a labeling tool ``func(X_batch) -> y_batch`` as an oracle.

    Each call of ``func`` gets ``chunk_size`` samples (one by default). A call
    that raises, times out or returns the wrong number of labels is retried
    sample by sample, with exponential back-off; a sample that still fails after
    ``max_retries`` further attempts (or whose label is NaN, infinite or ragged)
    is recorded in ``failures_`` and skipped. Once the failed attempts exceed
    ``max_failures``, nothing more is sent and :class:`LabelingError` is raised,
    listing the failures; the labels already paid for are stored and carried by
    the error (``err.result``).

    What is guaranteed with a ``journal``:

    - every label is written to the journal (one short transaction) as soon as
      the call that produced it returns, before the next call is sent
      (in process) or as each worker answers (in parallel): a crash loses at
      most the calls in flight, whose labels were not delivered;
    - samples already in the journal are answered from it without calling the
      tool; before a sample is sent it is *claimed* in the journal, and another
      process meeting that claim waits for the label (``claim_wait``) instead
      of paying for it again;
    - worker processes (``n_jobs > 1`` or ``timeout``) are killed with their
      parent, at a timeout and when the batch is done;
    - a label the journal cannot store (locked, damaged, full) is never dropped:
      :class:`~hardsample.journal.JournalError` carries it (``err.unsaved``), and
      the oracle writes it at its next call.

    A tool may declare the input it actually labels: a ``canonicalize(X_batch)``
    method (or the ``canonicalize`` parameter) mapping a batch to the canonical
    inputs of the same shape (e.g. a solver's cleaned, binary mask of a soft
    decoded mask). The oracle applies it before the journal lookup and the
    labeling, so the tool and the journal see canonical inputs, and returns them
    as :attr:`LabelingResult.inputs`: what is labeled is what the estimator keeps.
    A sample whose canonicalization raises, changes the shape or gives NaN/inf is
    a recorded failure (never sent to the tool, so no label is paid for it).

    A tool that cannot answer yet raises :class:`NotLabeledYet` (every sample of
    that call is pending) or returns :data:`PENDING` for one sample. A tool
    taking an ``indices`` keyword gets the pool indices of its batch (None for
    synthetic samples).

    Parameters
    ----------
    func : callable
        ``func(X_batch) -> y_batch`` with ``len(y_batch) == len(X_batch)``, or
        ``func(X_batch, indices=...)``. With worker processes it is sent with
        cloudpickle (lambdas and closures are fine).
    n_jobs : int or None, default=None
        Worker processes labeling in parallel (joblib semantics: None means 1
        unless in a ``joblib.parallel_config`` context, -1 all CPUs). With 1 and
        no ``timeout``, ``func`` runs in this process. Under a non-default joblib
        backend (``joblib.parallel_config(backend="dask")``), calls go through
        joblib to that backend instead.
    max_retries : int, default=1
        Further attempts for a sample whose labeling failed.
    journal : str, path-like, :class:`~hardsample.journal.AnnotationJournal` or None, \
default=None
        Where paid-for labels are persisted and looked up (an SQLite file).
    timeout : float or None, default=None
        Seconds after which a call counts as failed. The call runs in a worker
        process, killed at the timeout (nothing keeps running). Under a joblib
        backend, joblib's own timeout.
    journal_key : str or None, default=None
        The run signature stored in the journal; None derives it from ``func``
        (see :func:`tool_signature`, which refuses lambdas, closures and
        functions configured through globals). A journal written under another
        signature is refused.
    chunk_size : int or None, default=None
        Samples per call of ``func``; None means 1, so that each label is stored
        before the next is paid for. Larger chunks suit batched tools; a crash
        during a call loses that call's work.
    canonicalize : callable or None, default=None
        ``canonicalize(X_batch) -> X_canonical`` (same shape, finite values),
        applied in this process before the journal lookup and the labeling; None
        uses ``func.canonicalize`` when the tool has one (e.g.
        :meth:`hardsample.datasets.VesselStressSolver.canonicalize`), else labels
        the batch as sent.
    max_failures : int, float or None, default=None
        Failed attempts allowed per round (a failed call counts once, an
        unusable label once) before labeling stops with a :class:`LabelingError`:
        an int is a count, a float a fraction of the round's size. None means
        as many failures as the round wants labels (at least ``1 + max_retries``),
        so an always-failing tool is called at most about twice the round size. Under an estimator
        the budget spans the round's replacement proposals; called directly,
        each :meth:`label` call is a round.
    retry_backoff : float, default=0.1
        Seconds before the first retry of a sample, doubled at each further one
        (at most 10 s).
    claim_wait : float, default=600.0
        Seconds to wait, without any label arriving, for samples another live
        process has claimed; then they are given up as errors (never paid twice).

    Attributes
    ----------
    n_queries_ : int
        Samples sent to the tool, retries included (journal reuses excluded).
    n_calls_ : int
        Calls of ``func``.
    n_reused_ : int
        Labels answered from the journal instead of the tool.
    failures_ : list of dict
        ``{"sample": index in the batch, "error": str}`` for each sample given up on,
        across all batches (the estimator records its own, richer, list).
    unsaved_ : list of (str, object)
        ``(sample key, label)`` pairs paid for that the journal could not store
        yet; written at the next call.
    journal_ : AnnotationJournal or None
        The open journal (after the first call of :meth:`label`).

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.oracles import LabelingToolOracle
    >>> oracle = LabelingToolOracle(lambda X: X.sum(axis=1))
    >>> oracle.label(np.ones((2, 3))).labels
    [np.float64(3.0), np.float64(3.0)]

    Labels persisted in a journal are reused by a later run:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.sqlite")
    >>> def solver(X):
    ...     return X.sum(axis=1)
    >>> first = LabelingToolOracle(solver, journal=path, journal_key="sum v1")
    >>> first.label(np.ones((2, 3))).labels
    [np.float64(3.0), np.float64(3.0)]
    >>> again = LabelingToolOracle(solver, journal=path, journal_key="sum v1")
    >>> again.label(np.ones((2, 3))).labels, again.n_calls_, again.n_reused_
    ([np.float64(3.0), np.float64(3.0)], 0, 2)

    Labeling on a dask cluster (``pip install "dask[distributed]"``)::

        import joblib
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=4) as cluster, Client(cluster):
            with joblib.parallel_config(backend="dask"):
                reg.fit(X_unlabeled, oracle=LabelingToolOracle(solver, timeout=600,
                                                               journal="labels.sqlite"))
    """

    can_label_synthetic = True

    def __init__(self, func, n_jobs=None, max_retries=1, journal=None, timeout=None,
                 journal_key=None, chunk_size=None, canonicalize=None, max_failures=None,
                 retry_backoff=0.1, claim_wait=600.0):
        self.func = func
        self.n_jobs = n_jobs
        self.max_retries = max_retries
        self.journal = journal
        self.timeout = timeout
        self.journal_key = journal_key
        self.chunk_size = chunk_size
        self.canonicalize = canonicalize
        self.max_failures = max_failures
        self.retry_backoff = retry_backoff
        self.claim_wait = claim_wait
        self.n_queries_ = 0
        self.n_calls_ = 0
        self.n_reused_ = 0
        self.failures_ = []
        self.unsaved_ = []
        self.journal_ = None
        self._round_budget = None

    def _check_params(self):
        if not callable(self.func):
            raise TypeError(f"func must be callable, got {type(self.func).__name__}.")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, (int, np.integer)) \
                or self.max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative int, got {self.max_retries!r}.")
        for name in ("timeout", "claim_wait"):
            value = getattr(self, name)
            if (value is not None or name == "claim_wait") and (
                    isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not np.isfinite(value) or value <= 0):
                raise ValueError(f"{name} must be {'None or ' if name == 'timeout' else ''}"
                                 f"a positive number of seconds, got {value!r}.")
        if isinstance(self.retry_backoff, bool) or not isinstance(
                self.retry_backoff, numbers.Real) or not 0 <= self.retry_backoff < np.inf:
            raise ValueError("retry_backoff must be a non-negative number of seconds, got "
                             f"{self.retry_backoff!r}.")
        if self.chunk_size is not None and (
                isinstance(self.chunk_size, bool)
                or not isinstance(self.chunk_size, numbers.Integral) or self.chunk_size < 1):
            raise ValueError(f"chunk_size must be None or a positive int, got {self.chunk_size!r}.")
        limit = self.max_failures
        if limit is not None and (
                isinstance(limit, bool) or not isinstance(limit, numbers.Real)
                or (isinstance(limit, numbers.Integral) and limit < 0)
                or (not isinstance(limit, numbers.Integral)
                    and not (np.isfinite(limit) and limit > 0))):
            raise ValueError("max_failures must be None, a non-negative int (a count) or a "
                             f"positive float (a fraction of the round), got {limit!r}.")
        if self.journal is not None and not isinstance(
                self.journal, (str, os.PathLike, AnnotationJournal)):
            raise TypeError("journal must be a file path, an AnnotationJournal or None, got "
                            f"{type(self.journal).__name__}.")
        if self.canonicalize is not None and not callable(self.canonicalize):
            raise TypeError("canonicalize must be a callable or None, got "
                            f"{type(self.canonicalize).__name__}.")

    def _canonicalizer(self):
        """The canonicalize step in use: the parameter, else the tool's own, else None."""
        if self.canonicalize is not None:
            return self.canonicalize
        found = getattr(self.func, "canonicalize", None)
        return found if callable(found) else None

    def _open_journal(self):
        if self.journal is None:
            return None
        if self.journal_ is None:
            signature = tool_signature(self.func, self.journal_key)
            if isinstance(self.journal, AnnotationJournal):
                self.journal_ = self.journal.check_signature(signature)
            else:
                self.journal_ = AnnotationJournal(self.journal, signature=signature)
        return self.journal_

    def __getstate__(self):
        state = self.__dict__.copy()
        state["journal_"] = None  # reopened on demand
        return state

    # ------------------------------------------------------------ failure budget
    def _budget_limit(self, n):
        if self.max_failures is None:  # one sample may use all its retries
            return max(int(n), 1 + int(self.max_retries))
        if isinstance(self.max_failures, numbers.Integral):
            return int(self.max_failures)
        return int(np.ceil(self.max_failures * n))

    def begin_round(self, n_wanted):
        """Open a round of ``n_wanted`` labels: its failure budget spans every
        :meth:`label` call until :meth:`end_round` (called by the estimators)."""
        from ._tool_runner import FailureBudget

        self._check_params()
        self._round_budget = FailureBudget(self._budget_limit(n_wanted))

    def end_round(self):
        """Close the round opened by :meth:`begin_round`."""
        self._round_budget = None

    # ----------------------------------------------------------------- labeling
    def _runner(self):
        from joblib import effective_n_jobs
        from joblib._parallel_backends import LokyBackend
        from joblib.parallel import get_active_backend

        from ._tool_runner import ToolRunner

        backend, _ = get_active_backend()
        return ToolRunner(
            self.func, n_jobs=max(1, effective_n_jobs(self.n_jobs)), timeout=self.timeout,
            max_retries=self.max_retries, retry_backoff=self.retry_backoff,
            chunk_size=self.chunk_size or 1, claim_wait=self.claim_wait,
            use_joblib=not isinstance(backend, LokyBackend))

    def _flush_unsaved(self, journal):
        if self.unsaved_ and journal is not None:
            try:
                journal.put_labels(self.unsaved_)
            except JournalError as exc:
                exc.unsaved = list(self.unsaved_)
                raise
            self.unsaved_ = []

    def label(self, X, indices=None):
        """Label samples ``X``, pool rows ``indices`` (None: synthetic samples).

        Returns
        -------
        LabelingResult
            With ``inputs`` the canonical batch when a canonicalize step is in use.

        Raises
        ------
        LabelingError
            When the failure budget is spent (``err.result``: the answers so far).
        JournalError
            When the journal cannot store a paid label (``err.unsaved``: the labels
            not stored, also kept in ``unsaved_``; ``err.result``).
        """
        from ._tool_runner import FailureBudget

        self._check_params()
        X = np.asarray(X)
        if X.ndim == 0:
            raise ValueError("X must be a batch of samples (an array with a first axis).")
        if indices is not None and len(indices) != len(X):
            raise ValueError(f"indices has {len(indices)} entries for {len(X)} samples.")
        journal = self._open_journal()
        self._flush_unsaved(journal)
        labels = [None] * len(X)
        errors = {}
        inputs = None
        canonicalize = self._canonicalizer()
        if canonicalize is not None:
            X, errors = canonicalize_batch(canonicalize, X)
            inputs = X
        keys = None
        todo = np.array([pos for pos in range(len(X)) if pos not in errors], dtype=np.int64)
        if journal is not None:
            keys = [sample_key(x) for x in X]
            stored = journal.get_many(None, keys=[keys[pos] for pos in todo])
            # map the journal's answers back by batch position, not by to-do rank
            for rank, label in stored.items():
                labels[int(todo[rank])] = label
            self.n_reused_ += len(stored)
            todo = np.array([pos for i, pos in enumerate(todo) if i not in stored],
                            dtype=np.int64)

        budget = self._round_budget or FailureBudget(self._budget_limit(len(X)))
        run = self._runner().run(X, todo, budget, journal=journal, keys=keys, indices=indices)
        self.n_calls_ += run.n_calls
        self.n_queries_ += run.n_queries
        self.n_reused_ += len(run.reused)
        for source in (run.labels, run.reused):
            for pos, label in source.items():
                labels[pos] = label
        errors.update(run.errors)
        errors.update(run.skipped)
        for pos in run.pending:
            errors.pop(pos, None)
        answered = set(run.labels) | set(run.reused) | set(run.errors) | set(run.pending)
        unsent = {int(pos) for pos in todo if int(pos) not in answered | set(run.skipped)}
        result = LabelingResult(labels, errors, inputs, pending=set(run.pending), unsent=unsent)
        self.unsaved_.extend(run.unsaved)
        if run.journal_error is not None:
            run.journal_error.unsaved = list(self.unsaved_)
            run.journal_error.result = result
            raise run.journal_error
        failed = sorted(set(errors) - set(run.skipped))
        if journal is not None and failed:
            journal.put_failures([(X[pos], errors[pos]) for pos in failed],
                                 keys=[keys[pos] for pos in failed])
        self.failures_.extend({"sample": pos, "error": err} for pos, err in sorted(errors.items()))
        if run.budget_exceeded:
            raise LabelingError(self._budget_message(budget, errors), result=result)
        return result

    def _budget_message(self, budget, errors):
        listed = "; ".join(f"sample {pos}: {err}" for pos, err in sorted(errors.items())[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        return (f"The labeling tool failed {budget.spent} times, more than max_failures="
                f"{self.max_failures!r} allows ({budget.limit}); nothing more was sent. "
                f"Failures: {listed}{more}. The labels already paid for are stored and in "
                "err.result.")

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
