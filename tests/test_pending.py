"""Labeling with people: requests that wait for labels, sittings, initial="labeled"."""

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from hardsample import (
    LabelingError,
    LabelsPending,
    LatentHardMiningClassifier,
    LatentHardMiningRegressor,
)
from hardsample.callbacks import LabelBudget
from hardsample.oracles import PENDING, DatasetOracle, NotLabeledYet

from ._sittings_run import make_estimator
from .conftest import make_classifier_net, make_regressor_net

N_POOL = 600
SCRIPT = Path(__file__).with_name("_sittings_run.py")


@pytest.fixture(scope="module")
def pool(digits):
    X, y = digits
    return X[:N_POOL], y[:N_POOL]


def _clf(**kwargs):
    params = dict(sampler="margin", initial_size=20, round_size=10, n_rounds=3,
                  random_state=0)
    params.update(kwargs)
    return LatentHardMiningClassifier(make_classifier_net(max_epochs=2), **params)


def _partial_fit(est, *args, **kwargs):
    """partial_fit, returning the LabelsPending warnings it issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.partial_fit(*args, **kwargs)
    return [w for w in caught if issubclass(w.category, LabelsPending)]


def _unlabeled(n):
    return np.full(n, -1)


# --------------------------------------------------------------- a request
def test_a_request_waits_with_a_warning_and_costs_nothing(pool):
    X, _ = pool
    clf = _clf()
    caught = _partial_fit(clf, X, _unlabeled(len(X)), classes=range(10))
    assert len(caught) == 1 and issubclass(LabelsPending, UserWarning)
    assert str(caught[0].message).startswith("20 requested samples await labels")
    assert "partial_fit(X, y)" in str(caught[0].message)
    assert len(clf.pending_) == 20 and len(set(clf.pending_.tolist())) == 20
    assert clf.history_ == [] and clf.n_oracle_calls_ == 0 and clf.failed_labels_ == []
    with pytest.raises(NotFittedError):
        clf.predict(X[:2])
    # The same seed asks for the same samples, and fit stops at the same request.
    again = _clf()
    _partial_fit(again, X, _unlabeled(len(X)), classes=range(10))
    np.testing.assert_array_equal(again.pending_, clf.pending_)
    with pytest.warns(LabelsPending, match="20 requested samples"):
        fitted = _clf().fit(X, _unlabeled(len(X)), classes=range(10))
    np.testing.assert_array_equal(fitted.pending_, clf.pending_)
    assert fitted.history_ == []


def test_labels_in_y_resume_the_round_train_once_and_ask_again(pool):
    X, y_full = pool
    clf = _clf()
    y = _unlabeled(len(X))
    _partial_fit(clf, X, y, classes=range(10))
    first = clf.pending_
    y[first] = y_full[first]
    caught = _partial_fit(clf, X, y)
    assert len(clf.history_) == 1 and str(caught[0].message).startswith("10 requested")
    record = clf.history_[0]
    assert (record["n_new"], record["n_chosen"], record["n_pending"]) == (20, 0, 0)
    np.testing.assert_array_equal(clf.labeled_indices_, first)
    assert len(clf.pending_) == 10 and not np.isin(clf.pending_, first).any()
    # A call that brings no new label changes nothing (a reload after a crash).
    before = clf.pending_
    caught = _partial_fit(clf, X, y)
    assert len(clf.history_) == 1 and len(caught) == 1
    np.testing.assert_array_equal(clf.pending_, before)
    assert clf.n_oracle_calls_ == 20 and clf.failed_labels_ == []
    # The selections equal a one-shot benchmark run with the same seed.
    y[clf.pending_] = y_full[clf.pending_]
    _partial_fit(clf, X, y)
    reference = _clf(n_rounds=3).fit(X, y_full)
    np.testing.assert_array_equal(np.concatenate([clf.labeled_indices_, clf.pending_]),
                                  reference.labeled_indices_)


def test_some_labels_train_on_what_came_and_carry_the_rest(pool):
    X, y_full = pool
    clf = _clf()
    y = _unlabeled(len(X))
    _partial_fit(clf, X, y, classes=range(10))
    requested = clf.pending_
    y[requested[:12]] = y_full[requested[:12]]
    _partial_fit(clf, X, y)
    record = clf.history_[-1]
    assert (record["n_new"], record["n_pending"]) == (12, 8)
    # The next request: the 8 still pending first, then only the shortfall of 2.
    np.testing.assert_array_equal(clf.pending_[:8], requested[12:])
    assert len(clf.pending_) == 10
    y[clf.pending_] = y_full[clf.pending_]
    _partial_fit(clf, X, y)
    assert clf.history_[-1]["n_new"] == 10 and clf.history_[-1]["n_pending"] == 0
    labeled = clf.labeled_indices_.tolist()
    assert len(labeled) == len(set(labeled)) == 22 and clf.failed_labels_ == []
    assert clf.n_oracle_calls_ == 22  # nothing paid twice


def test_labels_outside_the_request_are_taken_and_counted(pool):
    X, y_full = pool
    clf = _clf()
    y = _unlabeled(len(X))
    _partial_fit(clf, X, y, classes=range(10))
    chosen = np.setdiff1d(np.arange(len(X)), clf.pending_)[:5]
    y[clf.pending_] = y_full[clf.pending_]
    y[chosen] = y_full[chosen]
    _partial_fit(clf, X, y)
    record = clf.history_[0]
    assert (record["n_new"], record["n_chosen"], record["n_labeled"]) == (25, 5, 25)
    assert np.isin(chosen, clf.labeled_indices_).all()
    np.testing.assert_array_equal(clf.y_labeled_, y_full[clf.labeled_indices_])
    assert not np.isin(clf.pending_, chosen).any()


def test_initial_labeled_starts_from_the_labels_in_hand(pool):
    X, y_full = pool
    in_hand = np.arange(0, 300, 10)
    y = _unlabeled(len(X))
    y[in_hand] = y_full[in_hand]
    with pytest.warns(LabelsPending, match="10 requested samples"):
        clf = _clf(initial="labeled").fit(X, y)
    assert len(clf.history_) == 1 and clf.history_[0]["n_new"] == len(in_hand)
    np.testing.assert_array_equal(np.sort(clf.labeled_indices_), in_hand)
    assert len(clf.pending_) == 10 and not np.isin(clf.pending_, in_hand).any()
    with pytest.raises(ValueError, match="y labels no sample"):
        _clf(initial="labeled").fit(X, _unlabeled(len(X)), classes=range(10))
    with pytest.raises(ValueError, match="initial='labeled'.*labeling tool"):
        _clf(initial="labeled").fit(X, oracle=lambda batch: np.zeros(len(batch), int),
                                    classes=range(10))


def test_class_markers_are_checked_before_any_label(pool):
    X, y_full = pool
    with pytest.raises(ValueError, match="Pass classes="):
        _clf().partial_fit(X, _unlabeled(len(X)))
    y = y_full.copy()
    y[:5] = -1
    with pytest.raises(ValueError, match="cannot be a class"):
        _clf().fit(X, y, classes=[-1, *range(10)])
    clf = _clf()
    _partial_fit(clf, X, _unlabeled(len(X)), classes=range(10))
    bad = _unlabeled(len(X))
    bad[clf.pending_[0]] = 42
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, bad)
    assert clf.n_oracle_calls_ == 0
    # the same through a hidden-label oracle whose y gets written between calls
    oracle = DatasetOracle(_unlabeled(len(X)), missing=-1)
    clf = _clf()
    _partial_fit(clf, X, oracle=oracle, classes=range(10))
    oracle.y[clf.pending_[0]] = 42
    with pytest.raises(ValueError, match=r"not in classes: \[42\]"):
        clf.partial_fit(X, oracle=oracle)
    assert clf.n_oracle_calls_ == 0 and clf.failed_labels_ == []


def test_regressor_waits_on_nan(pool):
    X, _ = pool
    target = X.sum(axis=1)
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=2), sampler="random",
                                    initial_size=15, round_size=10, random_state=0)
    y = np.full(len(X), np.nan)
    caught = _partial_fit(reg, X, y)
    assert len(caught) == 1 and len(reg.pending_) == 15
    y[reg.pending_] = target[reg.pending_]
    _partial_fit(reg, X, y)
    assert reg.history_[0]["n_new"] == 15 and len(reg.pending_) == 10
    np.testing.assert_allclose(reg.y_labeled_, target[reg.labeled_indices_], rtol=1e-6)
    partly = np.full((len(X), 2), np.nan)
    partly[0, 0] = 1.0
    with pytest.raises(ValueError, match="partly NaN"):
        LatentHardMiningRegressor(make_regressor_net()).fit(X, partly)


# -------------------------------------------------------------- a labeling tool
ANSWERS = {}
ASKED = []


def _slow_person(X, indices):
    """Labels only the samples whose answer is in ANSWERS; raises NotLabeledYet otherwise."""
    ASKED.extend(int(i) for i in indices)
    if not all(int(i) in ANSWERS for i in indices):
        raise NotLabeledYet("waiting for the person")
    return [ANSWERS[int(i)] for i in indices]


def _pending_marker(X, indices):
    ASKED.extend(int(i) for i in indices)
    return [ANSWERS.get(int(i), PENDING) for i in indices]


@pytest.mark.parametrize("tool, timeout, n_jobs", [
    (_slow_person, None, None), (_pending_marker, 30, None), (_slow_person, 30, 2)])
def test_a_labeling_tool_pauses_the_same_way(pool, tool, timeout, n_jobs):
    from hardsample import LabelingToolOracle

    X, y_full = pool
    ANSWERS.clear()
    ASKED.clear()
    clf = _clf()
    oracle = LabelingToolOracle(tool, timeout=timeout, n_jobs=n_jobs)
    with joblib.parallel_config(backend="threading"):  # the tool's globals are shared
        caught = _partial_fit(clf, X, oracle=oracle, classes=range(10))
    assert "let the labeling tool answer" in str(caught[0].message)
    requested = clf.pending_
    assert sorted(ASKED) == sorted(requested.tolist()) and clf.failed_labels_ == []
    # Between sittings: the pending run, with its tool, survives joblib.
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    clf = joblib.load(io.BytesIO(buffer.getvalue()))
    ANSWERS.update({int(i): int(y_full[i]) for i in requested})
    ASKED.clear()
    with joblib.parallel_config(backend="threading"):
        _partial_fit(clf, X)
    assert len(clf.history_) == 1 and clf.history_[0]["n_new"] == 20
    # Asked again for the pending samples only, then for the next batch.
    assert sorted(ASKED[:20]) == sorted(requested.tolist()) and len(ASKED) == 30
    assert len(clf.pending_) == 10 and clf.failed_labels_ == []


# ------------------------------------------------------------------ stopping
def test_partial_fit_honours_stop_when(pool):
    X, y_full = pool
    clf = _clf(stop_when=LabelBudget(40))
    n_calls = 0
    while not getattr(clf, "stopped_", False):
        clf.partial_fit(X, y_full)
        n_calls += 1
        assert n_calls < 10
    assert n_calls == 3 and clf.history_[-1]["n_labeled"] == 40
    with pytest.warns(UserWarning, match="stop_when said stop"):
        clf.partial_fit(X, y_full)
    assert len(clf.history_) == 3
    clf.set_params(stop_when=None).partial_fit(X, y_full)
    assert len(clf.history_) == 4 and not clf.stopped_
    # With people, a stopped run asks for no further batch.
    people = _clf(stop_when=LabelBudget(20))
    y = _unlabeled(len(X))
    _partial_fit(people, X, y, classes=range(10))
    y[people.pending_] = y_full[people.pending_]
    assert _partial_fit(people, X, y) == []
    assert people.stopped_ and len(people.pending_) == 0
    assert _clf(stop_when=LabelBudget(20)).fit(X, y_full).stopped_


def _always_fails(X):
    raise RuntimeError("solver crashed")


def test_labeling_error_names_the_attributes_each_estimator_has(pool):
    X, _ = pool
    with pytest.raises(LabelingError) as caught:
        _clf(initial_size=5, n_rounds=1).fit(X[:10], oracle=_always_fails, classes=range(10))
    message = str(caught.value)
    assert "y_synthetic_" not in message and "labeled_indices_, y_labeled_" in message
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=1), sampler="random",
                                    initial_size=5, n_rounds=1, random_state=0)
    with pytest.raises(LabelingError, match="y_labeled_\\)"):
        reg.fit(X[:10], oracle=_always_fails)


# ------------------------------------------------------------------ sittings
def _run_script(*args, die=False):
    root = Path(__file__).resolve().parents[1]  # this checkout's hardsample, not an installed one
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, str(SCRIPT), *map(str, args)] + (["--die"] if die else [])
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_three_sittings_in_separate_processes_match_a_one_shot_run(tmp_path, digits):
    _, y_full = digits
    state, labels = tmp_path / "clf.joblib", tmp_path / "labels.csv"
    labels.write_text("index,label\n")
    reports, asked = [], []
    for sitting in range(4):  # the request, then three sittings of 50 labels
        if sitting == 2:  # killed after partial_fit, before the dump: nothing is lost
            died = _run_script("sitting", state, labels, tmp_path / "dead.json", die=True)
            assert died.returncode == -9, died.stderr
        out = tmp_path / f"sitting{sitting}.json"
        done = _run_script("sitting", state, labels, out)
        assert done.returncode == 0, done.stderr
        report = json.loads(out.read_text())
        reports.append(report)
        asked.extend(report["pending"])
        # The person labels the requested batch; the file keeps every label so far.
        with labels.open("a") as handle:
            handle.writelines(f"{i},{y_full[i]}\n" for i in report["pending"])
    # The benchmark run with the same seed and data (torch is single-threaded here too).
    reference = make_estimator(n_rounds=4).fit(*digits).labeled_indices_.tolist()
    last = reports[-1]
    assert last["labeled"] + last["pending"] == reference
    assert len(asked) == len(set(asked)) == 200  # nothing asked twice
    assert [r["n_fits"] for r in reports] == [0, 1, 1, 1]  # each sitting trains once
    assert [len(r["history"]) for r in reports] == [0, 1, 2, 3]
    assert all(r["failed"] == 0 for r in reports)
    assert last["history"][-1]["n_oracle_calls"] == 150
