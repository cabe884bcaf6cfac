"""Callbacks of the round loop and stopping criteria."""

import numpy as np
import pytest

from hardsample import LatentHardMiningClassifier
from hardsample.callbacks import Callback, LabelBudget, ProgressBar, ScorePlateau
from hardsample.generators import PCAGenerator

from .conftest import make_classifier_net


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
