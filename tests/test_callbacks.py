"""Callbacks of the round loop and stopping criteria."""

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score, make_scorer

from hardsample import DatasetOracle, LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.callbacks import (
    Callback,
    EvaluateEachRound,
    LabelBudget,
    ProgressBar,
    ScorePlateau,
)
from hardsample.generators import PCAGenerator

from .conftest import make_classifier_net, make_regressor_net


def _clf(**kwargs):
    params = dict(sampler="nearest", initial_size=40, round_size=20, n_rounds=4, random_state=0)
    params.update(kwargs)
    return LatentHardMiningClassifier(make_classifier_net(), PCAGenerator(n_components=3), **params)


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_fit_begin(self, estimator, **kwargs):
        self.events.append(("fit_begin", None))

    def on_round_begin(self, estimator, round_number=None, **kwargs):
        self.events.append(("round_begin", round_number))

    def on_round_end(self, estimator, record=None, **kwargs):
        # the record is already in history_ and the net is trained when this runs
        assert estimator.history_[-1] is record and estimator.net_ is not None
        self.events.append(("round_end", record["n_labeled"]))

    def on_fit_end(self, estimator, **kwargs):
        self.events.append(("fit_end", None))


def test_hooks_are_called_in_order(digits):
    X, y = digits
    recorder = Recorder()
    _clf(n_rounds=3, callbacks=[recorder]).fit(X, y)
    assert recorder.events == [
        ("fit_begin", None),
        ("round_begin", 1), ("round_end", 40),
        ("round_begin", 2), ("round_end", 60),
        ("round_begin", 3), ("round_end", 80),
        ("fit_end", None),
    ]


def test_partial_fit_notifies_one_round(digits):
    X, y = digits
    recorder = Recorder()
    clf = _clf(callbacks=[recorder])
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert [e for e in recorder.events if e[0] == "round_begin"] == [("round_begin", 1),
                                                                     ("round_begin", 2)]


def test_label_budget_stops_fit(digits):
    X, y = digits
    clf = _clf(stop_when=LabelBudget(75)).fit(X, y)
    assert [h["n_labeled"] for h in clf.history_] == [40, 60, 80]


def test_score_plateau_stops_when_the_score_stalls(digits):
    X, y = digits
    plateau = ScorePlateau(X[:200], y[:200], patience=1, min_delta=1.0)  # nothing improves by 1
    clf = _clf(stop_when=plateau).fit(X, y)
    assert len(clf.history_) == 2 and len(plateau.scores_) == 2
    assert plateau.scores_[0] == pytest.approx(clf.score(X[:200], y[:200]), abs=0.3)


def test_any_callable_stops_fit(digits):
    X, y = digits
    clf = _clf(stop_when=lambda est, record: record["round"] == 2).fit(X, y)
    assert len(clf.history_) == 2


def test_verbose_shows_a_progress_bar(digits, capsys):
    X, y = digits
    _clf(n_rounds=2, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert "LatentHardMiningClassifier" in err and "n_labeled=60" in err


def test_progress_bar_is_not_added_twice(digits):
    X, y = digits
    bar = ProgressBar(total=2)
    clf = _clf(n_rounds=2, verbose=1, callbacks=[bar])
    assert clf._callbacks() == [bar]


@pytest.mark.parametrize("make, match", [
    (lambda: LabelBudget(0), "max_labels"),
    (lambda: LabelBudget(True), "max_labels"),
    (lambda: ScorePlateau(None, None, patience=0), "patience"),
    (lambda: ScorePlateau(None, None, min_delta=-1.0), "min_delta"),
])
def test_bad_criteria(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("param, value", [("callbacks", "not a list"), ("stop_when", 3)])
def test_bad_callback_parameters_fail_before_any_label(digits, param, value):
    X, y = digits
    with pytest.raises(ValueError, match=param):
        _clf(**{param: value}).fit(X, y)


def test_history_records_serialize(digits):
    import json

    X, y = digits
    clf = _clf(n_rounds=2).fit(X, y)
    restored = json.loads(json.dumps([r.to_dict() for r in clf.history_]))
    assert [r["n_labeled"] for r in restored] == [40, 60]
    assert set(restored[1]) == set(clf.history_[1]) and np.isclose(
        restored[1]["train_seconds"], clf.history_[1]["train_seconds"])


# ------------------------------------------------------------ EvaluateEachRound
def _scored(X, y, scoring=None, **kwargs):
    evaluate = EvaluateEachRound(X[1400:], y[1400:], scoring=scoring)
    params = dict(sampler="margin", n_rounds=3, callbacks=[evaluate])
    params.update(kwargs)
    return LatentHardMiningClassifier(make_classifier_net(), initial_size=40, round_size=20,
                                      random_state=0, **params)


def test_evaluate_each_round_puts_the_score_into_every_record(digits):
    X, y = digits
    clf = _scored(X, y).fit(X[:1400], y[:1400])
    assert [r["n_labeled"] for r in clf.history_] == [40, 60, 80]
    assert all(r["score_name"] == "accuracy" and 0.0 <= r["score"] <= 1.0 for r in clf.history_)
    # the last round's score is the fitted estimator's validation score
    assert clf.history_[-1]["score"] == pytest.approx(clf.score(X[1400:], y[1400:]))
    assert len({r["score"] for r in clf.history_}) > 1  # one evaluation per round
    assert json.loads(json.dumps(clf.history_[0].to_dict()))["score"] == clf.history_[0]["score"]


def test_without_the_callback_records_have_no_score(digits):
    X, y = digits
    clf = _clf(n_rounds=1).fit(X, y)
    assert clf.history_[0]["score"] is None and clf.history_[0]["score_name"] is None


@pytest.mark.parametrize("scoring, name, metric", [
    ("balanced_accuracy", "balanced_accuracy", balanced_accuracy_score),
    (make_scorer(f1_score, average="macro"), "f1_score",
     lambda t, p: f1_score(t, p, average="macro")),
])
def test_evaluate_each_round_follows_sklearn_scoring(digits, scoring, name, metric):
    X, y = digits
    clf = _scored(X, y, scoring=scoring, n_rounds=2).fit(X[:1400], y[:1400])
    last = clf.history_[-1]
    assert last["score_name"] == name
    assert last["score"] == pytest.approx(metric(y[1400:], clf.predict(X[1400:])))


def test_evaluate_each_round_in_partial_fit_and_for_a_regressor():
    rng = np.random.RandomState(0)
    X = rng.rand(400, 6).astype(np.float32)
    y = X @ np.arange(6, dtype=np.float32)
    reg = LatentHardMiningRegressor(
        make_regressor_net(max_epochs=20), sampler="random", initial_size=40, round_size=40,
        callbacks=[EvaluateEachRound(X[300:], y[300:])], random_state=0)
    for _ in range(2):
        reg.partial_fit(X[:300], y[:300])
    assert [r["score_name"] for r in reg.history_] == ["r2", "r2"]
    assert reg.history_[-1]["score"] == pytest.approx(reg.score(X[300:], y[300:]))


@pytest.mark.parametrize("X_val, y_val, scoring, error, match", [
    (None, [0], None, ValueError, "X_val is None"),
    (np.zeros((3, 64)), None, None, ValueError, "y_val is None"),
    (np.zeros((3, 64)), [0, 1], None, ValueError, "same number of samples, got 3 and 2"),
    (np.full((2, 64), np.nan), [0, 1], None, ValueError, "X_val"),
    (np.zeros((2, 64)), [0, 1], "acuracy", ValueError, "acuracy"),
    (np.zeros((2, 64)), [0, 1], ["accuracy"], TypeError, "scoring"),
])
def test_evaluate_each_round_refuses_bad_input(X_val, y_val, scoring, error, match):
    with pytest.raises(error, match=match):
        EvaluateEachRound(X_val, y_val, scoring=scoring)


@pytest.mark.parametrize("X_val, y_val, match", [
    (np.zeros((5, 8, 8), np.float32), np.zeros(5, int), r"shape \(8, 8\).*\(64,\)"),
    (np.zeros((5, 64), np.float32), np.array([0, 1, 2, 3, 11]), r"not among the classes.*\[11\]"),
])
def test_evaluate_each_round_fails_at_fit_begin_before_any_label(digits, X_val, y_val, match):
    X, y = digits
    oracle = DatasetOracle(y)
    clf = _clf(sampler="random", callbacks=[EvaluateEachRound(X_val, y_val)])
    with pytest.raises(ValueError, match=match):
        clf.fit(X, oracle=oracle, classes=np.arange(10))
    assert oracle.n_queries_ == 0


def test_evaluate_each_round_refuses_non_finite_regression_targets():
    X = np.random.RandomState(0).rand(100, 6).astype(np.float32)
    reg = LatentHardMiningRegressor(
        make_regressor_net(), sampler="random", initial_size=10, n_rounds=1,
        callbacks=[EvaluateEachRound(X[:5], [0.0, 1.0, np.nan, 2.0, 3.0])])
    with pytest.raises(ValueError, match="y_val holds NaN"):
        reg.fit(X, X[:, 0])
