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
    assert (oracle.n_calls_, oracle.n_queries_, oracle.n_reused_) == (1, 12, 0)


def test_parallel_labels_equal_sequential(X):
    sequential = LabelingToolOracle(make_sum_tool()).label(X).labels
    oracle = LabelingToolOracle(make_sum_tool(), n_jobs=2)
    parallel = oracle.label(X).labels
    np.testing.assert_array_equal(parallel, sequential)
    assert oracle.n_calls_ == 2 and oracle.n_queries_ == 12


def test_chunk_size_splits_calls(X):
    tool = make_counting_tool()
    oracle = LabelingToolOracle(tool, chunk_size=5)
    np.testing.assert_allclose(oracle.label(X).labels, X.sum(axis=1))
    assert tool.calls == [4, 4, 4] and oracle.n_calls_ == 3


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
    # with one chunk (sequential) every sample of it fails; with two chunks,
    # the other chunk is labeled
    labeled = [i for i in range(4) if i not in result.errors]
    np.testing.assert_allclose([result.labels[i] for i in labeled], X[labeled].sum(axis=1))
    if n_jobs == 2:
        assert labeled == [2, 3]


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
    with pytest.raises(TypeError, match="journal"):
        LabelingToolOracle(make_sum_tool(), journal=3).label(np.ones((2, 2)))


# ----------------------------------------------------------------------- journal
def test_journal_resume_makes_no_tool_calls(tmp_path, X):
    path = tmp_path / "labels.sqlite"
    tool = make_counting_tool()
    first = LabelingToolOracle(tool, journal=path)
    labels = first.label(X).labels
    assert first.n_calls_ == 1 and len(first.journal_) == len(X)
    first.journal_.close()

    again = LabelingToolOracle(tool, journal=str(path))
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
    LabelingToolOracle(tool, journal=path, chunk_size=2).label(X)
    assert seen == [0, 2, 4]


def test_journal_other_signature_refused(tmp_path, X):
    path = tmp_path / "labels.sqlite"
    LabelingToolOracle(make_sum_tool(), journal=path, journal_key="solver(mesh=0.1)").label(X)
    with pytest.raises(ValueError, match=r"was written by 'solver\(mesh=0.1\)', not "
                                         r"'solver\(mesh=0.2\)'"):
        LabelingToolOracle(make_sum_tool(), journal=path, journal_key="solver(mesh=0.2)").label(X)
    with pytest.raises(ValueError, match="was written by"):
        LabelingToolOracle(make_faulty_tool(), journal=path).label(X)


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
    first = LabelingToolOracle(to_maps, journal=journal).label(X).labels
    assert journal.signature_ == tool_signature(to_maps)
    again = LabelingToolOracle(to_maps, journal=journal)
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


def test_tool_signature():
    def solver(X, mesh=0.1):
        return X

    assert tool_signature(solver).endswith("test_tool_signature.<locals>.solver")
    assert "'mesh': 0.2" in tool_signature(functools.partial(solver, mesh=0.2))
    with pytest.raises(TypeError, match="journal_key"):
        tool_signature(solver, journal_key=3)


# -------------------------------------------------------------- with the estimator
def test_estimator_rerun_with_journal_makes_no_tool_calls(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.rand(60, 4).astype(np.float32)
    path = tmp_path / "labels.sqlite"
    tool = make_counting_tool()

    def fit():
        oracle = LabelingToolOracle(tool, journal=path)
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
    assert oracle.n_calls_ == 2  # one chunk per dask worker thread


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
