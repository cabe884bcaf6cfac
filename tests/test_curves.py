import csv
import json

import numpy as np
import pytest
from sklearn.base import clone

from hardsample import LatentHardMiningClassifier
from hardsample.curves import (
    RECORD_FIELDS, area_under_curve, labels_to_reach, markdown_table, run_learning_curves,
    summarize, write_records,
)
from hardsample.generators import PCAGenerator
from hardsample.samplers import SAMPLERS

from .conftest import make_classifier_net

# Samplers over the pool (synthesizing ones need a labeling tool, not hidden labels).
POOL_SAMPLERS = sorted(name for name, cls in SAMPLERS.items()
                       if not getattr(cls, "synthesizes", False))


def base_estimator(**kwargs):
    params = dict(initial_size=40, round_size=30, n_rounds=2, random_state=0)
    params.update(kwargs)
    return LatentHardMiningClassifier(make_classifier_net(max_epochs=3), PCAGenerator(3), **params)


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return {name: base_estimator(sampler=name).fit(X, y) for name in POOL_SAMPLERS}


@pytest.mark.parametrize("name", POOL_SAMPLERS)
def test_two_rounds_with_every_registered_strategy(fitted, digits, name):
    X, y = digits
    clf = fitted[name]
    assert len(clf.labeled_indices_) == 70
    assert len(np.unique(clf.labeled_indices_)) == 70
    assert [h["n_labeled"] for h in clf.history_] == [40, 70]
    assert clf.score(X, y) > 2 * np.bincount(y).max() / len(y)  # twice any constant guess


def test_registered_names():
    assert {"random", "nearest", "entropy", "margin", "coreset", "latent-entropy"} \
        <= set(SAMPLERS)


def test_round_one_labels_identical_across_strategies(fitted):
    first = {name: np.sort(clf.labeled_indices_[:40]) for name, clf in fitted.items()}
    reference = first["random"]
    for name, labels in first.items():
        np.testing.assert_array_equal(labels, reference, err_msg=name)


def test_run_learning_curves_records(digits, tmp_path):
    X, y = digits
    X_pool, y_pool, X_test, y_test = X[:1200], y[:1200], X[1200:], y[1200:]
    base = base_estimator(initial_size=30, round_size=20)
    strategies = {name: clone(base).set_params(sampler=name)
                  for name in ("random", "entropy", "latent-entropy")}
    records = run_learning_curves(strategies, X_pool, y_pool, X_test, y_test, n_rounds=2,
                                  seeds=[0, 1], progress=False)
    assert len(records) == 3 * 2 * 2
    for record in records:
        assert set(record) == set(RECORD_FIELDS)
        assert record["score"] > 1.5 * np.bincount(y_test).max() / len(y_test)  # > chance
        assert record["n_labeled"] == (30 if record["round"] == 1 else 50)
    # Round 1 is the same random labels and net for every strategy of a seed.
    for seed in (0, 1):
        scores = {r["score"] for r in records if r["seed"] == seed and r["round"] == 1}
        assert len(scores) == 1
    write_records(records, tmp_path / "r.csv")
    with open(tmp_path / "r.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(records) and tuple(rows[0]) == RECORD_FIELDS
    write_records(records, tmp_path / "r.json")
    assert len(json.loads((tmp_path / "r.json").read_text())["records"]) == len(records)


def record(strategy, seed, round_number, n_labeled, score):
    return dict(strategy=strategy, seed=seed, round=round_number, n_labeled=n_labeled,
                score=score, train_seconds=0.0, mining_seconds=0.0, labeling_seconds=0.0)


HAND_MADE = [
    record("b", 0, 1, 10, 0.5), record("b", 1, 1, 10, 0.7), record("b", 2, 1, 10, 0.6),
    record("b", 0, 2, 20, 0.8), record("b", 1, 2, 20, 0.8), record("b", 2, 2, 20, 0.9),
    record("a", 0, 1, 10, 0.4), record("a", 1, 1, 10, 0.6), record("a", 2, 1, 10, 0.5),
]


def test_summary_arithmetic():
    summary = summarize(HAND_MADE)
    assert [(s["strategy"], s["round"]) for s in summary] == [("b", 1), ("b", 2), ("a", 1)]
    b1, b2, a1 = summary
    assert b1["mean"] == pytest.approx(0.6) and b1["std"] == pytest.approx(0.1)
    assert b2["mean"] == pytest.approx(2.5 / 3)
    assert b2["std"] == pytest.approx(np.std([0.8, 0.8, 0.9], ddof=1))
    assert a1["n_seeds"] == 3 and a1["n_labeled"] == 10
    single = summarize([record("c", 0, 1, 5, 0.3)])
    assert single[0]["std"] == 0.0


def test_markdown_table_layout():
    table = markdown_table(summarize(HAND_MADE), title="acc").splitlines()
    assert table[0] == "| acc | 1 (10) | 2 (20) |"
    assert table[1] == "|---|---|---|"
    assert table[2] == "| b | 60.0 ± 10.0 | 83.3 ± 5.8 |"
    assert table[3] == "| a | 50.0 ± 10.0 |  |"


def summary_of(curves):
    return [{"strategy": name, "round": i + 1, "n_labeled": n, "mean": m, "std": 0.0,
             "n_seeds": 1}
            for name, points in curves.items() for i, (n, m) in enumerate(points)]


def test_area_under_curve():
    summary = summary_of({
        "flat": [(100, 0.9), (200, 0.9), (400, 0.9)],
        "ramp": [(100, 0.0), (200, 1.0), (300, 1.0)],
        "one": [(100, 0.42)],
    })
    auc = area_under_curve(summary)
    assert list(auc) == ["flat", "ramp", "one"]
    assert auc["flat"] == pytest.approx(0.9)
    assert auc["ramp"] == pytest.approx((0.5 * 100 + 1.0 * 100) / 200)
    assert auc["one"] == pytest.approx(0.42)


def test_labels_to_reach():
    summary = summary_of({
        "random": [(100, 0.5), (200, 0.6), (300, 0.8)],
        "fast": [(100, 0.5), (200, 0.9), (300, 0.95)],
        "early": [(100, 0.85), (200, 0.9)],
        "slow": [(100, 0.4), (200, 0.5), (300, 0.7)],
    })
    reach = labels_to_reach(summary)
    assert reach["random"] == pytest.approx(300)
    assert reach["fast"] == pytest.approx(100 + (0.8 - 0.5) / (0.9 - 0.5) * 100)
    assert reach["early"] == 100
    assert reach["slow"] is None
    assert labels_to_reach(summary, target_strategy="slow")["random"] == pytest.approx(
        200 + (0.7 - 0.6) / (0.8 - 0.6) * 100)
    with pytest.raises(ValueError, match="target_strategy"):
        labels_to_reach(summary, target_strategy="missing")


def test_bench_mnist_command(data_home, tmp_path, monkeypatch):
    from hardsample.cli import main

    monkeypatch.setenv("HARDSAMPLE_DATA", data_home)
    assert main(["bench", "mnist", "--pool-size", "400", "--test-size", "100", "--seeds", "0",
                 "--rounds", "2", "--initial-size", "20", "--round-size", "20", "--epochs", "1",
                 "--vae-epochs", "1", "--strategies", "random", "entropy", "latent-entropy",
                 "--output-dir", str(tmp_path), "--tag", "t", "--no-progress"]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"t.md", "t.json", "t.png", "t_records.csv"} <= names
    assert any(n.startswith("vae_") for n in names)
    result = json.loads((tmp_path / "t.json").read_text())
    assert set(result["auc"]) == {"random", "entropy", "latent-entropy"}
    assert len(result["records"]) == 3 * 2
    text = (tmp_path / "t.md").read_text()
    assert "| random |" in text and "mining (s)" in text
