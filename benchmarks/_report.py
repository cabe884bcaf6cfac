"""Markdown pieces shared by the benchmark reports, and the one way they are written.

Every script that writes a report writes its JSON first (with :func:`provenance`:
commit, dirty flag, package versions, cores, exact command) and renders the Markdown
from that JSON as read back, with a ``render(result)`` function of the script; so
``render(json.load(...))`` regenerates every committed report (tests/test_benchmarks.py
checks it, ``python benchmarks/render.py`` rewrites them).
"""

import json
import sys
from pathlib import Path

import numpy as np


def write_result(output_dir, tag, result, render, argv=None, *, script=None, records=None):
    """Write ``<tag>.json`` (``result`` plus provenance) and ``<tag>.md`` rendered from it.

    With ``records``, also ``<tag>_records.csv`` with the same provenance above its header.

    Parameters
    ----------
    output_dir : path
    tag : str
        File name stem.
    result : dict
        JSON-serialisable (``default=str`` for the rest).
    render : callable
        ``render(result) -> str``, called on the JSON as read back, so the Markdown can
        always be regenerated from the JSON alone.
    argv : list of str, default=None
        The script's arguments (``sys.argv[1:]`` by default), recorded with the script's
        path as the exact command.
    script : str, default=None
        Path of the script relative to the repository (e.g. ``benchmarks/mnist.py``).

    Returns
    -------
    text : str
        The Markdown written.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    from hardsample.provenance import provenance

    argv = list(sys.argv[1:] if argv is None else argv)
    info = provenance([script or sys.argv[0], *argv])
    payload = {"provenance": info, **result}
    path = output_dir / f"{tag}.json"
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    text = render(json.loads(path.read_text()))
    (output_dir / f"{tag}.md").write_text(text)
    if records is not None:
        from hardsample.curves import write_records

        write_records(records, output_dir / f"{tag}_records.csv", provenance=info)
    return text


def header(title, result):
    """A report's first lines: its title and the provenance recorded in ``result``."""
    from hardsample.provenance import provenance_lines

    return [f"# {title}", "", *provenance_lines(result.get("provenance"))]


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


def paired_lines(records, reference="random", *, metric="score", what="test accuracy",
                 unit="points", scale=100.0, digits=1, reach=True):
    """Paired-by-seed statistics of ``records`` against ``reference``, as Markdown lines.

    The per-round and AUC differences with 95 % t intervals and wins/ties/losses
    (:func:`hardsample.curves.paired_differences`), and the labels to reach the
    reference's final score of the same seed
    (:func:`hardsample.curves.labels_to_reach_by_seed`). Empty when ``reference`` is
    not among the strategies or no other strategy ran.
    """
    from hardsample.curves import (
        labels_to_reach_by_seed, paired_differences, paired_table, reach_table)

    names = list(dict.fromkeys(r["strategy"] for r in records))
    if reference not in names or len(names) < 2:
        return []
    paired = paired_differences(records, reference=reference, metric=metric)
    n_seeds = paired[0]["n_seeds"]
    return ["## Paired by seed", "",
            f"{what} minus {reference}'s on the same seed (shared round 1 and net "
            f"initialisation), in {unit}; mean over {n_seeds} seeds with its 95 % Student t "
            "interval; AUC (normalised area under the curve over the labels) per seed.", "",
            paired_table(paired, scale=scale, digits=digits,
                         title=f"minus {reference} ({unit}, 95 % t interval), round (labels)"),
            "", *([reach_table(labels_to_reach_by_seed(
                records, reference=reference, metric=metric, target="per-seed")), ""]
                  if reach else [])]


def config_of(parser, result):
    """The script's arguments recorded in ``result["config"]``, as a Namespace.

    Options the script gained after the result was written take their defaults.
    """
    args = parser.parse_args([])
    vars(args).update(result["config"])
    return args


def load_runs(paths, expected, default=None):
    """The results in ``paths`` (JSON files of one script), checked to share settings.

    ``expected`` maps each setting that must agree to its value; a setting a file does
    not record counts as ``default``.
    """
    parts = [json.loads(Path(p).read_text()) for p in paths]
    for part, path in zip(parts, paths):
        differ = [k for k, v in expected.items() if part["config"].get(k, default) != v]
        if differ:
            raise SystemExit(f"{path} was run with other settings: {differ}")
    return parts


def check_no_overlap(records):
    """Exit unless each (strategy, seed, round) occurs once in the merged records."""
    if len({(r["strategy"], r["seed"], r["round"]) for r in records}) != len(records):
        raise SystemExit("the merged runs overlap (same strategy, seed and round twice)")


def merged_info(paths, parts):
    """What a merged report records of its parts: their summed time, files and provenance."""
    return dict(total_seconds=sum(p["total_seconds"] for p in parts),
                merged_from=[str(p) for p in paths],
                merged_provenance=[p.get("provenance") for p in parts])


def merged_runs_lines(extra, lead="Merged runs"):
    """``lead: `part.json` (commit …, `command`); …`` and a blank line, or nothing."""
    if not extra.get("merged_provenance"):
        return []
    return [f"{lead}: " + "; ".join(
        f"`{Path(path).name}` (commit {info['commit'][:12]}, `{info['command']}`)"
        for path, info in zip(extra["merged_from"], extra["merged_provenance"]) if info), ""]


def partial_run_lines(seeds, planned):
    """The report's line saying a run stopped after ``seeds`` of the ``planned`` ones."""
    if len(planned or seeds) <= len(seeds):
        return []
    return [f"**Partial run**: seeds {seeds} of the {planned} planned (the report is "
            "rewritten after each seed; the run stopped before the rest).", ""]
