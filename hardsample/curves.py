"""Learning curves: strategies side by side on the same data, seeds and budgets.

Each strategy is an estimator (usually the same meta-estimator with another
sampler). For every seed, all strategies get that seed as ``random_state``, so
round 1 (random labels, net initialisation) is identical across strategies; each
round runs through ``partial_fit`` and the test set is scored after it.
"""

import csv
import json
import time

import numpy as np
from sklearn.base import clone
from tqdm.auto import tqdm

RECORD_FIELDS = (
    "strategy", "seed", "round", "n_labeled", "score",
    "train_seconds", "mining_seconds", "labeling_seconds",
)


def run_learning_curves(strategies, X_pool, y_pool, X_test, y_test, *, n_rounds,
                        seeds=(0, 1, 2), scorer=None, progress=True):
    """Run every strategy for ``n_rounds`` rounds with every seed.

    Parameters
    ----------
    strategies : dict of str to estimator
        Unfitted meta-estimators, e.g. the same ``LatentHardMiningClassifier`` with
        ``sampler="nearest"`` and ``sampler="random"``.
    X_pool, y_pool : array-like
        The pool and its hidden labels (the oracle).
    X_test, y_test : array-like
        Held-out data scored after every round.
    n_rounds : int
    seeds : iterable of int, default=(0, 1, 2)
    scorer : callable, default=None
        ``scorer(estimator, X_test, y_test) -> float``; ``estimator.score`` by default.
    progress : bool, default=True
        Show a progress bar over (seed, strategy, round).

    Returns
    -------
    records : list of dict
        One per (strategy, seed, round) with the keys of :data:`RECORD_FIELDS`.

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn.base import clone
    >>> from sklearn.datasets import load_digits
    >>> from hardsample import LatentHardMiningClassifier
    >>> from hardsample.curves import run_learning_curves
    >>> from hardsample.generators import PCAGenerator
    >>> from hardsample.nets import MLP
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16.0).astype("float32")
    >>> net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss,
    ...                           optimizer=torch.optim.Adam, lr=1e-2, max_epochs=5,
    ...                           verbose=0)
    >>> base = LatentHardMiningClassifier(net, PCAGenerator(3), initial_size=30,
    ...                                   round_size=30)
    >>> strategies = {s: clone(base).set_params(sampler=s) for s in ("nearest", "random")}
    >>> records = run_learning_curves(strategies, X[:1200], y[:1200], X[1200:], y[1200:],
    ...                               n_rounds=2, seeds=[0], progress=False)
    >>> [(r["strategy"], r["round"], r["n_labeled"]) for r in records]
    [('nearest', 1, 30), ('nearest', 2, 60), ('random', 1, 30), ('random', 2, 60)]
    """
    seeds = list(seeds)
    if not strategies:
        raise ValueError("strategies is empty; pass a dict of name -> estimator.")
    if isinstance(n_rounds, bool) or not isinstance(n_rounds, (int, np.integer)) or n_rounds < 1:
        raise ValueError(f"n_rounds must be a positive int, got {n_rounds!r}.")
    if not seeds:
        raise ValueError("seeds is empty.")
    score = scorer or (lambda est, X, y: est.score(X, y))
    records = []
    bar = tqdm(total=len(seeds) * len(strategies) * n_rounds, disable=not progress,
               desc="learning curves")
    for seed in seeds:
        for name, template in strategies.items():
            estimator = clone(template).set_params(random_state=seed)
            for _ in range(n_rounds):
                estimator.partial_fit(X_pool, y_pool)
                last = estimator.history_[-1]
                records.append({
                    "strategy": name,
                    "seed": seed,
                    "round": last["round"],
                    "n_labeled": last["n_labeled"],
                    "score": float(score(estimator, X_test, y_test)),
                    "train_seconds": last["train_seconds"],
                    "mining_seconds": last["mining_seconds"],
                    "labeling_seconds": last["labeling_seconds"],
                })
                bar.update()
    bar.close()
    return records


def summarize(records):
    """Mean and standard deviation of the score per strategy and round.

    Returns
    -------
    summary : list of dict
        Keys: strategy, round, n_labeled, mean, std, n_seeds; in the strategies'
        first-seen order, then by round. ``std`` is the sample standard deviation
        (ddof=1; 0 for a single seed).

    Examples
    --------
    >>> from hardsample.curves import summarize
    >>> records = [{"strategy": "random", "seed": s, "round": 1, "n_labeled": 10,
    ...             "score": score} for s, score in enumerate([0.8, 0.9])]
    >>> row = summarize(records)[0]
    >>> round(row["mean"], 2), round(row["std"], 4), row["n_seeds"]
    (0.85, 0.0707, 2)
    """
    groups = {}
    for record in records:
        groups.setdefault((record["strategy"], record["round"]), []).append(record)
    summary = []
    for (strategy, round_number), group in groups.items():
        scores = np.array([r["score"] for r in group], dtype=float)
        summary.append({
            "strategy": strategy,
            "round": round_number,
            "n_labeled": int(np.round(np.mean([r["n_labeled"] for r in group]))),
            "mean": float(scores.mean()),
            "std": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
            "n_seeds": len(scores),
        })
    order = {name: i for i, name in enumerate(dict.fromkeys(r["strategy"] for r in records))}
    return sorted(summary, key=lambda s: (order[s["strategy"]], s["round"]))


def markdown_table(summary, *, scale=100.0, digits=1, title="score"):
    """The paper's Table 1 layout: one row per strategy, one column per round.

    Cells are ``mean ± std`` of ``score * scale`` (percent by default).

    Examples
    --------
    >>> from hardsample.curves import markdown_table
    >>> summary = [{"strategy": "random", "round": 1, "n_labeled": 100, "mean": 0.9,
    ...             "std": 0.01}]
    >>> print(markdown_table(summary, title="accuracy (%)"))
    | accuracy (%) | 1 (100) |
    |---|---|
    | random | 90.0 ± 1.0 |
    """
    strategies = list(dict.fromkeys(s["strategy"] for s in summary))
    rounds = sorted({s["round"] for s in summary})
    cells = {(s["strategy"], s["round"]): s for s in summary}
    labels = {r: cells[next((st, r) for st in strategies if (st, r) in cells)]["n_labeled"]
              for r in rounds}
    header = f"| {title} | " + " | ".join(f"{r} ({labels[r]})" for r in rounds) + " |"
    lines = [header, "|" + "---|" * (len(rounds) + 1)]
    for strategy in strategies:
        row = []
        for r in rounds:
            cell = cells.get((strategy, r))
            row.append("" if cell is None else
                       f"{cell['mean'] * scale:.{digits}f} ± {cell['std'] * scale:.{digits}f}")
        lines.append(f"| {strategy} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def seconds_per_round(records):
    """Mean seconds per round of training, mining and labeling, per strategy.

    Round 1 (random labels, no mining) is left out where later rounds exist.

    Examples
    --------
    >>> from hardsample.curves import seconds_per_round
    >>> records = [{"strategy": "random", "round": r, "train_seconds": 2.0 * r,
    ...             "mining_seconds": 0.0, "labeling_seconds": 0.5} for r in (1, 2, 3)]
    >>> seconds_per_round(records)["random"]["train_seconds"]
    5.0
    """
    rows = {}
    for name in dict.fromkeys(r["strategy"] for r in records):
        group = [r for r in records if r["strategy"] == name and r["round"] > 1]
        group = group or [r for r in records if r["strategy"] == name]
        rows[name] = {key: float(np.mean([r[key] for r in group]))
                      for key in ("train_seconds", "mining_seconds", "labeling_seconds")}
    return rows


def write_records(records, path):
    """Write records as CSV (``.csv``) or JSON (any other suffix).

    Examples
    --------
    >>> import os, tempfile
    >>> from hardsample.curves import write_records
    >>> record = {"strategy": "random", "seed": 0, "round": 1, "n_labeled": 10,
    ...           "score": 0.5, "train_seconds": 1.0, "mining_seconds": 0.0,
    ...           "labeling_seconds": 0.0}
    >>> path = os.path.join(tempfile.mkdtemp(), "records.csv")
    >>> write_records([record], path)
    >>> open(path).readline().strip()
    'strategy,seed,round,n_labeled,score,train_seconds,mining_seconds,labeling_seconds'
    """
    path = str(path)
    if path.endswith(".csv"):
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=RECORD_FIELDS)
            writer.writeheader()
            writer.writerows({k: r[k] for k in RECORD_FIELDS} for r in records)
    else:
        with open(path, "w") as handle:
            json.dump({"records": records, "written": time.strftime("%Y-%m-%d %H:%M:%S")},
                      handle, indent=1)


def _curves(summary):
    """Per strategy (first-seen order), its (n_labeled, mean) points sorted by n_labeled."""
    curves = {}
    for s in summary:
        curves.setdefault(s["strategy"], []).append((float(s["n_labeled"]), float(s["mean"])))
    return {name: sorted(points) for name, points in curves.items()}


def area_under_curve(summary):
    """Normalised area under each strategy's learning curve.

    The trapezoid integral of the mean score over the number of labels, divided by
    the label range, so the result is on the score's scale (the curve's average
    height; a flat curve at 0.9 gives 0.9). A curve of a single round gives its score.

    Parameters
    ----------
    summary : list of dict
        Output of :func:`summarize`.

    Returns
    -------
    auc : dict of str to float
        Per strategy, in first-seen order.

    Examples
    --------
    >>> from hardsample.curves import area_under_curve
    >>> summary = [{"strategy": "a", "round": 1, "n_labeled": 100, "mean": 0.5},
    ...            {"strategy": "a", "round": 2, "n_labeled": 200, "mean": 0.7}]
    >>> area_under_curve(summary)
    {'a': 0.6}
    """
    auc = {}
    for name, points in _curves(summary).items():
        x = np.array([p[0] for p in points])
        y = np.array([p[1] for p in points])
        span = x[-1] - x[0]
        if span <= 0:
            auc[name] = float(y.mean())
        else:
            auc[name] = float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / span)
    return auc


def labels_to_reach(summary, target_strategy="random"):
    """Labels each strategy needs to match ``target_strategy``'s final mean score.

    The target is the mean score of ``target_strategy`` at its last round (most
    labels). For each strategy, the smallest number of labels at which its mean
    score reaches the target, linearly interpolated between the rounds around the
    crossing; ``None`` when its curve never reaches it.

    Parameters
    ----------
    summary : list of dict
        Output of :func:`summarize`.
    target_strategy : str, default="random"

    Returns
    -------
    labels : dict of str to float or None
        Per strategy, in first-seen order (the target strategy included).

    Raises
    ------
    ValueError
        ``target_strategy`` is not in ``summary``.

    Examples
    --------
    >>> from hardsample.curves import labels_to_reach
    >>> summary = [{"strategy": "random", "round": 1, "n_labeled": 100, "mean": 0.5},
    ...            {"strategy": "random", "round": 2, "n_labeled": 200, "mean": 0.7},
    ...            {"strategy": "smart", "round": 1, "n_labeled": 100, "mean": 0.5},
    ...            {"strategy": "smart", "round": 2, "n_labeled": 200, "mean": 0.9}]
    >>> labels_to_reach(summary)
    {'random': 200.0, 'smart': 150.0}
    """
    curves = _curves(summary)
    if target_strategy not in curves:
        raise ValueError(f"target_strategy {target_strategy!r} is not in the summary; "
                         f"strategies: {list(curves)}.")
    target = curves[target_strategy][-1][1]
    reached = {}
    for name, points in curves.items():
        reached[name] = None
        for i, (x, y) in enumerate(points):
            if y >= target:
                if i == 0:
                    reached[name] = x
                else:
                    x0, y0 = points[i - 1]
                    reached[name] = float(x0 + (target - y0) / (y - y0) * (x - x0))
                break
    return reached
