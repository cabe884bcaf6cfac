"""Markdown pieces shared by the benchmark reports."""

import numpy as np


def timing_tables(records, timing):
    """The timing part of a report, as Markdown lines.

    ``timing`` is :func:`hardsample.curves.seconds_per_round` of ``records``: first its
    means per strategy, then train / mining per strategy and round; the labeling
    time is stated as its largest per-round mean, measured, not assumed.
    """
    lines = ["Mean seconds per round (rounds >= 2): train / mining / labeling", "",
             "| strategy | train (s) | mining (s) | labeling (s) |", "|---|---|---|---|"]
    for name, row in timing.items():
        lines.append(f"| {name} | {row['train_seconds']:.2f} | {row['mining_seconds']:.3f} | "
                     f"{row['labeling_seconds']:.4f} |")
    rounds = sorted({r["round"] for r in records})
    cells = {name: [] for name in timing}
    slowest_labeling = 0.0
    for name in timing:
        for r in rounds:
            group = [x for x in records if x["strategy"] == name and x["round"] == r]
            slowest_labeling = max(slowest_labeling,
                                   np.mean([x["labeling_seconds"] for x in group]))
            cells[name].append(f"{np.mean([x['train_seconds'] for x in group]):.2f} / "
                               f"{np.mean([x['mining_seconds'] for x in group]):.3f}")
    lines += ["", "Per round, mean seconds: train / mining (labeling: at most "
              f"{1000 * slowest_labeling:.1f} ms a round)", "",
              "| strategy | " + " | ".join(f"round {r}" for r in rounds) + " |",
              "|---|" + "---|" * len(rounds)]
    lines += [f"| {name} | " + " | ".join(row) + " |" for name, row in cells.items()]
    return lines
