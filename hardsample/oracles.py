"""Oracles: where labels come from.

An oracle never chooses what to label; it answers for what it is given and says,
sample by sample, which answers succeeded. Two kinds:

- :class:`DatasetOracle`: the hidden labels of a pool (a data set whose labels are
  revealed only when queried);
- :class:`LabelingToolOracle`: any callable labeling tool ``f(X_batch) -> y_batch``
  (a physics solver, a human-in-the-loop service), called in parallel through
  joblib (any joblib backend, dask included), with retries and a timeout; a
  sample whose labeling keeps failing is recorded and skipped. Labels can be
  persisted in an :class:`~hardsample.journal.AnnotationJournal` the moment they
  are paid for, and are reused from it by later runs.
"""

import functools
import inspect
import multiprocessing
import numbers
import os
import threading
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from joblib import Parallel, delayed

from .journal import AnnotationJournal, sample_key


class NotLabeledYet(Exception):
    """Raised by a labeling tool for a batch whose labels are not available yet.

    The oracle reports the batch's samples in :attr:`LabelingResult.pending`: they
    are neither labels nor failures, and the estimator asks for them again later.
    """


class _Pending:
    """The type of :data:`PENDING` (one instance, kept across pickling)."""

    def __repr__(self):
        return "PENDING"

    def __reduce__(self):
        return "PENDING"


#: What a labeling tool returns, in place of a label, for a sample not labeled yet.
PENDING = _Pending()

#: The error text :func:`_call_tool` gives for a call that raised NotLabeledYet.
_NOT_YET = "NotLabeledYet"


def _is_missing(label, missing):
    """Whether ``label`` is the "not labeled yet" marker ``missing`` (NaN-aware)."""
    if missing is None:
        return False
    if isinstance(missing, float) and np.isnan(missing):
        array = np.asarray(label)
        return array.dtype.kind in "fc" and array.size > 0 and bool(np.isnan(array).all())
    try:
        return bool(np.asarray(label).shape == () and label == missing)
    except (TypeError, ValueError):
        return False


class LabelingError(ValueError):
    """The oracle could not provide the labels a round needs.

    Raised by the meta-estimators when labeling failures (an oracle that raises,
    returns the wrong shape, NaN, or hangs) leave a round short of its budget; the
    message says why, and the labels already paid for are kept.

    Examples
    --------
    >>> from hardsample import LabelingError
    >>> issubclass(LabelingError, ValueError)
    True
    """


@dataclass
class LabelingResult:
    """The answers for one batch.

    Attributes
    ----------
    labels : list
        One entry per sample: the label, or None where labeling failed.
    errors : dict of int to str
        Position in the batch -> why labeling that sample failed.
    inputs : ndarray or None, default=None
        The inputs actually labeled, one row per position, in the shape of the batch
        sent (e.g. the canonical form a labeling tool's ``canonicalize`` step turned
        them into); None when the oracle labeled the batch as sent. A row whose
        canonicalization failed holds the input as sent (its position is in
        ``errors``). Store these, not the batch sent, with the labels.
    pending : set of int, default=set()
        Positions in the batch whose label is not available yet: neither labels nor
        errors.
    """

    labels: list
    errors: dict = field(default_factory=dict)
    inputs: Optional[np.ndarray] = None
    pending: set = field(default_factory=set)

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
    missing : object or None, default=None
        The entry of ``y`` that means "not labeled yet" (``-1`` for classes,
        ``np.nan`` for targets, NaN-aware): such samples are reported in
        :attr:`LabelingResult.pending`. None: every entry is a label.

    Attributes
    ----------
    n_queries_ : int
        Number of labels revealed so far (pending samples excluded).

    Examples
    --------
    >>> from hardsample.oracles import DatasetOracle
    >>> oracle = DatasetOracle([3, 1, 4, 1, 5])
    >>> [int(label) for label in oracle.label(None, indices=[0, 2]).labels]
    [3, 4]
    >>> oracle.n_queries_
    2
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
        labels = [y[i] for i in indices]
        pending = {pos for pos, lab in enumerate(labels) if _is_missing(lab, self.missing)}
        self.n_queries_ += len(indices) - len(pending)
        errors = {pos: problem for pos, lab in enumerate(labels)
                  if pos not in pending and (problem := _label_problem(lab)) is not None}
        return LabelingResult([None if pos in errors or pos in pending else lab
                               for pos, lab in enumerate(labels)], errors, pending=pending)


#: Extra seconds joblib waits for a parallel worker past ``timeout`` before aborting.
BACKSTOP_SECONDS = 30.0

_TIMEOUT_ERRORS = (TimeoutError, multiprocessing.TimeoutError)


def _call_tool(func, X):
    """Call the tool on a batch; exceptions come back as values (they may cross processes)."""
    try:
        return func(X), None
    except NotLabeledYet:
        return None, _NOT_YET
    except Exception as exc:  # noqa: BLE001 - any failure of a user tool is recorded
        return None, f"{type(exc).__name__}: {exc}"


def _call_tool_with_timeout(func, X, timeout):
    """Call the tool in a daemon thread, giving up after ``timeout`` seconds.

    A thread cannot be killed: a tool that hangs keeps running in the background
    (holding its memory and a CPU) until it returns, but the run goes on.
    """
    box = {}

    def target():
        box["result"] = _call_tool(func, X)

    thread = threading.Thread(target=target, name="hardsample-labeling", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return None, _timeout_message(timeout)
    return box["result"]


def _timeout_message(timeout):
    return f"TimeoutError: labeling took longer than timeout={timeout:g} s"


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


def tool_signature(func, journal_key=None):
    """The run signature a journal stores: ``journal_key`` or one derived from ``func``.

    The derived signature is the tool's qualified name, followed by its ``repr``
    for callable objects whose ``repr`` shows their settings (e.g. scikit-learn
    style objects) and by the bound arguments of a ``functools.partial``. Two
    lambdas of the same function, or tools configured through globals, cannot be
    told apart: pass ``journal_key`` for them.

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
    """
    if journal_key is not None:
        if not isinstance(journal_key, str) or not journal_key:
            raise TypeError(f"journal_key must be a non-empty str or None, got {journal_key!r}.")
        return journal_key
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

    Batches are split into chunks labeled in parallel through joblib, so
    ``joblib.parallel_config(backend="dask")`` spreads labeling over a dask cluster
    without code changes. A chunk whose call raises, times out or returns the wrong
    number of labels is relabeled sample by sample; a sample that still fails after
    ``max_retries`` further attempts (or whose label is NaN, infinite or ragged) is
    recorded in ``failures_`` and skipped.

    A tool may declare the input it actually labels: a ``canonicalize(X_batch)``
    method (or the ``canonicalize`` parameter) mapping a batch to the canonical
    inputs of the same shape (e.g. a solver's cleaned, binary mask of a soft
    decoded mask). The oracle applies it before the journal lookup and the
    labeling, so the tool and the journal see canonical inputs, and returns them
    as :attr:`LabelingResult.inputs`: what is labeled is what the estimator keeps.
    A sample whose canonicalization raises, changes the shape or gives NaN/inf is
    a recorded failure (never sent to the tool, so no label is paid for it).

    With a ``journal``, every label is written to an SQLite file the moment its
    chunk comes back (chunks are processed as they complete), and samples already
    in the journal are answered from it without calling the tool: a crashed or
    repeated run never pays for the same label twice.

    Parameters
    ----------
    func : callable
        ``func(X_batch) -> y_batch`` with ``len(y_batch) == len(X_batch)``. With
        process-based parallelism (joblib's default ``loky`` backend, dask) it must
        be picklable (cloudpickle: lambdas and closures are fine).
    n_jobs : int or None, default=None
        Parallel jobs (joblib semantics; None means 1 unless in a
        ``joblib.parallel_config`` context, e.g. the number of dask worker threads).
    max_retries : int, default=1
        Further attempts for a sample whose labeling failed.
    journal : str, path-like, :class:`~hardsample.journal.AnnotationJournal` or None, \
default=None
        Where paid-for labels are persisted and looked up (an SQLite file).
    timeout : float or None, default=None
        Seconds after which the labeling of a chunk (or of a retried sample) counts
        as failed. Each call runs in a daemon thread (of the worker, in parallel)
        that is abandoned after ``timeout`` seconds: a thread cannot be killed, so a
        hung call keeps its memory and CPU until it returns, but the run goes on. In
        parallel, joblib's own ``timeout`` is set to ``timeout + max(timeout, 30)``
        s as a backstop for workers that cannot answer at all (a tool stuck in C
        code holding the GIL): the loky backend then kills its worker processes,
        dask cancels the task. joblib's threading backend has no backstop.
    journal_key : str or None, default=None
        The run signature stored in the journal; None derives it from ``func`` (see
        :func:`tool_signature`). A journal written under another signature is
        refused with a ValueError.
    chunk_size : int or None, default=None
        Samples per call of ``func``; None splits each batch into one chunk per
        job. Smaller chunks balance the load and journal labels more often.
    canonicalize : callable or None, default=None
        ``canonicalize(X_batch) -> X_canonical`` (same shape, finite values),
        applied in this process before the journal lookup and the labeling; None
        uses ``func.canonicalize`` when the tool has one (e.g.
        :meth:`hardsample.datasets.VesselStressSolver.canonicalize`), else labels
        the batch as sent.

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
    >>> first = LabelingToolOracle(solver, journal=path)
    >>> first.label(np.ones((2, 3))).labels
    [np.float64(3.0), np.float64(3.0)]
    >>> again = LabelingToolOracle(solver, journal=path)
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
                 journal_key=None, chunk_size=None, canonicalize=None):
        self.func = func
        self.n_jobs = n_jobs
        self.max_retries = max_retries
        self.journal = journal
        self.timeout = timeout
        self.journal_key = journal_key
        self.chunk_size = chunk_size
        self.canonicalize = canonicalize
        self.n_queries_ = 0
        self.n_calls_ = 0
        self.n_reused_ = 0
        self.failures_ = []
        self.journal_ = None

    def _check_params(self):
        if not callable(self.func):
            raise TypeError(f"func must be callable, got {type(self.func).__name__}.")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, (int, np.integer)) \
                or self.max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative int, got {self.max_retries!r}.")
        if self.timeout is not None and (
                isinstance(self.timeout, bool) or not isinstance(self.timeout, numbers.Real)
                or not np.isfinite(self.timeout) or self.timeout <= 0):
            raise ValueError(f"timeout must be None or a positive number of seconds, "
                             f"got {self.timeout!r}.")
        if self.chunk_size is not None and (
                isinstance(self.chunk_size, bool)
                or not isinstance(self.chunk_size, numbers.Integral) or self.chunk_size < 1):
            raise ValueError(f"chunk_size must be None or a positive int, got {self.chunk_size!r}.")
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

    # ------------------------------------------------------------------ calling
    def _chunks(self, positions):
        from joblib import effective_n_jobs

        positions = np.asarray(positions, dtype=np.int64)
        n = len(positions)
        if n == 0:
            return []
        if self.chunk_size is not None:
            n_chunks = -(-n // self.chunk_size)
        else:
            n_chunks = max(1, min(n, effective_n_jobs(self.n_jobs)))
        return [c for c in np.array_split(positions, n_chunks) if len(c)]

    def _count(self, batch):
        self.n_calls_ += 1
        self.n_queries_ += len(batch)

    def _results(self, batches, funcs=None):
        """Yield ``(answer, error)`` per batch, in order, as soon as each is ready."""
        from joblib import effective_n_jobs

        funcs = funcs or [self.func] * len(batches)
        if not batches:
            return
        if len(batches) == 1 or effective_n_jobs(self.n_jobs) == 1:
            for func, batch in zip(funcs, batches):
                self._count(batch)
                if self.timeout is None:
                    yield _call_tool(func, batch)
                else:
                    yield _call_tool_with_timeout(func, batch, self.timeout)
            return
        if self.timeout is None:
            task, extra, backstop = _call_tool, (), None
        else:
            # The worker times the call itself (excluding the pool's start-up and
            # queueing); joblib's timeout is a backstop for a worker that cannot
            # answer at all (e.g. a tool stuck in C code holding the GIL).
            task, extra = _call_tool_with_timeout, (self.timeout,)
            backstop = self.timeout + max(self.timeout, BACKSTOP_SECONDS)
        pending = list(range(len(batches)))
        while pending:
            done = 0
            parallel = Parallel(n_jobs=self.n_jobs, timeout=backstop, batch_size=1,
                                return_as="generator")
            try:
                for result in parallel(delayed(task)(funcs[i], batches[i], *extra)
                                       for i in pending):
                    self._count(batches[pending[done]])
                    done += 1
                    yield result
            except _TIMEOUT_ERRORS:
                # The chunk waited for got no answer; joblib aborted the others (the
                # loky backend kills its workers), which are resubmitted by the loop
                # without counting as failed.
                self._count(batches[pending[done]])
                done += 1
                yield None, (f"TimeoutError: no answer from the worker within {backstop:g} s "
                             f"(timeout={self.timeout:g} s)")
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the tool
                self._count(batches[pending[done]])
                done += 1
                yield None, f"{type(exc).__name__}: {exc}"
            pending = pending[done:]

    # ----------------------------------------------------------------- labeling
    def _bound(self, indices, positions_list):
        """The callable per chunk: the tool, given its pool ``indices`` when it takes them."""
        if indices is None or not _takes_indices(self.func):
            return None
        indices = np.asarray(indices, dtype=np.int64)
        return [functools.partial(self.func, indices=indices[np.asarray(positions, dtype=np.int64)])
                for positions in positions_list]

    def label(self, X, indices=None):
        """Label samples ``X`` (pool rows ``indices``, passed on to a tool that takes them).

        A tool whose signature has an ``indices`` keyword is called as
        ``func(X_chunk, indices=pool_indices_of_the_chunk)``. A tool that raises
        :class:`NotLabeledYet` for a chunk, or returns :data:`PENDING` for a sample,
        has those samples reported in :attr:`LabelingResult.pending` (not retried,
        not failed, not journaled).

        Returns
        -------
        LabelingResult
            With ``inputs`` the canonical batch when a canonicalize step is in use.
        """
        self._check_params()
        journal = self._open_journal()
        X = np.asarray(X)
        if X.ndim == 0:
            raise ValueError("X must be a batch of samples (an array with a first axis).")
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
            stored = {int(todo[i]): label for i, label in stored.items()}
            for pos, label in stored.items():
                self._accept(pos, label, labels, errors)
            self.n_reused_ += len(stored)
            todo = np.array([pos for pos in todo if pos not in stored], dtype=np.int64)

        chunks = self._chunks(todo)
        retry, pending = [], set()
        answers = self._results([X[c] for c in chunks], self._bound(indices, chunks))
        for chunk, (answer, error) in zip(chunks, answers):
            if error == _NOT_YET:
                pending.update(int(pos) for pos in chunk)
                continue
            if error is None:
                error = self._batch_problem(answer, len(chunk))
            if error is not None:
                retry.extend(int(pos) for pos in chunk)
                errors.update({int(pos): error for pos in chunk})
                continue
            for pos, lab in zip(chunk, answer):
                if lab is PENDING:
                    pending.add(int(pos))
                else:
                    self._accept(int(pos), lab, labels, errors)
            self._persist(journal, X, keys, [p for p in chunk if int(p) not in pending],
                          labels, errors)
        for _ in range(self.max_retries):
            retry = [pos for pos in retry if pos in errors]
            if not retry:
                break
            answers = self._results([X[pos:pos + 1] for pos in retry],
                                    self._bound(indices, [[pos] for pos in retry]))
            for pos, (answer, error) in zip(retry, answers):
                error = error or self._batch_problem(answer, 1)
                if error == _NOT_YET or (error is None and answer[0] is PENDING):
                    errors.pop(pos, None)
                    pending.add(pos)
                elif error is None:
                    errors.pop(pos, None)
                    self._accept(pos, answer[0], labels, errors)
                    self._persist(journal, X, keys, [pos], labels, errors)
                else:
                    errors[pos] = error
        if journal is not None and errors:
            failed = sorted(errors)
            journal.put_failures([(X[pos], errors[pos]) for pos in failed],
                                 keys=[keys[pos] for pos in failed])
        self.failures_.extend({"sample": pos, "error": err} for pos, err in sorted(errors.items()))
        return LabelingResult(labels, errors, inputs, pending)

    @staticmethod
    def _persist(journal, X, keys, positions, labels, errors):
        """Commit the good labels of one chunk to the journal."""
        if journal is None:
            return
        good = [int(pos) for pos in positions if int(pos) not in errors]
        if good:
            journal.put_many([(X[pos], labels[pos]) for pos in good],
                             keys=[keys[pos] for pos in good])

    @staticmethod
    def _batch_problem(answer, n):
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

    @staticmethod
    def _accept(pos, label, labels, errors):
        problem = _label_problem(label)
        if problem is None:
            labels[pos] = label
            errors.pop(pos, None)
        else:
            errors[pos] = problem


def _takes_indices(func):
    """Whether a labeling tool's signature has an ``indices`` keyword."""
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return "indices" in parameters


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
