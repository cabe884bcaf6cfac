"""LabelingToolOracle: parallel labeling, failures, timeouts, journal, dask."""

import functools
import time

import numpy as np
import pytest

from hardsample import LatentHardMiningRegressor
from hardsample.journal import AnnotationJournal
from hardsample.oracles import (
    DatasetOracle,
    LabelingToolOracle,
    canonicalize_batch,
    check_oracle,
    tool_signature,
)

from .conftest import importorskip_unless_ci, make_regressor_net


# Tools are built by factories: cloudpickle sends local functions by value, so the
# loky workers do not import this test module (and torch) to unpickle them.
def make_sum_tool():
    def tool(X):
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1).sum(axis=1)
    return tool


def make_faulty_tool(hang_seconds=3.0):
    """Raises on samples whose first value is 1, NaN on 2, wrong length on 3, hangs on 4."""
    def tool(X):
        first = np.asarray(X)[:, 0]
        if (first == 1).any():
            raise RuntimeError("solver diverged")
        if (first == 3).any():
            return np.zeros(len(X) + 1)
        if (first == 4).any():
            time.sleep(hang_seconds)
        out = np.asarray(X, dtype=np.float64).sum(axis=1)
        out[first == 2] = np.nan
        return out
    return tool


def make_counting_tool():
    calls = []

    def tool(X):
        calls.append(len(X))
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1).sum(axis=1)
    tool.calls = calls
    return tool


@pytest.fixture
def X():
    return np.random.RandomState(0).rand(12, 3)


def test_sequential_labels_and_counts(X):
    oracle = LabelingToolOracle(make_sum_tool())
    result = oracle.label(X)
    np.testing.assert_allclose(result.labels, X.sum(axis=1))
    assert result.errors == {} and result.succeeded.all()
    # one sample per call by default: each label is stored before the next is paid
    assert (oracle.n_calls_, oracle.n_queries_, oracle.n_reused_) == (12, 12, 0)


def test_parallel_labels_equal_sequential(X):
    sequential = LabelingToolOracle(make_sum_tool()).label(X).labels
    oracle = LabelingToolOracle(make_sum_tool(), n_jobs=2)
    parallel = oracle.label(X).labels
    np.testing.assert_array_equal(parallel, sequential)
    assert oracle.n_calls_ == 12 and oracle.n_queries_ == 12


def test_chunk_size_splits_calls(X):
    tool = make_counting_tool()
    oracle = LabelingToolOracle(tool, chunk_size=5)
    np.testing.assert_allclose(oracle.label(X).labels, X.sum(axis=1))
    assert tool.calls == [5, 5, 2] and oracle.n_calls_ == 3


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_failures_recorded_others_labeled(n_jobs):
    X = np.arange(7 * 2, dtype=np.float64).reshape(7, 2)
    X[:, 0] = [0, 1, 2, 3, 0, 5, 6]
    oracle = LabelingToolOracle(make_faulty_tool(), n_jobs=n_jobs, max_retries=1)
    result = oracle.label(X)
    assert sorted(result.errors) == [1, 2, 3]
    assert "RuntimeError: solver diverged" in result.errors[1]
    assert "NaN" in result.errors[2]
    assert "returned 2 labels for 1 samples" in result.errors[3]
    ok = [0, 4, 5, 6]
    np.testing.assert_allclose([result.labels[i] for i in ok], X[ok].sum(axis=1))
    assert [result.labels[i] for i in (1, 2, 3)] == [None, None, None]
    assert {f["sample"] for f in oracle.failures_} == {1, 2, 3}


def test_wrong_length_is_a_failure():
    X = np.array([[3.0, 0.0], [0.0, 1.0]])
    result = LabelingToolOracle(make_faulty_tool(), max_retries=2).label(X)
    assert set(result.errors) == {0}
    assert "returned 2 labels for 1 samples" in result.errors[0]
    assert result.labels[1] == 1.0


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_hanging_tool_times_out(n_jobs):
    X = np.array([[0.0, 1.0], [4.0, 1.0], [0.0, 2.0], [5.0, 1.0]])
    oracle = LabelingToolOracle(make_faulty_tool(hang_seconds=10.0), n_jobs=n_jobs,
                                timeout=0.5, max_retries=0)
    start = time.perf_counter()
    result = oracle.label(X)
    elapsed = time.perf_counter() - start
    assert elapsed < 8, elapsed  # the run did not wait for the hung call
    assert 1 in result.errors and "TimeoutError" in result.errors[1]
    # one sample per call: only the hung sample fails
    labeled = [i for i in range(4) if i not in result.errors]
    np.testing.assert_allclose([result.labels[i] for i in labeled], X[labeled].sum(axis=1))
    assert labeled == [0, 2, 3]


def test_timeout_retry_labels_the_others():
    X = np.array([[0.0, 1.0], [4.0, 1.0], [0.0, 2.0]])
    oracle = LabelingToolOracle(make_faulty_tool(hang_seconds=2.0), timeout=0.3, max_retries=1)
    result = oracle.label(X)
    assert list(result.errors) == [1] and "TimeoutError" in result.errors[1]
    assert result.labels[0] == 1.0 and result.labels[2] == 2.0


@pytest.mark.parametrize("params, match", [
    ({"timeout": 0}, "timeout"),
    ({"timeout": "1"}, "timeout"),
    ({"max_retries": -1}, "max_retries"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        LabelingToolOracle(make_sum_tool(), **params).label(np.ones((2, 2)))


def test_bad_func_and_journal():
    with pytest.raises(TypeError, match="callable"):
        LabelingToolOracle(3).label(np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"^journal must be a file path, an AnnotationJournal "
                                        r"or None, got int\.$"):
        LabelingToolOracle(make_sum_tool(), journal=3).label(np.ones((2, 2)))


# ----------------------------------------------------------------------- journal
def test_journal_resume_makes_no_tool_calls(tmp_path, X):
    path = tmp_path / "labels.sqlite"
    tool = make_counting_tool()
    first = LabelingToolOracle(tool, journal=path, journal_key="sum", chunk_size=12)
    labels = first.label(X).labels
    assert first.n_calls_ == 1 and len(first.journal_) == len(X)
    first.journal_.close()

    again = LabelingToolOracle(tool, journal=str(path), journal_key="sum", chunk_size=12)
    result = again.label(X[::-1])
    assert tool.calls == [12]  # no new call
    assert again.n_calls_ == 0 and again.n_queries_ == 0 and again.n_reused_ == 12
    np.testing.assert_array_equal(result.labels, labels[::-1])

    # a partly new batch: only the new samples reach the tool
    new = np.random.RandomState(1).rand(3, 3)
    result = again.label(np.concatenate([X[:2], new]))
    assert tool.calls == [12, 3] and again.n_reused_ == 14
    np.testing.assert_allclose(result.labels[2:], new.sum(axis=1))


def test_journal_persists_each_chunk_before_the_next(tmp_path):
    path = tmp_path / "labels.sqlite"
    seen = []

    def tool(X):
        # when chunk k is labeled, chunks 0..k-1 are already committed (read from
        # a separate connection, as another process would)
        with AnnotationJournal(path) as reader:
            seen.append(len(reader))
        return X.sum(axis=1)

    X = np.random.RandomState(0).rand(6, 2)
    LabelingToolOracle(tool, journal=path, chunk_size=2, journal_key="sum").label(X)
    assert seen == [0, 2, 4]
    seen.clear()
    # the default (one sample per call): each label is stored before the next is paid
    LabelingToolOracle(tool, journal=path, journal_key="sum").label(X + 1)
    assert seen == [6, 7, 8, 9, 10, 11]


def test_journal_other_signature_refused(tmp_path, X):
    path = tmp_path / "labels.sqlite"
    LabelingToolOracle(make_sum_tool(), journal=path, journal_key="solver(mesh=0.1)").label(X)
    with pytest.raises(ValueError, match=r"was written by 'solver\(mesh=0.1\)', not "
                                         r"'solver\(mesh=0.2\)'"):
        LabelingToolOracle(make_sum_tool(), journal=path, journal_key="solver(mesh=0.2)").label(X)
    with pytest.raises(ValueError, match="was written by"):
        LabelingToolOracle(make_faulty_tool(), journal=path, journal_key="faulty").label(X)


def test_journal_records_failures_without_reusing_them(tmp_path):
    path = tmp_path / "labels.sqlite"
    X = np.array([[0.0, 1.0], [1.0, 1.0]])
    oracle = LabelingToolOracle(make_faulty_tool(), journal=path, journal_key="faulty")
    result = oracle.label(X)
    assert list(result.errors) == [1]
    assert len(oracle.journal_) == 1 and oracle.journal_.n_failed == 1
    assert "solver diverged" in next(iter(oracle.journal_.failures().values()))
    again = LabelingToolOracle(make_faulty_tool(), journal=path, journal_key="faulty")
    again.label(X)
    assert again.n_reused_ == 1 and again.n_queries_ >= 1  # the failure was retried


def test_journal_object_and_array_labels(tmp_path):
    journal = AnnotationJournal(tmp_path / "maps.sqlite")

    def to_maps(X):
        return X * 2.0

    X = np.random.RandomState(0).rand(3, 4, 4).astype(np.float32)
    first = LabelingToolOracle(to_maps, journal=journal, journal_key="maps").label(X).labels
    assert journal.signature_ == "maps"
    again = LabelingToolOracle(to_maps, journal=journal, journal_key="maps")
    second = again.label(X).labels
    assert again.n_reused_ == 3
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
        assert b.dtype == np.float32 and b.shape == (4, 4)


def test_journal_file_that_is_not_sqlite(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database" * 100)
    with pytest.raises(ValueError, match="not an annotation journal"):
        AnnotationJournal(path)


def module_solver(X, mesh=0.1):
    return X


def test_tool_signature():
    assert tool_signature(module_solver) == "tests.test_oracles.module_solver"
    assert "'mesh': 0.2" in tool_signature(functools.partial(module_solver, mesh=0.2))
    with pytest.raises(TypeError, match="journal_key"):
        tool_signature(module_solver, journal_key=3)


# -------------------------------------------------------------- with the estimator
def test_estimator_rerun_with_journal_makes_no_tool_calls(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.rand(60, 4).astype(np.float32)
    path = tmp_path / "labels.sqlite"
    tool = make_counting_tool()

    def fit():
        oracle = LabelingToolOracle(tool, journal=path, journal_key="sum", chunk_size=10)
        reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=2), sampler="random",
                                        initial_size=10, round_size=5, n_rounds=3,
                                        random_state=0)
        reg.fit(X, oracle=oracle)
        oracle.journal_.close()
        return reg, oracle

    first, oracle1 = fit()
    n_calls = len(tool.calls)
    assert oracle1.n_queries_ == 20 and n_calls == 3
    second, oracle2 = fit()
    assert len(tool.calls) == n_calls  # zero new tool calls
    assert oracle2.n_calls_ == 0 and oracle2.n_reused_ == 20
    np.testing.assert_array_equal(second.labeled_indices_, first.labeled_indices_)
    np.testing.assert_array_equal(second.y_labeled_, first.y_labeled_)


def test_check_oracle_wraps_callables():
    assert isinstance(check_oracle(None, make_sum_tool()), LabelingToolOracle)
    assert isinstance(check_oracle([1, 2], None), DatasetOracle)
    with pytest.raises(ValueError, match="either"):
        check_oracle([1], make_sum_tool())


# ----------------------------------------------------------------------- dask
def test_dask_backend_gives_the_sequential_labels(X):
    importorskip_unless_ci("distributed", reason="dask.distributed is not installed "
                                              '(pip install "dask[distributed]")')
    import joblib
    from dask.distributed import Client, LocalCluster

    sequential = LabelingToolOracle(make_sum_tool()).label(X).labels
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster):
        with joblib.parallel_config(backend="dask"):
            oracle = LabelingToolOracle(make_sum_tool())
            labels = oracle.label(X).labels
    np.testing.assert_array_equal(labels, sequential)
    assert oracle.n_calls_ == 12  # one sample per call


@pytest.mark.parametrize("answer", [
    lambda batch: {i: 1.0 for i in range(len(batch))},
    lambda batch: set(range(len(batch))),
])
def test_mappings_and_sets_are_not_label_sequences(answer):
    oracle = LabelingToolOracle(answer, max_retries=0)
    result = oracle.label(np.zeros((3, 2), dtype=np.float32))
    assert set(result.errors) == {0, 1, 2}
    assert all("not a sequence of labels" in error for error in result.errors.values())


# ------------------------------------------------------------------ canonicalize
def _rounding_tool_class():
    # defined locally so that cloudpickle sends it by value: the worker processes
    # then do not import this test module (and torch)
    class RoundingTool:
        """Labels the rounded input; declares the rounding as its canonicalize step.

        Fails to canonicalize negative samples, returns a wrong shape for samples whose
        first value is 7 and NaN for samples whose first value is 8.
        """

        def __init__(self):
            self.seen = []

        def canonicalize(self, X):
            X = np.asarray(X, dtype=np.float64)
            if (X < 0).any():
                raise ValueError("negative input")
            if (X[:, 0] == 7).any():
                return np.round(X)[:, :1]
            out = np.round(X)
            out[X[:, 0] == 8] = np.nan
            return out

        def __call__(self, X):
            self.seen.append(np.array(X))
            return np.asarray(X).reshape(len(X), -1).sum(axis=1)
    return RoundingTool


RoundingTool = _rounding_tool_class()


def test_canonical_inputs_are_labeled_and_returned():
    tool = RoundingTool()
    X = np.array([[0.2, 1.7], [2.4, 0.6], [0.9, 0.1]])
    result = LabelingToolOracle(tool).label(X)
    canonical = np.round(X)
    np.testing.assert_array_equal(result.inputs, canonical)
    np.testing.assert_array_equal(np.concatenate(tool.seen), canonical)  # the tool saw them
    # every returned input, labeled again, gives back its label
    again = LabelingToolOracle(tool).label(result.inputs)
    np.testing.assert_array_equal(again.labels, result.labels)
    np.testing.assert_array_equal(again.inputs, result.inputs)


def test_no_canonicalizer_returns_no_inputs(X):
    assert LabelingToolOracle(make_sum_tool()).label(X).inputs is None


def test_canonicalize_parameter_overrides_the_tool():
    tool = RoundingTool()
    X = np.array([[0.2, 1.7]])
    result = LabelingToolOracle(tool, canonicalize=np.floor).label(X)
    np.testing.assert_array_equal(result.inputs, [[0.0, 1.0]])
    assert result.labels == [1.0]
    with pytest.raises(TypeError, match="canonicalize must be a callable"):
        LabelingToolOracle(tool, canonicalize="round").label(X)


def test_canonicalize_failures_are_recorded_per_sample_and_never_paid():
    tool = RoundingTool()
    X = np.array([[0.2, 1.7], [-1.0, 0.0], [7.0, 1.0], [8.0, 0.0], [2.6, 0.0]])
    oracle = LabelingToolOracle(tool)
    result = oracle.label(X)
    assert sorted(result.errors) == [1, 2, 3]
    assert "negative input" in result.errors[1]
    assert "shape (1, 1)" in result.errors[2]
    assert "NaN" in result.errors[3]
    assert all(e.startswith("canonicalize failed") for e in result.errors.values())
    assert result.labels[0] == 2.0 and result.labels[4] == 3.0
    np.testing.assert_array_equal(result.inputs[[0, 4]], [[0.0, 2.0], [3.0, 0.0]])
    np.testing.assert_array_equal(result.inputs[[1, 2]], X[[1, 2]])  # kept as sent
    assert oracle.n_queries_ == 2  # only the canonical samples reached the tool
    assert [f["sample"] for f in oracle.failures_] == [1, 2, 3]


def test_journal_round_trip_keys_the_canonical_input(tmp_path):
    path = tmp_path / "labels.sqlite"
    tool = RoundingTool()
    X = np.array([[0.2, 1.7], [2.4, 0.6]])
    first = LabelingToolOracle(tool, journal=path, journal_key="rounding")
    labels = first.label(X).labels
    stored = first.journal_.get_many(np.round(X))
    assert sorted(stored) == [0, 1]  # stored under the canonical input
    first.journal_.close()
    # other raw inputs with the same canonical form are answered from the journal
    again = LabelingToolOracle(tool, journal=path, journal_key="rounding")
    result = again.label(np.array([[0.4, 1.9], [1.6, 1.1]]))
    assert again.n_calls_ == 0 and again.n_reused_ == 2
    assert result.labels == labels
    np.testing.assert_array_equal(result.inputs, np.round(X))


def test_parallel_canonical_labels_equal_sequential():
    X = np.random.RandomState(0).rand(8, 3) * 4
    sequential = LabelingToolOracle(RoundingTool()).label(X)
    parallel = LabelingToolOracle(RoundingTool(), n_jobs=2).label(X)
    np.testing.assert_array_equal(parallel.labels, sequential.labels)
    np.testing.assert_array_equal(parallel.inputs, sequential.inputs)


# ------------------------------------------------------------------ failure budget
import sqlite3  # noqa: E402
import threading  # noqa: E402

from hardsample import PENDING, JournalError, LabelingError, NotLabeledYet  # noqa: E402


def make_always_failing_tool(log=None):
    def tool(X):
        if log is not None:
            with open(log, "a") as f:
                f.write(f"{len(X)}\n")
        raise RuntimeError("solver diverged")
    return tool


def _children():
    """Pids of this process's live children (earlier tests may leave reusable pools,
    e.g. joblib's loky workers: compare against a snapshot)."""
    psutil = importorskip_unless_ci("psutil")
    return {p.pid for p in psutil.Process().children(recursive=True)
            if p.status() != psutil.STATUS_ZOMBIE}


@pytest.mark.parametrize("settings", [{}, {"n_jobs": 2}, {"timeout": 5.0, "chunk_size": 4}])
def test_always_failing_tool_stops_at_the_budget(tmp_path, settings):
    log = tmp_path / "calls"
    threads, children = set(threading.enumerate()), _children()
    oracle = LabelingToolOracle(make_always_failing_tool(log), max_retries=3,
                                retry_backoff=0.01, **settings)
    X = np.random.RandomState(0).rand(10, 2)
    with pytest.raises(LabelingError, match="failed .* times, more than max_failures") as info:
        oracle.label(X)
    n_sent = sum(int(n) for n in log.read_text().split())
    assert n_sent == oracle.n_queries_ <= 2 * len(X)
    assert "sample 0: RuntimeError: solver diverged" in str(info.value)
    assert info.value.result is not None and len(info.value.result.labels) == 10
    assert set(threading.enumerate()) <= threads  # no thread left behind
    assert _children() <= children  # no worker process left behind


def test_budget_count_and_fraction():
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    for max_failures, n_allowed in [(0, 0), (3, 3), (0.5, 5)]:
        oracle = LabelingToolOracle(make_always_failing_tool(), max_retries=0,
                                    max_failures=max_failures)
        with pytest.raises(LabelingError):
            oracle.label(X)
        assert oracle.n_calls_ == n_allowed + 1  # the call that went over, then nothing
    with pytest.raises(ValueError, match="max_failures"):
        LabelingToolOracle(make_sum_tool(), max_failures=-1).label(X)


def test_labels_paid_before_the_budget_ran_out_are_stored_and_returned(tmp_path):
    def tool(X):
        if X[0, 0] >= 3:
            raise RuntimeError("broken from here on")
        return X.sum(axis=1)

    path = tmp_path / "j.sqlite"
    X = np.arange(20, dtype=np.float64).reshape(10, 2) / 2
    oracle = LabelingToolOracle(tool, journal=path, journal_key="t", max_retries=0,
                                max_failures=2)
    with pytest.raises(LabelingError) as info:
        oracle.label(X)
    result = info.value.result
    paid = [pos for pos, label in enumerate(result.labels) if label is not None]
    assert paid == [0, 1, 2] and len(oracle.journal_) == 3


def test_retries_back_off():
    times = []

    def tool(X):
        times.append(time.monotonic())
        raise RuntimeError("no")

    oracle = LabelingToolOracle(tool, max_retries=3, retry_backoff=0.05, max_failures=10)
    oracle.label(np.zeros((1, 2)))
    gaps = np.diff(times)
    assert len(times) == 4 and (gaps >= [0.05, 0.1, 0.2]).all(), gaps


def test_the_retry_backoff_given_is_the_one_used():
    times = []

    def tool(X):
        times.append(time.monotonic())
        raise RuntimeError("no")

    LabelingToolOracle(tool, max_retries=1, retry_backoff=0.3, max_failures=10).label(
        np.zeros((1, 2)))
    assert len(times) == 2 and times[1] - times[0] >= 0.3  # not the runner's default 0.1


def test_estimator_always_failing_tool_costs_at_most_twice_the_round(tmp_path):
    log = tmp_path / "calls"
    X = np.random.RandomState(0).rand(200, 4).astype(np.float32)
    oracle = LabelingToolOracle(make_always_failing_tool(log), n_jobs=2, retry_backoff=0.0)
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=1), sampler="random",
                                    initial_size=20, round_size=10, n_rounds=2,
                                    random_state=0)
    threads, children = set(threading.enumerate()), _children()
    with pytest.raises(LabelingError, match="Round 1 got 0 of the 20 labels.*failure budget"):
        reg.fit(X, oracle=oracle)
    n_sent = sum(int(n) for n in log.read_text().split())
    assert n_sent <= 2 * 20, n_sent
    assert set(threading.enumerate()) <= threads and _children() <= children


# ------------------------------------------------------------- retries, journal
def test_a_sample_that_succeeded_on_retry_is_not_labeled_again():
    asked = []
    failed_once = set()

    def tool(X):
        key = float(X[0, 0])
        asked.append(key)
        if key not in failed_once:
            failed_once.add(key)
            raise RuntimeError("first attempt fails")
        return X.sum(axis=1)

    oracle = LabelingToolOracle(tool, max_retries=3, retry_backoff=0.0)
    result = oracle.label(np.arange(6, dtype=np.float64).reshape(3, 2))
    assert result.errors == {} and sorted(asked) == [0.0, 0.0, 2.0, 2.0, 4.0, 4.0]


def test_journal_hits_are_mapped_by_batch_position(tmp_path):
    path = tmp_path / "j.sqlite"
    tool = RoundingTool()
    first = LabelingToolOracle(tool, journal=path, journal_key="rounding")
    first.label(np.array([[2.0, 1.0]]))
    # a canonicalize failure (negative input) before the journaled sample
    again = LabelingToolOracle(tool, journal=path, journal_key="rounding")
    result = again.label(np.array([[-1.0, 0.0], [5.0, 5.0], [2.0, 1.0]]))
    assert list(result.errors) == [0]
    assert result.labels[1] == 10.0 and result.labels[2] == 3.0
    assert again.n_reused_ == 1 and again.n_queries_ == 1  # only [5, 5] was paid for


def module_tool(X):
    return X.sum(axis=1)


SCALE = 2.0


def module_tool_with_global(X):
    return SCALE * X.sum(axis=1)


def module_tool_with_global_beside_a_generator(X):
    factor = SCALE  # read in the function's own body; the generator reads no global
    return np.array([factor * sum(value for value in row) for row in X])


@pytest.mark.parametrize("tool, reason", [
    (lambda X: X.sum(axis=1), "lambda"),
    (make_sum_tool(), "nested function"),
    (make_counting_tool(), "closure"),
    (module_tool_with_global, "global 'SCALE'"),
    (module_tool_with_global_beside_a_generator, "global 'SCALE'"),
])
def test_unsignable_tools_need_a_journal_key(tmp_path, tool, reason):
    X = np.ones((2, 2))
    with pytest.raises(ValueError, match=f"{reason}.*journal_key"):
        LabelingToolOracle(tool, journal=tmp_path / "j.sqlite").label(X)
    LabelingToolOracle(tool).label(X)  # without a journal: fine
    LabelingToolOracle(tool, journal=tmp_path / "j.sqlite", journal_key="k").label(X)
    assert tool_signature(module_tool) == "tests.test_oracles.module_tool"


def test_locked_journal_keeps_paid_labels(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = AnnotationJournal(path, timeout=0.2)
    lock = []

    def tool(X):
        if not lock:  # another program takes the write lock after the claims
            lock.append(sqlite3.connect(path, isolation_level=None))
            lock[0].execute("BEGIN EXCLUSIVE")
        return X.sum(axis=1)

    oracle = LabelingToolOracle(tool, journal=journal, journal_key="sum")
    X = np.arange(8, dtype=np.float64).reshape(4, 2)
    with pytest.raises(JournalError, match=r"j\.sqlite.*another connection") as info:
        oracle.label(X)
    assert [label for _, label in info.value.unsaved] == [1.0]  # paid, not stored
    assert oracle.n_queries_ == 1  # nothing more was sent
    assert info.value.result.labels[0] == 1.0
    with pytest.raises(JournalError, match=r"j\.sqlite") as again:  # still locked: kept again
        oracle.label(X)
    assert [label for _, label in again.value.unsaved] == [1.0] and oracle.n_queries_ == 1
    lock[0].execute("ROLLBACK")
    lock[0].close()
    result = oracle.label(X)  # the kept label is written first, then reused
    assert oracle.unsaved_ == [] and len(journal) == 4
    assert oracle.n_queries_ == 4 and result.labels == [1.0, 5.0, 9.0, 13.0]


# ------------------------------------------------------------------------ pending
def make_pending_tool():
    """Label = sum, except samples whose first value is negative: not labeled yet;
    raises NotLabeledYet for a sample whose first value is 99."""
    def tool(X):
        if (X[:, 0] == 99).any():
            raise NotLabeledYet("the annotator is away")
        return [PENDING if x[0] < 0 else float(x.sum()) for x in X]
    return tool


# In worker processes (n_jobs=2 with a timeout), the tool's NotLabeledYet and PENDING
# cross the process boundary.
@pytest.mark.parametrize("settings", [{}, {"n_jobs": 2, "timeout": 30.0}])
def test_pending_samples_are_neither_labels_nor_errors(tmp_path, settings):
    X = np.array([[1.0, 1.0], [-1.0, 0.0], [99.0, 0.0], [2.0, 2.0]] * 3)
    oracle = LabelingToolOracle(make_pending_tool(), journal=tmp_path / "j.sqlite",
                                journal_key="pending", max_failures=0, **settings)
    result = oracle.label(X)
    assert result.pending == {1, 2, 5, 6, 9, 10}
    assert result.errors == {} and oracle.failures_ == []
    assert [result.labels[i] for i in (0, 3)] == [2.0, 4.0]
    assert all(result.labels[i] is None for i in result.pending)
    assert not result.succeeded[1] and result.succeeded[0]
    # 4 distinct samples, one call each (repeats are sent once): pending ones are not retried
    assert oracle.n_queries_ == 4
    assert len(oracle.journal_) == 2 and oracle.journal_.n_failed == 0
    assert oracle.journal_.claims() == {}  # claims released


def test_pool_indices_reach_a_tool_that_asks_for_them():
    seen = []

    def tool(X, indices=None):
        seen.append(None if indices is None else list(indices))
        return X.sum(axis=1)

    oracle = LabelingToolOracle(tool, chunk_size=2)
    oracle.label(np.ones((3, 2)), indices=np.array([7, 3, 5]))
    oracle.label(np.ones((1, 2)))
    assert seen == [[7, 3], [5], None]
    parallel = LabelingToolOracle(tool, chunk_size=2, n_jobs=2)
    assert parallel.label(np.ones((3, 2)), indices=[7, 3, 5]).errors == {}


def test_dataset_oracle_missing_entries_are_pending():
    oracle = DatasetOracle(np.array([3, -1, 4, -1]), missing=-1)
    result = oracle.label(None, indices=[0, 1, 3])
    assert result.pending == {1, 2} and result.errors == {} and result.labels[0] == 3
    oracle = DatasetOracle(np.array([0.5, np.nan, np.inf]), missing=np.nan)
    result = oracle.label(None, indices=[0, 1, 2])
    assert result.pending == {1} and list(result.errors) == [2]
    assert DatasetOracle([np.nan]).label(None, indices=[0]).pending == set()


def test_a_sample_twice_in_a_batch_is_paid_once(tmp_path):
    tool = make_counting_tool()
    X = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    result = LabelingToolOracle(tool, journal=tmp_path / "j.sqlite", journal_key="sum").label(X)
    assert result.labels == [3.0, 7.0, 3.0] and sum(tool.calls) == 2


# ------------------------------------------------------- what the oracle says and does


def test_canonicalize_errors_say_what_the_step_returned():
    X = np.array([[-1.0, 0.0], [7.0, 1.0], [8.0, 0.0]])
    result = LabelingToolOracle(RoundingTool()).label(X)
    assert result.errors == {
        0: "canonicalize failed: ValueError: negative input",
        1: "canonicalize failed: it returned shape (1, 1) for a batch of shape (1, 2)",
        2: "canonicalize failed: it returned NaN or infinite values",
    }


def test_canonical_rows_keep_the_dtype_of_the_step_when_some_fail():
    def binarize(X):
        if (X < 0).any():
            raise ValueError("negative input")
        return (X > 0.5).astype(np.float32)

    inputs, errors = canonicalize_batch(binarize, np.array([[0.2, 0.7], [-1.0, 0.9]]))
    assert inputs.dtype == np.float32 and list(errors) == [1]
    np.testing.assert_array_equal(inputs, np.array([[0.0, 1.0], [-1.0, 0.9]], np.float32))


class StatelessTool:
    def __call__(self, X):
        return X.sum(axis=1)


class ConfiguredTool:
    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, X):
        return self.scale * X.sum(axis=1)

    def label(self, X):
        return self(X)


def _row_sums(X):
    return X.sum(axis=1)


def module_tool_calling_a_helper(X):
    return np.sqrt(_row_sums(X))


def test_signatures_of_objects_classes_methods_and_helpers():
    assert tool_signature(StatelessTool()) == "tests.test_oracles.StatelessTool"
    assert tool_signature(float) == "builtins.float"
    # module globals that are modules or functions do not change a configuration
    assert tool_signature(module_tool_calling_a_helper) == \
        "tests.test_oracles.module_tool_calling_a_helper"
    tail = ("; two configurations of it would get the same signature and reuse each "
            "other's labels. Pass journal_key='<tool name, version and settings>' to "
            "LabelingToolOracle.")
    with pytest.raises(ValueError) as info:  # its object holds the settings
        tool_signature(ConfiguredTool(2.0).label)
    assert str(info.value) == ("Cannot sign the journal from the tool ConfiguredTool.label: "
                               "its repr does not show its settings" + tail)
    tool = lambda X: X  # noqa: E731
    with pytest.raises(ValueError) as info:
        tool_signature(tool)
    assert str(info.value) == f"Cannot sign the journal from the tool {tool.__qualname__}: it " \
        "is a lambda" + tail


def test_class_name_labels_are_labels():
    result = LabelingToolOracle(lambda X: ["cat" if x[0] > 0 else "dog" for x in X]).label(
        np.array([[1.0], [-1.0]]))
    assert result.errors == {} and result.labels == ["cat", "dog"]


def test_dataset_oracle_counts_the_labels_it_reveals():
    oracle = DatasetOracle(np.arange(5))
    oracle.label(None, indices=[0, 2])
    oracle.label(None, indices=[4])
    assert oracle.n_queries_ == 3


def test_by_default_a_failed_sample_is_tried_twice():
    oracle = LabelingToolOracle(make_always_failing_tool(), retry_backoff=0.0)
    result = oracle.label(np.zeros((1, 2)))
    assert list(result.errors) == [0] and oracle.n_calls_ == 2


def test_the_default_budget_lets_one_sample_use_all_its_retries():
    # None: as many failures as the round wants labels, but at least 1 + max_retries
    oracle = LabelingToolOracle(make_always_failing_tool(), max_retries=3, retry_backoff=0.0)
    with pytest.raises(LabelingError, match=r"failed 5 times, more than max_failures=None "
                                            r"allows \(4\)"):
        oracle.label(np.arange(4.0).reshape(2, 2))
    assert oracle.n_calls_ == 5


def test_budget_and_max_failures_messages():
    def failures(n):
        return "; ".join(f"sample {i}: RuntimeError: solver diverged" for i in range(n))

    tail = ". The labels already paid for are stored and in err.result."
    oracle = LabelingToolOracle(make_always_failing_tool(), max_retries=0, max_failures=11)
    with pytest.raises(LabelingError) as info:
        oracle.label(np.arange(24.0).reshape(12, 2))
    assert str(info.value) == (
        "The labeling tool failed 12 times, more than max_failures=11 allows (11); nothing "
        f"more was sent. Failures: {failures(10)} (and 2 more)" + tail)
    oracle = LabelingToolOracle(make_always_failing_tool(), max_retries=0, max_failures=1)
    with pytest.raises(LabelingError) as info:
        oracle.label(np.arange(6.0).reshape(3, 2))
    assert str(info.value) == (
        "The labeling tool failed 2 times, more than max_failures=1 allows (1); nothing "
        f"more was sent. Failures: {failures(2)}" + tail)
    with pytest.raises(ValueError) as info:
        LabelingToolOracle(make_sum_tool(), max_failures=-1).label(np.ones((2, 2)))
    assert str(info.value) == ("max_failures must be None, a non-negative int (a count) or a "
                               "positive float (a fraction of the round), got -1.")


def test_one_sample_per_call_may_be_asked_for_explicitly(X):
    oracle = LabelingToolOracle(make_sum_tool(), chunk_size=1)
    np.testing.assert_allclose(oracle.label(X).labels, X.sum(axis=1))
    assert oracle.n_calls_ == len(X)


def test_failures_say_which_sample_failed_and_why():
    oracle = LabelingToolOracle(make_faulty_tool(), max_retries=0)
    oracle.label(np.array([[0.0, 1.0], [1.0, 1.0]]))
    assert oracle.failures_ == [{"sample": 1, "error": "RuntimeError: solver diverged"}]


def test_a_single_sample_is_not_a_batch():
    with pytest.raises(ValueError) as info:
        LabelingToolOracle(make_sum_tool()).label(np.float64(1.0))
    assert str(info.value) == "X must be a batch of samples (an array with a first axis)."


def test_pending_is_one_object_that_says_what_it_is():
    import pickle

    assert repr(PENDING) == "PENDING" and repr([1.0, PENDING]) == "[1.0, PENDING]"
    assert pickle.loads(pickle.dumps(PENDING)) is PENDING


# ------------------------------------------------ running the tool (_tool_runner.py)
def test_a_joblib_backend_reports_failures_timeouts_and_runs_in_parallel():
    import joblib

    def tool(X):
        if X[0, 0] == 4:
            time.sleep(0.6)
        if X[0, 0] == 1:
            raise RuntimeError("solver diverged")
        return X.sum(axis=1)

    barrier = threading.Barrier(2, timeout=1.0)

    def meeting_tool(X):  # answers only when two calls run at once
        barrier.wait()
        return X.sum(axis=1)

    with joblib.parallel_config(backend="threading"):
        failed = LabelingToolOracle(tool, max_retries=0).label(np.array([[0.0, 1.0],
                                                                         [1.0, 1.0]]))
        timed_out = LabelingToolOracle(tool, n_jobs=2, timeout=0.2, max_retries=0).label(
            np.array([[4.0, 1.0]]))
        parallel = LabelingToolOracle(meeting_tool, n_jobs=2, max_retries=0).label(
            np.ones((2, 2)))
    assert failed.errors == {1: "RuntimeError: solver diverged"} and failed.labels[0] == 1.0
    assert timed_out.errors == {0: "TimeoutError: labeling took longer than timeout=0.2 s"}
    assert parallel.errors == {} and parallel.labels == [2.0, 2.0]


def test_samples_claimed_by_another_process_are_awaited_taken_over_or_given_up(tmp_path):
    import os
    import socket

    from hardsample.journal import sample_key

    path = tmp_path / "j.sqlite"
    X = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
    keys = [sample_key(x) for x in X]
    other = AnnotationJournal(path, signature="sum")  # another process, on this host
    assert other.claim([keys[0], keys[1], keys[3]]) == ({keys[0], keys[1], keys[3]}, {})
    happened = []

    def tool(X):
        if not happened:  # while this run labels sample 2, the other process ...
            happened.append(True)
            other.put_labels([(keys[0], 10.0)])  # ... stores sample 0's label,
            db = sqlite3.connect(path)  # and the one that claimed sample 1 dies
            db.execute("UPDATE claims SET pid=? WHERE sample_key=?", (2 ** 22 + 12345, keys[1]))
            db.commit()
            db.close()
        return X.sum(axis=1)

    oracle = LabelingToolOracle(tool, journal=path, journal_key="sum", claim_wait=0.3)
    result = oracle.label(X)
    assert result.labels == [10.0, 2.0, 3.0, None]
    assert result.errors == {3: (
        f"claimed by another process (pid {os.getpid()} on {socket.gethostname()}), which "
        "gave no label within claim_wait=0.3 s; not sent, so that it is not paid twice")}
    assert (oracle.n_reused_, oracle.n_queries_) == (1, 2)
    # the label of the sample taken over is stored like the others
    assert oracle.journal_.get_many(X[:3]) == {0: 10.0, 1: 2.0, 2: 3.0}
    oracle.journal_.close()
    other.close()


def make_foreign_label_tool(folder):
    """A tool whose labels are of a class that only its worker process can import."""
    def tool(X):
        import importlib
        import sys
        sys.path.insert(0, folder)
        # written by the test into a temporary folder: not a dependency
        module = importlib.import_module("foreign_label_module")
        return [module.Label() for _ in X]
    return tool


def test_an_answer_this_process_cannot_read_is_a_failure(tmp_path):
    (tmp_path / "foreign_label_module.py").write_text("class Label:\n    pass\n")
    oracle = LabelingToolOracle(make_foreign_label_tool(str(tmp_path)), timeout=30.0,
                                max_retries=0)
    result = oracle.label(np.ones((1, 2)))
    assert result.errors == {0: "the answer cannot be read: ModuleNotFoundError: No module "
                                "named 'foreign_label_module'"}


def make_slow_to_load_tool(seconds):
    class SlowToLoad:
        def __init__(self):
            self.scale = 1.0  # a state to restore, so that unpickling calls __setstate__

        def __setstate__(self, state):
            time.sleep(seconds)
            self.__dict__.update(state)

        def __call__(self, X):
            return self.scale * X.sum(axis=1)
    return SlowToLoad()


def test_a_tool_that_loads_too_slowly_in_its_worker_is_a_failure(monkeypatch):
    from hardsample import _tool_runner

    monkeypatch.setattr(_tool_runner, "LOAD_TIMEOUT", 0.3)
    oracle = LabelingToolOracle(make_slow_to_load_tool(3.0), timeout=30.0, max_retries=0)
    result = oracle.label(np.ones((1, 2)))
    assert result.errors == {0: "the worker process could not load the tool within 0.3 s"}


def test_workers_that_cannot_start_fail_their_samples(monkeypatch):
    from hardsample import _tool_runner

    monkeypatch.setattr(_tool_runner, "_worker_source", lambda: "raise SystemExit(3)\n")
    oracle = LabelingToolOracle(make_sum_tool(), timeout=30.0, max_retries=0)
    result = oracle.label(np.ones((1, 2)))
    assert result.errors == {0: "the labeling worker processes cannot start (3 died before "
                                "being ready)"}


class _RacingJournal(AnnotationJournal):
    """Between the oracle's lookup and its claims, another process stores the label of
    sample 0; reading that label back then fails (e.g. a disk error)."""

    lookups = 0

    def claim(self, keys):
        with AnnotationJournal(self.path) as other:
            other.put_labels([(keys[0], 5.0)])
        return super().claim(keys)

    def get_many(self, samples, keys=None):
        self.lookups += 1
        if self.lookups > 1:
            raise JournalError(f"The journal {self.path!r}: reading labels failed "
                               "(OperationalError: disk I/O error).", path=self.path)
        return super().get_many(samples, keys)


def test_nothing_is_paid_for_once_the_journal_failed(tmp_path):
    tool = make_counting_tool()
    journal = _RacingJournal(tmp_path / "j.sqlite")
    oracle = LabelingToolOracle(tool, journal=journal, journal_key="sum")
    with pytest.raises(JournalError, match="disk I/O error") as info:
        oracle.label(np.arange(6.0).reshape(3, 2))
    assert tool.calls == [] and oracle.n_queries_ == 0
    assert info.value.result.unsent == {0, 1, 2} and info.value.unsaved == []
    journal.close()


def test_a_tool_without_an_inspectable_signature_gets_no_indices():
    import operator

    first_column = operator.itemgetter((slice(None), 0))  # no signature: it takes X only
    result = LabelingToolOracle(first_column).label(np.array([[1.0, 2.0], [3.0, 4.0]]),
                                                    indices=[5, 6])
    assert result.errors == {} and result.labels == [1.0, 3.0]


def test_each_bad_label_in_a_batch_counts_against_the_budget():
    def tool(X):
        return np.full(len(X), np.nan)  # one call, three bad labels

    oracle = LabelingToolOracle(tool, chunk_size=3, max_retries=0, max_failures=2)
    with pytest.raises(LabelingError, match="failed 3 times, more than max_failures=2"):
        oracle.label(np.ones((3, 2)))
    assert oracle.n_calls_ == 1


class _LateLabelJournal(AnnotationJournal):
    """While this run waits for sample 0 (claimed by ``other``), ``other`` stores its
    label just before this run claims it again."""

    n_claims = 0
    other = None

    def claim(self, keys):
        self.n_claims += 1
        if self.n_claims == 2:
            self.other.put_labels([(keys[0], 7.0)])
        return super().claim(keys)


def test_a_label_stored_while_waiting_for_a_claim_is_taken(tmp_path):
    from hardsample.journal import sample_key

    path = tmp_path / "j.sqlite"
    X = np.array([[1.0, 0.0], [2.0, 0.0]])
    other = AnnotationJournal(path, signature="sum")  # another live process, this host
    other.claim([sample_key(X[0])])
    journal = _LateLabelJournal(path)
    journal.other = other
    tool = make_counting_tool()
    oracle = LabelingToolOracle(tool, journal=journal, journal_key="sum", claim_wait=5.0)
    result = oracle.label(X)
    assert result.labels == [7.0, 2.0] and result.errors == {}
    assert tool.calls == [1] and oracle.n_reused_ == 1
    journal.close()
    other.close()


def module_tool_with_global_in_a_generator(X):
    return np.fromiter((SCALE * row.sum() for row in X), dtype=np.float64)


def test_a_global_read_only_inside_a_generator_makes_a_tool_unsignable():
    # the generator expression is a code object of its own (comprehensions are too
    # before Python 3.12)
    with pytest.raises(ValueError, match="reads the module global 'SCALE' \\(float\\)"):
        tool_signature(module_tool_with_global_in_a_generator)


@pytest.mark.parametrize("params, message", [
    ({"timeout": 0}, "timeout must be None or a positive number of seconds, got 0."),
    ({"claim_wait": None},
     "claim_wait must be a positive number of seconds, got None."),
    ({"retry_backoff": -1.0},
     "retry_backoff must be a non-negative number of seconds, got -1.0."),
    ({"max_retries": 1.5}, "max_retries must be a non-negative int, got 1.5."),
])
def test_bad_params_say_what_is_allowed(params, message):
    with pytest.raises(ValueError) as info:
        LabelingToolOracle(make_sum_tool(), **params).label(np.ones((2, 2)))
    assert str(info.value) == message


def test_a_canonicalize_that_is_not_callable_is_named():
    with pytest.raises(TypeError) as info:
        LabelingToolOracle(make_sum_tool(), canonicalize=3).label(np.ones((2, 2)))
    assert str(info.value) == "canonicalize must be a callable or None, got int."


def test_a_partial_is_signed_by_its_function_and_arguments():
    # two partials of different functions with the same arguments must not share labels
    assert tool_signature(functools.partial(module_solver, mesh=0.2)) == \
        "functools.partial(tests.test_oracles.module_solver, *(), **{'mesh': 0.2})"


def test_an_unsignable_tool_object_is_named_by_its_class():
    with pytest.raises(ValueError, match="^Cannot sign the journal from the tool "
                                         "ConfiguredTool: its repr does not show"):
        tool_signature(ConfiguredTool(2.0))


# --------------------------------------------- oracles.py: survivors of the seed-2 sample
class MeshSolver:
    def __init__(self, mesh):
        self.mesh = mesh

    def __repr__(self):
        return f"MeshSolver(mesh={self.mesh})"

    def solve(self, X):
        return self.mesh * X.sum(axis=1)


def test_bound_methods_are_signed_with_their_object_settings():
    coarse, fine = MeshSolver(3).solve, MeshSolver(4).solve
    assert tool_signature(coarse) != tool_signature(fine)
    assert tool_signature(coarse) == tool_signature(MeshSolver(3).solve)
    assert "MeshSolver(mesh=3)" in tool_signature(coarse)


def test_canonicalizing_rows_one_by_one_leaves_the_callers_batch_alone():
    def round_non_negative(X):
        if (X < 0).any():
            raise ValueError("negative input")
        return np.round(X)

    X = np.array([[0.4, 0.6], [-1.0, 0.2]])
    inputs, errors = canonicalize_batch(round_non_negative, X)
    assert inputs[0].tolist() == [0.0, 1.0] and list(errors) == [1]
    assert X.tolist() == [[0.4, 0.6], [-1.0, 0.2]]


def test_fit_argument_errors_say_what_to_pass():
    with pytest.raises(ValueError) as both:
        check_oracle(np.zeros(3), module_tool)
    assert str(both.value) == "Pass either y (the pool's hidden labels) or oracle, not both."
    with pytest.raises(TypeError) as wrong:
        check_oracle(None, 42)
    assert str(wrong.value) == ("oracle must be a callable labeling tool or an oracle object, "
                                "got int.")
    with pytest.raises(TypeError) as synthetic:
        DatasetOracle(np.zeros(3)).label(np.ones((1, 2)))
    assert str(synthetic.value) == (
        "DatasetOracle only reveals labels of pool samples (by index); synthetic samples "
        "need a labeling tool: pass oracle=<callable>.")


@pytest.mark.parametrize("make, error, message", [
    (lambda: LabelingToolOracle(3).label(np.ones((1, 2))), TypeError,
     "func must be callable, got int."),
    (lambda: LabelingToolOracle(module_tool, chunk_size=0).label(np.ones((1, 2))), ValueError,
     "chunk_size must be None or a positive int, got 0."),
    (lambda: LabelingToolOracle(module_tool, chunk_size=2.5).label(np.ones((1, 2))),
     ValueError, "chunk_size must be None or a positive int, got 2.5."),
    (lambda: LabelingToolOracle(module_tool, max_failures=-1).label(np.ones((1, 2))),
     ValueError, "max_failures must be None, a non-negative int (a count) or a positive "
     "float (a fraction of the round), got -1."),
    (lambda: LabelingToolOracle(module_tool).label(np.float64(1.0)), ValueError,
     "X must be a batch of samples (an array with a first axis)."),
    (lambda: LabelingToolOracle(module_tool).label(np.ones((2, 2)), indices=[0]), ValueError,
     "indices has 1 entries for 2 samples."),
    (lambda: tool_signature(module_tool, journal_key=""), TypeError,
     "journal_key must be a non-empty str or None, got ''."),
    (lambda: tool_signature(module_tool_with_global), ValueError,
     "Cannot sign the journal from the tool module_tool_with_global: it reads the module "
     "global 'SCALE' (float), which may change; two configurations of it would get the "
     "same signature and reuse each other's labels. Pass journal_key='<tool name, version "
     "and settings>' to LabelingToolOracle."),
])
def test_labeling_tool_errors_say_exactly_what_is_wrong(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == message


def test_calls_add_up_over_batches_and_a_batch_that_all_fails_canonicalizing_is_all_errors():
    oracle = LabelingToolOracle(module_tool, chunk_size=2)
    oracle.label(np.ones((3, 2)))
    oracle.label(np.ones((2, 2)))
    assert oracle.n_calls_ == 3 and oracle.n_queries_ == 5

    def refuse(X):
        raise ValueError("not a mesh")

    tool = LabelingToolOracle(module_tool, canonicalize=refuse)
    result = tool.label(np.ones((2, 2)))
    assert result.labels == [None, None] and tool.n_calls_ == 0
    assert result.errors == {0: "canonicalize failed: ValueError: not a mesh",
                             1: "canonicalize failed: ValueError: not a mesh"}
