"""Running a labeling tool: workers, timeouts, retries, the failure budget, claims.

:class:`ToolRunner` sends the samples a :class:`~hardsample.oracles.LabelingToolOracle`
could not answer from its journal to the tool and stores every label the moment its
call returns. What it guarantees:

- **stored before the next is paid**: each call's labels are written to the journal
  in one short transaction as soon as that call returns (in process: before the
  next call is made; with workers: as each worker answers);
- **claims**: before sending, every sample is claimed in the journal (run id, pid,
  host, time). A sample claimed by another live process is not sent: the runner
  waits for that process's label (at most ``claim_wait`` seconds without
  progress) and reuses it, or gives the sample up as an error. Claims of a
  process that died on this host, or older than the lease, are taken over;
- **workers die with their parent**: with ``n_jobs > 1`` or a ``timeout``, calls
  run in spawned worker processes that are killed (SIGKILL) when the parent dies
  (Linux ``PR_SET_PDEATHSIG``, plus a parent-pid watchdog elsewhere), and when the
  batch is done. A call past ``timeout`` is ended by killing its worker: no thread
  or process is left behind;
- **retries back off** exponentially (``retry_backoff`` seconds, doubling, at most
  :data:`MAX_BACKOFF`);
- **failure budget**: once the failed attempts exceed the budget, nothing more is
  sent; the calls in flight are awaited and their labels kept.

Under a non-default joblib backend (``joblib.parallel_config(backend="dask")``)
the calls go through joblib instead (each result stored as it arrives); the
worker and timeout guarantees are then joblib's backend's.
"""

import inspect
import os
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for_objects
from pathlib import Path

import numpy as np
import cloudpickle

from .journal import JournalError
from .oracles import PENDING, NotLabeledYet, label_problem, batch_problem

#: Longest pause (seconds) between two attempts at one sample.
MAX_BACKOFF = 10.0
#: Seconds between two looks at the journal while waiting for another process.
CLAIM_POLL = 0.05
#: Seconds a worker may take to load the tool (imports) before the call is timed.
LOAD_TIMEOUT = 300.0
#: Worker processes that fail to start in a row before the runner gives up.
MAX_START_FAILURES = 3

_WORKER_SOURCE = None


def _worker_source():
    global _WORKER_SOURCE
    if _WORKER_SOURCE is None:
        path = Path(__file__).with_name("_tool_worker.py")
        _WORKER_SOURCE = path.read_text() + "\nserve(conn, parent_pid)\n"
    return _WORKER_SOURCE


def accepts_indices(func):
    """Whether ``func`` takes an ``indices`` keyword argument."""
    try:
        parameter = inspect.signature(func).parameters.get("indices")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _timeout_message(timeout):
    return f"TimeoutError: labeling took longer than timeout={timeout:g} s"


# ------------------------------------------------------------------ executors
class InProcess:
    """Calls the tool in this process, one task at a time, when a result is asked for."""

    def __init__(self, func):
        self.func = func
        self._queue = deque()

    def submit(self, task_id, X, kwargs):
        self._queue.append((task_id, X, kwargs))

    @property
    def busy(self):
        return bool(self._queue)

    def next_result(self):
        task_id, X, kwargs = self._queue.popleft()
        try:
            return task_id, "ok", self.func(X, **kwargs)
        except NotLabeledYet as exc:
            return task_id, "pending", f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - any failure of a user tool is recorded
            return task_id, "error", f"{type(exc).__name__}: {exc}"

    def cancel(self):
        """Drop the calls not started yet."""
        self._queue.clear()

    close = cancel


class _Worker:
    """One worker: a fresh Python (``python -c``) running :mod:`hardsample._tool_worker`.

    Started with ``subprocess`` rather than multiprocessing's spawn, so that it
    imports neither the parent's ``__main__`` nor hardsample (only what the tool
    itself needs); it talks over a socket pair.
    """

    def __init__(self):
        parent_end, child_end = socket.socketpair()
        bootstrap = ("import sys; from multiprocessing.connection import Connection; "
                     "source = sys.stdin.read(); "
                     "exec(compile(source, 'hardsample/_tool_worker.py', 'exec'), "
                     "{'__name__': 'hardsample_worker', "
                     "'conn': Connection(int(sys.argv[1])), 'parent_pid': int(sys.argv[2])})")
        self.process = subprocess.Popen(
            [sys.executable, "-c", bootstrap, str(child_end.fileno()), str(os.getpid())],
            stdin=subprocess.PIPE, pass_fds=(child_end.fileno(),))
        self.process.stdin.write(_worker_source().encode())
        self.process.stdin.close()
        child_end.close()
        self.conn = Connection(parent_end.detach())
        self.ready = False
        self.started = False  # the current task's call has begun
        self.task = None
        self.deadline = None

    @property
    def exitcode(self):
        return self.process.poll()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.conn.close()


class WorkerPool:
    """Spawned worker processes, one call each at a time; a call past ``timeout`` kills its worker.

    Parameters
    ----------
    func : callable
        The tool (sent with cloudpickle: lambdas and closures are fine).
    n_workers : int
    timeout : float or None
    """

    def __init__(self, func, n_workers, timeout=None):
        self.func = func
        self.n_workers = n_workers
        self.timeout = timeout
        self._workers = []
        self._queue = deque()
        self._start_failures = 0

    @property
    def busy(self):
        return bool(self._queue) or any(w.task is not None for w in self._workers)

    def submit(self, task_id, X, kwargs):
        try:
            payload = cloudpickle.dumps((self.func, X, kwargs))
        except Exception as exc:  # noqa: BLE001 - an unpicklable tool fails its samples
            payload = exc
        self._queue.append((task_id, payload))

    def _dispatch(self):
        while self._queue and len(self._workers) < self.n_workers and \
                len(self._workers) < len(self._queue) + sum(w.task is not None
                                                            for w in self._workers):
            self._workers.append(_Worker())
        for worker in self._workers:
            if not self._queue:
                return None
            if worker.ready and worker.task is None:
                task_id, payload = self._queue.popleft()
                if isinstance(payload, Exception):
                    return task_id, "error", (f"the tool cannot be sent to a worker process "
                                              f"({type(payload).__name__}: {payload})")
                worker.task = task_id
                # until the worker has loaded the tool (imports may be slow)
                worker.deadline = time.monotonic() + LOAD_TIMEOUT
                try:
                    worker.conn.send_bytes(payload)
                except OSError:
                    pass  # it died: reading its connection says so
        return None

    def _retire(self, worker):
        self._workers.remove(worker)
        worker.kill()

    def next_result(self):
        while True:
            failed = self._dispatch()
            if failed is not None:
                return failed
            if self._start_failures >= MAX_START_FAILURES and self._queue:
                task_id, _ = self._queue.popleft()
                return task_id, "error", ("the labeling worker processes cannot start "
                                          f"({MAX_START_FAILURES} died before being ready)")
            now = time.monotonic()
            deadlines = [w.deadline for w in self._workers if w.deadline is not None]
            wait_s = None if not deadlines else max(0.0, min(deadlines) - now)
            objects = {worker.conn: worker for worker in self._workers}
            ready = wait_for_objects(list(objects), timeout=wait_s)
            for obj in ready:
                worker = objects[obj]
                if worker in self._workers:
                    answer = self._receive(worker)
                    if answer is not None:
                        return answer
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.deadline is not None and now >= worker.deadline:
                    task_id, started = worker.task, worker.started
                    self._retire(worker)
                    if not started:
                        return task_id, "error", ("the worker process could not load the "
                                                  f"tool within {LOAD_TIMEOUT:g} s")
                    return task_id, "error", _timeout_message(self.timeout)

    def _receive(self, worker):
        """Read the worker's message: None, or ``(task_id, status, value)`` of its task."""
        try:
            message = worker.conn.recv_bytes()
        except (EOFError, OSError):  # the worker died
            task_id = worker.task
            self._retire(worker)
            if not worker.ready:
                self._start_failures += 1
            if task_id is None:
                return None
            return task_id, "error", ("the worker process died while labeling (exit code "
                                      f"{worker.exitcode})")
        if message == b"ready":
            worker.ready = True
            self._start_failures = 0
            return None
        if message == b"start":
            worker.started = True
            worker.deadline = None if self.timeout is None else time.monotonic() + self.timeout
            return None
        task_id, worker.task, worker.deadline = worker.task, None, None
        worker.started = False
        try:
            status, value = cloudpickle.loads(message)
        except Exception as exc:  # noqa: BLE001 - e.g. a label class this process lacks
            status, value = "error", f"the answer cannot be read: {type(exc).__name__}: {exc}"
        return task_id, status, value

    def cancel(self):
        """Drop the calls not sent yet (those in flight are still answered)."""
        self._queue.clear()

    def close(self):
        """Kill every worker (SIGKILL) and wait for them."""
        self._queue.clear()
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.kill()


def _call_for_joblib(func, X, kwargs, task_id):
    try:
        return task_id, "ok", func(X, **kwargs)
    except NotLabeledYet as exc:
        return task_id, "pending", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001
        return task_id, "error", f"{type(exc).__name__}: {exc}"


class JoblibTasks:
    """Calls through the active joblib backend (e.g. dask), results as they complete."""

    def __init__(self, func, n_jobs, timeout):
        self.func, self.n_jobs, self.timeout = func, n_jobs, timeout
        self._queue = []
        self._running = None
        self._left = set()

    @property
    def busy(self):
        return bool(self._queue) or bool(self._left)

    def submit(self, task_id, X, kwargs):
        self._queue.append((task_id, X, kwargs))

    def next_result(self):
        from joblib import Parallel, delayed

        if self._running is None or not self._left:
            tasks, self._queue = self._queue, []
            self._left = {task_id for task_id, _, _ in tasks}
            parallel = Parallel(n_jobs=self.n_jobs, timeout=self.timeout, batch_size=1,
                                return_as="generator_unordered")
            self._running = iter(parallel(delayed(_call_for_joblib)(self.func, X, kwargs, t)
                                          for t, X, kwargs in tasks))
        try:
            task_id, status, value = next(self._running)
        except StopIteration:
            task_id, status, value = self._left.pop(), "error", "no answer from joblib"
        except Exception as exc:  # noqa: BLE001 - e.g. joblib's timeout: the rest failed
            task_id = self._left.pop()
            message = (_timeout_message(self.timeout) if "imeout" in type(exc).__name__
                       else f"{type(exc).__name__}: {exc}")
            return task_id, "error", message
        self._left.discard(task_id)
        return task_id, status, value

    def cancel(self):
        """Drop the calls not handed to joblib yet."""
        self._queue = []

    def close(self):
        self._queue, self._left, self._running = [], set(), None


# ------------------------------------------------------------------ the runner
@dataclass
class FailureBudget:
    """Failed attempts allowed (a call that raised, timed out or answered badly
    counts once; an unusable label in a good call counts once)."""

    limit: int
    spent: int = 0

    @property
    def exceeded(self):
        return self.spent > self.limit


@dataclass
class RunResult:
    """What one batch's run produced, by position in the batch."""

    labels: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    pending: set = field(default_factory=set)
    reused: dict = field(default_factory=dict)  # labels another process paid for
    skipped: dict = field(default_factory=dict)  # claimed elsewhere, never answered
    unsaved: list = field(default_factory=list)  # (key, label) paid, not stored
    journal_error: object = None
    budget_exceeded: bool = False
    n_calls: int = 0
    n_queries: int = 0


class ToolRunner:
    """Send samples to a tool and store each label as its call returns.

    Parameters
    ----------
    func : callable
    n_jobs : int
        Worker processes (1: in this process, unless ``timeout`` is set).
    timeout : float or None
    max_retries : int
    retry_backoff : float
    chunk_size : int
    claim_wait : float
    use_joblib : bool
        Run the calls through the active joblib backend.
    """

    def __init__(self, func, *, n_jobs=1, timeout=None, max_retries=1, retry_backoff=0.1,
                 chunk_size=1, claim_wait=600.0, use_joblib=False):
        self.func = func
        self.n_jobs = n_jobs
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.chunk_size = chunk_size
        self.claim_wait = claim_wait
        self.use_joblib = use_joblib

    def _executor(self):
        if self.use_joblib:
            return JoblibTasks(self.func, self.n_jobs, self.timeout)
        if self.n_jobs == 1 and self.timeout is None:
            return InProcess(self.func)
        return WorkerPool(self.func, self.n_jobs, self.timeout)

    def run(self, X, positions, budget, journal=None, keys=None, indices=None):
        """Label ``X[positions]``; return a :class:`RunResult`.

        ``keys`` are the samples' journal keys (with ``journal``); ``indices`` the
        pool indices passed to a tool taking ``indices=`` (None: synthetic).
        """
        out = RunResult()
        positions = [int(p) for p in positions]
        if journal is None:
            self._send(X, positions, budget, out, None, keys, indices)
            return out
        # a sample twice in one batch is sent once
        first = {}
        copies = {p: first.setdefault(keys[p], p) for p in positions}
        positions = list(first.values())
        if positions:
            self._run_claimed(X, positions, budget, out, journal, keys, indices)
        for pos, source in copies.items():
            if pos != source:
                for found in (out.labels, out.errors, out.reused, out.skipped):
                    if source in found:
                        found[pos] = found[source]
                if source in out.pending:
                    out.pending.add(pos)
        return out

    def _run_claimed(self, X, positions, budget, out, journal, keys, indices):
        try:
            claimed, others = journal.claim([keys[p] for p in positions])
        except JournalError as exc:  # nothing paid yet: nothing to keep
            out.journal_error = exc
            return
        mine = [p for p in positions if keys[p] in claimed]
        waiting = [p for p in positions if keys[p] in others]
        done_meanwhile = [p for p in positions if keys[p] not in claimed and keys[p] not in others]
        self._collect(journal, keys, done_meanwhile, out)
        self._send(X, mine, budget, out, journal, keys, indices)
        self._wait_for_others(X, waiting, others, budget, out, journal, keys, indices)

    # -------------------------------------------------------------- sending
    def _send(self, X, positions, budget, out, journal, keys, indices):
        if not positions or out.journal_error is not None:
            return  # once the journal failed, nothing more is paid for
        kwargs_for = self._kwargs_maker(indices)
        executor = self._executor()
        tasks = {}
        attempts = {}
        later = []  # (time eligible, position) of retries
        n_tasks = 0

        def submit(chunk):
            nonlocal n_tasks
            tasks[n_tasks] = chunk
            executor.submit(n_tasks, X[chunk], kwargs_for(chunk))
            n_tasks += 1

        for start in range(0, len(positions), self.chunk_size):
            submit(positions[start:start + self.chunk_size])
        stopping = False
        try:
            while True:
                if not stopping:
                    now = time.monotonic()
                    for item in sorted(item for item in later if item[0] <= now):
                        later.remove(item)
                        submit([item[1]])
                if not executor.busy:
                    if stopping or not later:
                        break
                    time.sleep(max(0.0, min(t for t, _ in later) - time.monotonic()))
                    continue
                task_id, status, value = executor.next_result()
                chunk = tasks.pop(task_id)
                out.n_calls += 1
                out.n_queries += len(chunk)
                failed = self._take(chunk, status, value, budget, out)
                if journal is not None and not self._store(chunk, out, journal, keys):
                    stopping = True
                for pos in failed:
                    attempts[pos] = attempts.get(pos, 0) + 1
                    if attempts[pos] <= self.max_retries:
                        delay = min(self.retry_backoff * 2 ** (attempts[pos] - 1), MAX_BACKOFF)
                        later.append((time.monotonic() + delay, pos))
                if budget.exceeded:
                    out.budget_exceeded = True
                    stopping = True
                if stopping:  # nothing more is sent; the calls in flight are awaited
                    later.clear()
                    executor.cancel()
        finally:
            executor.close()

    def _kwargs_maker(self, indices):
        if not accepts_indices(self.func):
            return lambda chunk: {}
        if indices is None:
            return lambda chunk: {"indices": None}
        indices = np.asarray(indices)
        return lambda chunk: {"indices": indices[chunk]}

    @staticmethod
    def _take(chunk, status, value, budget, out):
        """Record one call's answer; return the positions that failed (to retry)."""
        if status == "pending":
            for pos in chunk:
                out.pending.add(pos)
                out.errors.pop(pos, None)
            return []
        problem = value if status == "error" else batch_problem(value, len(chunk))
        if problem is not None:
            budget.spent += 1
            for pos in chunk:
                out.errors[pos] = problem
            return list(chunk)
        for pos, label in zip(chunk, value):
            if label is PENDING:
                out.pending.add(pos)
                out.errors.pop(pos, None)
            elif (problem := label_problem(label)) is not None:
                budget.spent += 1
                out.errors[pos] = problem
            else:
                out.labels[pos] = label
                out.errors.pop(pos, None)
        return []

    @staticmethod
    def _store(chunk, out, journal, keys):
        """Write the chunk's labels (one transaction) and release its pending claims."""
        out.unsaved.extend((keys[pos], out.labels[pos]) for pos in chunk if pos in out.labels)
        if out.journal_error is not None:
            return False
        try:
            journal.put_labels(out.unsaved)
            out.unsaved = []
            journal.release([keys[pos] for pos in chunk if pos in out.pending])
        except JournalError as exc:
            out.journal_error = exc
            return False
        return True

    # ------------------------------------------------------------ other claims
    @staticmethod
    def _collect(journal, keys, positions, out):
        """Take the labels another process stored for ``positions``; return those left."""
        if not positions:
            return []
        try:
            stored = journal.get_many(None, keys=[keys[p] for p in positions])
        except JournalError as exc:
            out.journal_error = exc
            return []
        for i, label in stored.items():
            out.reused[positions[i]] = label
        return [p for i, p in enumerate(positions) if i not in stored]

    def _wait_for_others(self, X, waiting, others, budget, out, journal, keys, indices):
        last_progress = time.monotonic()
        while waiting and out.journal_error is None and not out.budget_exceeded:
            left = self._collect(journal, keys, waiting, out)
            if out.journal_error is not None:
                return
            try:
                claimed, others_now = journal.claim([keys[p] for p in left])
            except JournalError as exc:
                out.journal_error = exc
                return
            self._collect(journal, keys, [p for p in left if keys[p] not in claimed
                                          and keys[p] not in others_now], out)
            mine = [p for p in left if keys[p] in claimed]
            self._send(X, mine, budget, out, journal, keys, indices)
            still = [p for p in left if keys[p] in others_now]
            if len(still) < len(waiting):
                last_progress = time.monotonic()
            waiting = still
            if waiting and time.monotonic() - last_progress > self.claim_wait:
                for pos in waiting:
                    out.skipped[pos] = (
                        f"claimed by another process ({others_now[keys[pos]]}), which gave no "
                        f"label within claim_wait={self.claim_wait:g} s; not sent, so that it "
                        "is not paid twice")
                return
            if waiting:
                time.sleep(CLAIM_POLL)
