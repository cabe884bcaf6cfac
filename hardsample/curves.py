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


def write_records(records, path, provenance=None):
    """Write records as CSV (``.csv``) or JSON (any other suffix).

    Parameters
    ----------
    records : list of dict
        Output of :func:`run_learning_curves`.
    path : str or path
    provenance : dict, default=None
        What produced the records (:func:`hardsample.provenance.provenance`): a
        ``"provenance"`` key of the JSON, or ``# key: value`` lines above the CSV header
        (read it with ``pandas.read_csv(path, comment="#")``).

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
    >>> write_records([record], path, provenance={"commit": "abc123"})
    >>> open(path).readline().strip()
    '# commit: abc123'
    """
    path = str(path)
    if path.endswith(".csv"):
        with open(path, "w", newline="") as handle:
            for key, value in (provenance or {}).items():
                handle.write(f"# {key}: {json.dumps(value) if isinstance(value, dict) else value}\n")
            writer = csv.DictWriter(handle, fieldnames=RECORD_FIELDS)
            writer.writeheader()
            writer.writerows({k: r[k] for k in RECORD_FIELDS} for r in records)
    else:
        payload = {"records": records, "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        if provenance is not None:
            payload = {"provenance": provenance, **payload}
        with open(path, "w") as handle:
            json.dump(payload, handle, indent=1)


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


# --------------------------------------------------------------------------------------
# Paired statistics: every strategy against a reference, seed by seed.
# --------------------------------------------------------------------------------------

def _normalised_area(x, y):
    """Trapezoid area of ``y`` over ``x`` divided by the span of ``x`` (the mean height)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    span = x[-1] - x[0]
    if span <= 0:
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / span)


def t_interval(values, confidence=0.95):
    """Mean of ``values`` and its Student t confidence interval.

    Parameters
    ----------
    values : array-like of float
        One value per seed (e.g. paired differences).
    confidence : float, default=0.95

    Returns
    -------
    mean, low, high : float
        ``low`` and ``high`` are ``nan`` for fewer than two values (no spread to
        estimate); ``mean`` is ``nan`` for none.

    Examples
    --------
    >>> from hardsample.curves import t_interval
    >>> mean, low, high = t_interval([1.0, 2.0, 3.0])
    >>> mean, round(low, 3), round(high, 3)
    (2.0, -0.484, 4.484)
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = (stats.t.ppf(0.5 + confidence / 2, values.size - 1)
            * values.std(ddof=1) / np.sqrt(values.size))
    return mean, float(mean - half), float(mean + half)


def _curves_by_seed(records, metric):
    """``{strategy: {seed: [(round, n_labeled, value), ...] sorted by round}}``."""
    if not records:
        raise ValueError("records is empty.")
    missing = {"strategy", "seed", "round", "n_labeled", metric} - set(records[0])
    if missing:
        raise ValueError(f"records lack the keys {sorted(missing)}.")
    curves = {}
    for r in records:
        by_seed = curves.setdefault(r["strategy"], {}).setdefault(r["seed"], {})
        if r["round"] in by_seed:
            raise ValueError(f"strategy {r['strategy']!r}, seed {r['seed']!r}, round "
                             f"{r['round']!r} appears twice in records.")
        by_seed[r["round"]] = (r["round"], r["n_labeled"], float(r[metric]))
    return {name: {seed: [rounds[k] for k in sorted(rounds)] for seed, rounds in seeds.items()}
            for name, seeds in curves.items()}


def _check_paired(curves, reference):
    if reference not in curves:
        raise ValueError(f"reference {reference!r} is not among the strategies "
                         f"{list(curves)}.")
    seeds = set(curves[reference])
    for name, by_seed in curves.items():
        if set(by_seed) != seeds:
            raise ValueError(
                f"strategy {name!r} has seeds {sorted(by_seed)} but reference {reference!r} "
                f"has seeds {sorted(seeds)}: paired statistics need the same seeds "
                f"(missing: {sorted(seeds - set(by_seed))}, extra: "
                f"{sorted(set(by_seed) - seeds)}).")
        rounds = {tuple(p[0] for p in points) for points in by_seed.values()}
        if len(rounds) > 1:
            raise ValueError(f"strategy {name!r} has different rounds for different seeds: "
                             f"{sorted(rounds)}.")
    return sorted(seeds)


def _paired_row(name, reference, quantity, round_number, n_labeled, seeds, diffs, tolerance,
                confidence, greater_is_better):
    diffs = np.asarray(diffs, dtype=float)
    mean, low, high = t_interval(diffs, confidence)
    ties = np.abs(diffs) <= tolerance if tolerance > 0 else diffs == 0
    better = diffs > 0 if greater_is_better else diffs < 0
    return {
        "strategy": name, "reference": reference, "quantity": quantity,
        "round": round_number, "n_labeled": n_labeled, "seeds": list(seeds),
        "differences": [float(d) for d in diffs], "mean": mean, "low": low, "high": high,
        "wins": int(np.sum(better & ~ties)), "ties": int(np.sum(ties)),
        "losses": int(np.sum(~better & ~ties)), "n_seeds": int(diffs.size),
    }


def paired_differences(records, reference="random", *, metric="score", tolerance=0.0,
                       confidence=0.95, greater_is_better=True):
    """Per-seed differences of every strategy to ``reference``, per round and in AUC.

    Strategies run with shared seeds (:func:`run_learning_curves`), so seed ``s`` of a
    strategy and seed ``s`` of the reference share round 1 and the net's
    initialisation: their difference removes the seed's luck, which an unpaired
    ``mean ± std`` leaves in. For every strategy other than the reference, every
    round both have, and the area under the curve (as :func:`area_under_curve`, per
    seed), the differences ``strategy - reference`` over seeds, their mean with a
    Student t interval, and wins / ties / losses.

    Parameters
    ----------
    records : list of dict
        Output of :func:`run_learning_curves` (keys strategy, seed, round, n_labeled
        and ``metric``).
    reference : str, default="random"
        The strategy the others are compared with.
    metric : str, default="score"
        The record key compared.
    tolerance : float, default=0.0
        A difference with ``|diff| <= tolerance`` is a tie (for 0: only an exact 0).
    confidence : float, default=0.95
        Level of the t interval over seeds.
    greater_is_better : bool, default=True
        Whether a higher ``metric`` is better (an accuracy) or a lower one (an error,
        e.g. a test MSE). Only wins and losses depend on it: a win is a positive
        difference if True, a negative one if False. The differences are always
        ``strategy - reference``.

    Returns
    -------
    rows : list of dict
        One per (strategy, quantity): keys ``strategy``, ``reference``, ``quantity``
        (``"round"`` or ``"auc"``), ``round`` (None for AUC), ``n_labeled`` (mean over
        seeds; None for AUC), ``seeds``, ``differences`` (per seed, same order),
        ``mean``, ``low``, ``high`` (the interval; nan for one seed), ``wins``,
        ``ties``, ``losses``, ``n_seeds``. Strategies in first-seen order, rounds
        ascending, the AUC row last.

    Raises
    ------
    ValueError
        ``reference`` is not in the records; a strategy lacks a seed the reference has
        (or has one it lacks); a (strategy, seed, round) appears twice; seeds of a
        strategy stop at different rounds.

    Examples
    --------
    >>> from hardsample.curves import paired_differences
    >>> records = [{"strategy": s, "seed": seed, "round": 1, "n_labeled": 10, "score": v}
    ...            for s, values in {"random": [0.5, 0.6, 0.7], "smart": [0.6, 0.6, 0.9]}.items()
    ...            for seed, v in enumerate(values)]
    >>> row = paired_differences(records)[0]
    >>> row["quantity"], [round(d, 2) for d in row["differences"]]
    ('round', [0.1, 0.0, 0.2])
    >>> round(row["mean"], 3), (row["wins"], row["ties"], row["losses"])
    (0.1, (2, 1, 0))

    For an error, lower is better: the same differences are losses.

    >>> row = paired_differences(records, greater_is_better=False)[0]
    >>> round(row["mean"], 3), (row["wins"], row["ties"], row["losses"])
    (0.1, (0, 1, 2))
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}.")
    curves = _curves_by_seed(records, metric)
    seeds = _check_paired(curves, reference)
    ref = curves[reference]
    rows = []
    for name, by_seed in curves.items():
        if name == reference:
            continue
        common = sorted({p[0] for p in by_seed[seeds[0]]} & {p[0] for p in ref[seeds[0]]})
        for r in common:
            mine = [next(p for p in by_seed[s] if p[0] == r) for s in seeds]
            theirs = [next(p for p in ref[s] if p[0] == r) for s in seeds]
            rows.append(_paired_row(
                name, reference, "round", r, int(np.round(np.mean([p[1] for p in mine]))),
                seeds, [a[2] - b[2] for a, b in zip(mine, theirs)], tolerance, confidence,
                greater_is_better))
        auc = []
        for s in seeds:
            mine = [p for p in by_seed[s] if p[0] in common]
            theirs = [p for p in ref[s] if p[0] in common]
            auc.append(_normalised_area([p[1] for p in mine], [p[2] for p in mine])
                       - _normalised_area([p[1] for p in theirs], [p[2] for p in theirs]))
        if common:
            rows.append(_paired_row(name, reference, "auc", None, None, seeds, auc, tolerance,
                                    confidence, greater_is_better))
    return rows


def _first_crossing(points, target):
    """Labels at which ``(n_labeled, value)`` points first reach ``target`` (interpolated)."""
    for i, (x, y) in enumerate(points):
        if y >= target:
            if i == 0:
                return float(x)
            x0, y0 = points[i - 1]
            return float(x0 + (target - y0) / (y - y0) * (x - x0))
    return None


def labels_to_reach_by_seed(records, reference="random", *, metric="score", target="mean",
                            confidence=0.95):
    """Labels each strategy needs, seed by seed, to reach the reference's final score.

    Parameters
    ----------
    records : list of dict
        Output of :func:`run_learning_curves`.
    reference : str, default="random"
    metric : str, default="score"
    target : {"mean", "per-seed"}, default="mean"
        ``"mean"``: every seed must reach the reference's mean final score (over
        seeds), as :func:`labels_to_reach` does with mean curves. ``"per-seed"``: seed
        ``s`` must reach what the reference scored on seed ``s`` at its last round, so
        the reference always reaches it and a paired difference exists for every seed
        the strategy reaches it on.
    confidence : float, default=0.95
        Level of the Student t intervals over seeds.

    Returns
    -------
    rows : list of dict
        One per strategy (the reference included), first-seen order. Keys
        ``strategy``, ``reference``, ``target`` (the score(s) to reach), ``seeds``,
        ``labels`` (per seed; None where the curve never reaches the target, linearly
        interpolated between rounds otherwise), ``n_never``, ``mean``, ``low``,
        ``high`` (over the seeds that reach it), and the paired difference to the
        reference over the seeds where both reach it: ``difference`` (per seed, None
        where either never does), ``diff_mean``, ``diff_low``, ``diff_high``,
        ``n_pairs``.

    Raises
    ------
    ValueError
        As :func:`paired_differences`; ``target`` is not ``"mean"`` or ``"per-seed"``.

    Examples
    --------
    >>> from hardsample.curves import labels_to_reach_by_seed
    >>> curves = {"random": [[0.5, 0.7], [0.5, 0.9]], "smart": [[0.7, 0.9], [0.6, 1.0]]}
    >>> records = [{"strategy": s, "seed": seed, "round": r + 1, "n_labeled": 100 * (r + 1),
    ...             "score": v} for s, by_seed in curves.items()
    ...            for seed, values in enumerate(by_seed) for r, v in enumerate(values)]
    >>> rows = labels_to_reach_by_seed(records)  # target: (0.7 + 0.9) / 2 = 0.8
    >>> rows[0]["labels"], rows[0]["n_never"]
    ([None, 175.0], 1)
    >>> [round(v, 6) for v in rows[1]["labels"]], rows[1]["difference"]
    ([150.0, 150.0], [None, -25.0])
    >>> labels_to_reach_by_seed(records, target="per-seed")[1]["difference"]
    [-100.0, -25.0]
    """
    if target not in ("mean", "per-seed"):
        raise ValueError(f"target must be 'mean' or 'per-seed', got {target!r}.")
    curves = _curves_by_seed(records, metric)
    seeds = _check_paired(curves, reference)
    finals = {s: curves[reference][s][-1][2] for s in seeds}
    goal = ({s: float(np.mean(list(finals.values()))) for s in seeds} if target == "mean"
            else finals)
    reached = {name: {s: _first_crossing([(p[1], p[2]) for p in by_seed[s]], goal[s])
                      for s in seeds} for name, by_seed in curves.items()}
    rows = []
    for name in curves:
        labels = [reached[name][s] for s in seeds]
        ok = [v for v in labels if v is not None]
        mean, low, high = t_interval(ok, confidence)
        diff = [None if a is None or b is None else a - b
                for a, b in zip(labels, (reached[reference][s] for s in seeds))]
        d_mean, d_low, d_high = t_interval([d for d in diff if d is not None], confidence)
        rows.append({
            "strategy": name, "reference": reference,
            "target": goal[seeds[0]] if target == "mean" else [goal[s] for s in seeds],
            "seeds": list(seeds), "labels": labels, "n_never": len(labels) - len(ok),
            "mean": mean, "low": low, "high": high, "difference": diff,
            "diff_mean": d_mean, "diff_low": d_low, "diff_high": d_high,
            "n_pairs": sum(d is not None for d in diff),
        })
    return rows


def _signed(value, scale, digits):
    return "n/a" if value is None or np.isnan(value) else f"{value * scale:+.{digits}f}"


def _interval(row, scale, digits, keys=("mean", "low", "high")):
    mean, low, high = (row[k] for k in keys)
    if np.isnan(low):
        return _signed(mean, scale, digits)
    return (f"{_signed(mean, scale, digits)} [{_signed(low, scale, digits)}, "
            f"{_signed(high, scale, digits)}]")


def paired_table(rows, *, scale=100.0, digits=1, title=None):
    """Markdown table of :func:`paired_differences`: strategy minus reference.

    One row per strategy; a column per round and one for the AUC, each cell
    ``mean [low, high]`` of the per-seed differences times ``scale`` (percentage
    points by default), then the AUC's wins / ties / losses over seeds.

    Examples
    --------
    >>> from hardsample.curves import paired_differences, paired_table
    >>> records = [{"strategy": s, "seed": seed, "round": r, "n_labeled": 10 * r,
    ...             "score": base + 0.1 * r + (0.05 * seed if s == "smart" else 0.0)}
    ...            for s, base in (("random", 0.5), ("smart", 0.5))
    ...            for seed in range(3) for r in (1, 2)]
    >>> print(paired_table(paired_differences(records)))
    | minus random (points, 95 % t interval), round (labels) | 1 (10) | 2 (20) | AUC | AUC wins/ties/losses |
    |---|---|---|---|---|
    | smart | +5.0 [-7.4, +17.4] | +5.0 [-7.4, +17.4] | +5.0 [-7.4, +17.4] | 2/1/0 |
    """
    if not rows:
        raise ValueError("rows is empty: no strategy besides the reference.")
    reference = rows[0]["reference"]
    title = title or f"minus {reference} (points, 95 % t interval), round (labels)"
    rounds = sorted({r["round"] for r in rows if r["quantity"] == "round"})
    labels = {}
    for r in rows:
        if r["quantity"] == "round":
            labels.setdefault(r["round"], r["n_labeled"])
    lines = [f"| {title} | " + " | ".join(f"{r} ({labels[r]})" for r in rounds)
             + " | AUC | AUC wins/ties/losses |", "|---|" + "---|" * (len(rounds) + 2)]
    for name in dict.fromkeys(r["strategy"] for r in rows):
        mine = {(r["quantity"], r["round"]): r for r in rows if r["strategy"] == name}
        cells = [_interval(mine[("round", k)], scale, digits) if ("round", k) in mine else ""
                 for k in rounds]
        auc = mine.get(("auc", None))
        cells += ["", ""] if auc is None else [
            _interval(auc, scale, digits), f"{auc['wins']}/{auc['ties']}/{auc['losses']}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reach_table(rows, *, scale=100.0):
    """Markdown table of :func:`labels_to_reach_by_seed`.

    Examples
    --------
    >>> from hardsample.curves import labels_to_reach_by_seed, reach_table
    >>> records = [{"strategy": s, "seed": seed, "round": r + 1, "n_labeled": 100 * (r + 1),
    ...             "score": v} for s, by_seed in {"random": [[0.5, 0.7], [0.5, 0.9]],
    ...                                           "smart": [[0.7, 0.9], [0.6, 1.0]]}.items()
    ...            for seed, values in enumerate(by_seed) for r, v in enumerate(values)]
    >>> print(reach_table(labels_to_reach_by_seed(records, target="per-seed")))
    | strategy | labels to reach random's final score (per seed: 70.0, 90.0) | seeds never reaching it | minus random (paired, 95 % t interval) |
    |---|---|---|---|
    | random | 200 [200, 200] | 0 of 2 | — |
    | smart | 138 [-339, 614] | 0 of 2 | -62 [-539, +414] (2 pairs) |
    """
    reference = rows[0]["reference"]
    target = rows[0]["target"]
    goal = (f"{target * scale:.1f}" if np.isscalar(target)
            else "per seed: " + ", ".join(f"{t * scale:.1f}" for t in target))
    lines = [f"| strategy | labels to reach {reference}'s final score ({goal}) | seeds never "
             f"reaching it | minus {reference} (paired, 95 % t interval) |", "|---|---|---|---|"]
    for r in rows:
        if r["mean"] != r["mean"]:  # nan: no seed reaches it
            labels = "never"
        elif np.isnan(r["low"]):
            labels = f"{r['mean']:.0f}"
        else:
            labels = f"{r['mean']:.0f} [{r['low']:.0f}, {r['high']:.0f}]"
        if r["strategy"] == reference:
            diff = "—"
        elif r["n_pairs"] == 0:
            diff = "n/a (no seed where both reach it)"
        else:
            diff = (_interval(r, 1.0, 0, keys=("diff_mean", "diff_low", "diff_high"))
                    + f" ({r['n_pairs']} pair{'s' if r['n_pairs'] != 1 else ''})")
        lines.append(f"| {r['strategy']} | {labels} | {r['n_never']} of {len(r['seeds'])} | "
                     f"{diff} |")
    return "\n".join(lines)


def paired_headline(rows, strategy, *, quantity="auc", round_number=None, scale=100.0,
                    digits=2):
    """One sentence: ``strategy``'s paired difference to the reference.

    Parameters
    ----------
    rows : list of dict
        Output of :func:`paired_differences`.
    strategy : str
    quantity : {"auc", "round"}, default="auc"
    round_number : int, default=None
        The round, for ``quantity="round"``.

    Examples
    --------
    >>> from hardsample.curves import paired_differences, paired_headline
    >>> records = [{"strategy": s, "seed": seed, "round": 1, "n_labeled": 10, "score": v}
    ...            for s, values in {"random": [0.5, 0.6, 0.7], "smart": [0.6, 0.6, 0.9]}.items()
    ...            for seed, v in enumerate(values)]
    >>> print(paired_headline(paired_differences(records), "smart"))
    smart minus random, AUC: +10.00 points (95 % t interval -14.84 to +34.84; 3 seeds: 2 wins, 1 tie, 0 losses)
    """
    if quantity not in ("auc", "round"):
        raise ValueError(f"quantity must be 'auc' or 'round', got {quantity!r}.")
    match = [r for r in rows if r["strategy"] == strategy and r["quantity"] == quantity
             and (quantity == "auc" or r["round"] == round_number)]
    if not match:
        raise ValueError(f"no {quantity} row for strategy {strategy!r}"
                         + (f", round {round_number!r}" if quantity == "round" else "")
                         + f"; strategies: {sorted({r['strategy'] for r in rows})}.")
    r = match[0]
    what = "AUC" if quantity == "auc" else f"round {r['round']} ({r['n_labeled']} labels)"
    interval = ("no interval from one seed" if np.isnan(r["low"]) else
                f"95 % t interval {_signed(r['low'], scale, digits)} to "
                f"{_signed(r['high'], scale, digits)}")
    plural = lambda n, word, many: f"{n} {word if n == 1 else many}"  # noqa: E731
    return (f"{strategy} minus {r['reference']}, {what}: {_signed(r['mean'], scale, digits)} "
            f"points ({interval}; {plural(r['n_seeds'], 'seed', 'seeds')}: "
            f"{plural(r['wins'], 'win', 'wins')}, {plural(r['ties'], 'tie', 'ties')}, "
            f"{plural(r['losses'], 'loss', 'losses')})")
