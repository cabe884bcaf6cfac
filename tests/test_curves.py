import csv
import json

import numpy as np
import pytest
from sklearn.base import clone

from hardsample import LatentHardMiningClassifier
from scipy import stats

from hardsample.curves import (
    RECORD_FIELDS, area_under_curve, labels_to_reach, labels_to_reach_by_seed, markdown_table,
    paired_differences, paired_headline, paired_table, reach_table, run_learning_curves,
    summarize, write_records,
)
from hardsample.generators import PCAGenerator
from hardsample.samplers import SAMPLERS

from .conftest import make_classifier_net

# Samplers over the pool (synthesizing ones need a labeling tool, not hidden labels)
# that serve a classifier (regression-only ones refuse it before any label).
POOL_SAMPLERS = sorted(name for name, cls in SAMPLERS.items()
                       if not getattr(cls, "synthesizes", False)
                       and getattr(cls, "task", None) != "regression")


def base_estimator(**kwargs):
    params = dict(sampler="nearest", initial_size=40, round_size=30, n_rounds=2, random_state=0)
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
    monkeypatch.setenv("HARDSAMPLE_CACHE", str(tmp_path / "cache"))
    assert main(["bench", "mnist", "--pool-size", "400", "--test-size", "100", "--seeds", "0",
                 "--rounds", "2", "--initial-size", "20", "--round-size", "20", "--epochs", "1",
                 "--vae-epochs", "1", "--strategies", "random", "entropy", "latent-entropy",
                 "--output-dir", str(tmp_path), "--tag", "t", "--no-progress"]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"t.md", "t.json", "t.png", "t_records.csv"} <= names
    assert [p.suffix for p in (tmp_path / "cache").glob("vae_*")] == [".pt"]  # the VAE cache
    result = json.loads((tmp_path / "t.json").read_text())
    assert set(result["auc"]) == {"random", "entropy", "latent-entropy"}
    assert len(result["records"]) == 3 * 2
    text = (tmp_path / "t.md").read_text()
    assert "| random |" in text and "mining (s)" in text


# Three seeds, two rounds (10 and 30 labels). "good" beats random by 0.1, 0.2, 0.3 in
# round 2 and ties in round 1; "mixed" wins, ties within 0.02 and loses.
PAIRED = (
    [record("random", s, 1, 10, 0.5) for s in range(3)]
    + [record("random", s, 2, 30, v) for s, v in enumerate([0.6, 0.7, 0.8])]
    + [record("good", s, 1, 10, 0.5) for s in range(3)]
    + [record("good", s, 2, 30, v) for s, v in enumerate([0.7, 0.9, 1.1])]
    + [record("mixed", s, 1, 10, v) for s, v in enumerate([0.6, 0.51, 0.4])]
    + [record("mixed", s, 2, 30, v) for s, v in enumerate([0.6, 0.7, 0.8])]
)


def test_paired_differences_hand_computed():
    rows = paired_differences(PAIRED, reference="random")
    assert [(r["strategy"], r["quantity"], r["round"]) for r in rows] == [
        ("good", "round", 1), ("good", "round", 2), ("good", "auc", None),
        ("mixed", "round", 1), ("mixed", "round", 2), ("mixed", "auc", None)]
    good2 = rows[1]
    np.testing.assert_allclose(good2["differences"], [0.1, 0.2, 0.3])
    half = stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)  # std of (0.1, 0.2, 0.3) is 0.1
    assert good2["mean"] == pytest.approx(0.2)
    assert good2["low"] == pytest.approx(0.2 - half) and good2["high"] == pytest.approx(0.2 + half)
    assert (good2["wins"], good2["ties"], good2["losses"]) == (3, 0, 0)
    assert good2["n_labeled"] == 30 and good2["seeds"] == [0, 1, 2]
    # Round 1 is shared: every difference is exactly 0, three ties, a zero-width interval.
    assert (rows[0]["wins"], rows[0]["ties"], rows[0]["losses"]) == (0, 3, 0)
    assert rows[0]["low"] == rows[0]["high"] == 0.0
    # AUC over 10..30 labels: the trapezoid (d1 + d2) / 2 with d1 = 0 -> d2 / 2 per seed.
    np.testing.assert_allclose(rows[2]["differences"], [0.05, 0.1, 0.15])
    assert rows[2]["mean"] == pytest.approx(0.1)


def test_paired_wins_ties_losses_with_tolerance():
    exact = paired_differences(PAIRED)[3]
    np.testing.assert_allclose(exact["differences"], [0.1, 0.01, -0.1])
    assert (exact["wins"], exact["ties"], exact["losses"]) == (2, 0, 1)
    loose = paired_differences(PAIRED, tolerance=0.02)[3]
    assert (loose["wins"], loose["ties"], loose["losses"]) == (1, 1, 1)
    with pytest.raises(ValueError, match="tolerance"):
        paired_differences(PAIRED, tolerance=-1)


def test_paired_wins_for_an_error_are_negative_differences():
    # An error (lower is better): same differences, wins and losses swap, ties stay.
    error = paired_differences(PAIRED, greater_is_better=False)
    accuracy = paired_differences(PAIRED)
    for e, a in zip(error, accuracy):
        assert e["differences"] == a["differences"] and e["mean"] == a["mean"]
        assert (e["wins"], e["ties"], e["losses"]) == (a["losses"], a["ties"], a["wins"])
    assert (error[3]["wins"], error[3]["ties"], error[3]["losses"]) == (1, 0, 2)


def test_paired_differences_bad_input():
    with pytest.raises(ValueError, match="reference 'missing'"):
        paired_differences(PAIRED, reference="missing")
    without_seed = [r for r in PAIRED if not (r["strategy"] == "good" and r["seed"] == 2)]
    with pytest.raises(ValueError, match=r"strategy 'good' has seeds \[0, 1\].*missing: \[2\]"):
        paired_differences(without_seed)
    with pytest.raises(ValueError, match="appears twice"):
        paired_differences(PAIRED + [PAIRED[0]])
    with pytest.raises(ValueError, match="different rounds"):
        paired_differences([r for r in PAIRED if not (r["strategy"] == "good"
                                                       and r["seed"] == 0 and r["round"] == 2)])
    with pytest.raises(ValueError, match="records is empty"):
        paired_differences([])


def test_labels_to_reach_by_seed_hand_computed():
    # random's mean final score is 0.7: seed 0 (0.6) never reaches it, seed 1 at 30,
    # seed 2 at 10 + (0.7 - 0.5) / (0.8 - 0.5) * 20.
    rows = {r["strategy"]: r for r in labels_to_reach_by_seed(PAIRED)}
    assert rows["random"]["target"] == pytest.approx(0.7)
    assert rows["random"]["labels"][0] is None and rows["random"]["n_never"] == 1
    assert rows["random"]["labels"][1] == pytest.approx(30)
    assert rows["random"]["labels"][2] == pytest.approx(10 + 0.2 / 0.3 * 20)
    good = rows["good"]["labels"]  # 10 + 0.2 / (g - 0.5) * 20 for g = 0.7, 0.9, 1.1
    np.testing.assert_allclose(good, [30, 20, 10 + 0.2 / 0.6 * 20])
    assert rows["good"]["n_never"] == 0
    mean, sd = np.mean(good), np.std(good, ddof=1)
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    assert rows["good"]["mean"] == pytest.approx(mean)
    assert rows["good"]["low"] == pytest.approx(mean - half)
    # Paired only where both reach it: seeds 1 and 2.
    assert rows["good"]["difference"][0] is None and rows["good"]["n_pairs"] == 2
    assert rows["good"]["diff_mean"] == pytest.approx(np.mean([20 - 30, 0.2 / 0.6 * 20 - 0.2 / 0.3 * 20]))
    # Per-seed targets: random reaches its own final score on every seed, at 30.
    per_seed = {r["strategy"]: r for r in labels_to_reach_by_seed(PAIRED, target="per-seed")}
    assert per_seed["random"]["labels"] == [30.0, 30.0, 30.0]
    np.testing.assert_allclose(per_seed["good"]["labels"],
                               [10 + 0.1 / 0.2 * 20, 10 + 0.2 / 0.4 * 20, 10 + 0.3 / 0.6 * 20])
    np.testing.assert_allclose(per_seed["good"]["difference"], [-10, -10, -10])
    with pytest.raises(ValueError, match="target"):
        labels_to_reach_by_seed(PAIRED, target="median")
    with pytest.raises(ValueError, match="reference 'nope'"):
        labels_to_reach_by_seed(PAIRED, reference="nope")


def test_paired_table_and_headline():
    rows = paired_differences(PAIRED)
    table = paired_table(rows).splitlines()
    assert table[0].endswith("| 1 (10) | 2 (30) | AUC | AUC wins/ties/losses |")
    half = 100 * stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)
    assert table[2] == (f"| good | +0.0 [+0.0, +0.0] | +20.0 [{20 - half:+.1f}, {20 + half:+.1f}] "
                        f"| +10.0 [{10 - half / 2:+.1f}, {10 + half / 2:+.1f}] | 3/0/0 |")
    line = paired_headline(rows, "good")
    assert line.startswith("good minus random, AUC: +10.00 points (95 % t interval ")
    assert line.endswith("3 seeds: 3 wins, 0 ties, 0 losses)")
    assert "round 2 (30 labels): +20.00" in paired_headline(rows, "good", quantity="round",
                                                            round_number=2)
    with pytest.raises(ValueError, match="strategy 'random'"):
        paired_headline(rows, "random")
    reach = reach_table(labels_to_reach_by_seed(PAIRED, target="per-seed")).splitlines()
    assert reach[2] == "| random | 30 [30, 30] | 0 of 3 | — |"
    assert reach[3].startswith("| good | 20 [") and reach[3].endswith("| 0 of 3 | -10 [-10, -10] (3 pairs) |")


def test_paired_auc_uses_only_the_rounds_the_reference_has():
    # "long" has a third round (50 labels) that "random" lacks: neither its per-round
    # rows nor its AUC may use it (over 10..30 labels, d1 = 0 and d2 = 0.1 -> 0.05).
    records = PAIRED[:6] + [record("long", s, r, n, v) for s in range(3)
                            for r, n, v in [(1, 10, 0.5), (2, 30, 0.6 + s * 0.1 + 0.1),
                                            (3, 50, 0.0)]]
    rows = paired_differences(records)
    assert [(r["quantity"], r["round"]) for r in rows] == [
        ("round", 1), ("round", 2), ("auc", None)]
    np.testing.assert_allclose(rows[2]["differences"], [0.05, 0.05, 0.05])
