"""One study runner: a study *definition* in, a committed report out.

A study script (``regression_tool.py``, ``vessel_uncertainty.py``) holds a
:class:`Study`: how to load its data and labels, the estimator it runs, its strategies
and baselines, its metric and its ``render(result)``. :func:`run_study` owns what every
study used to repeat: the seed x strategy loop, one record per round, the oracle's
calls and refusals, the JSON rewritten after every seed (an interrupted run keeps the
seeds it finished), the paired differences against the reference row, and
``_report.write_result``. The script's ``main(argv)`` stays its command line, so
``render.py`` finds its ``render`` by the JSON's file-name prefix as before.

    STUDY = Study(script="benchmarks/x.py", load=load, estimator=estimator,
                  strategies={"random-real": lambda args: "random", ...},
                  reference="random-real", score=test_mse, render=render)

    def main(argv=None):
        args = build_parser().parse_args(argv)
        args.tag = args.tag or "x_..."
        return run_study(STUDY, args, argv)

The command line must provide ``seeds``, ``strategies``, ``rounds``, ``output_dir``,
``tag`` and ``threads`` (:func:`add_protocol_arguments` adds them).
"""

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from _report import check_no_overlap, load_runs, merged_info, write_result

HERE = Path(__file__).resolve().parent

#: What one round costs, copied from the estimator's ``history_[-1]``.
SECONDS = ("train_seconds", "mining_seconds", "labeling_seconds")


@dataclass
class StudyData:
    """What a study's ``load`` returns.

    Attributes
    ----------
    X_pool : array-like
        The unlabeled pool the estimator mines.
    X_test, y_test : ndarray
        The held-out set the metric scores.
    y_pool : ndarray or None
        Known pool labels (passed to ``partial_fit`` every round), or None when a
        labeling tool labels on demand.
    tool : callable or None
        The labeling tool, wrapped in :class:`hardsample.oracles.LabelingToolOracle`
        (with ``n_jobs=args.n_jobs`` when the command line has it) for every run.
    X_val, y_val : ndarray or None
        An optional validation split (for strategies chosen on it).
    info : dict
        JSON-serialisable facts the report states (test-set seconds, the generator's
        fit time, ...), stored at the top level of the result.
    context : dict
        Anything else the study's functions need (a fitted generator, a scale); not
        stored.
    """

    X_pool: Any
    X_test: Any
    y_test: Any
    y_pool: Any = None
    tool: Any = None
    X_val: Any = None
    y_val: Any = None
    info: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)


@dataclass
class Study:
    """A study definition: everything :func:`run_study` needs, and nothing it owns.

    Attributes
    ----------
    script : str
        The script's path in the repository (recorded as the exact command).
    load : callable
        ``load(args) -> StudyData``, called once per run.
    estimator : callable
        ``estimator(args, sampler, seed, data)``: an unfitted
        ``LatentHardMining*`` estimator with the study's net, generator and protocol
        (``initial_size``, ``round_size``, ``n_rounds``, ``retrain``).
    strategies : dict or callable
        Row name -> ``sampler(args)``: a registered sampler name or object (what
        ``estimator`` receives). Same-cost controls are rows like any other (see
        ``controls``). Or ``strategies(args) -> {row: sampler}``, for rows named on the
        command line (e.g. any registered sampler); the script then adds its own
        ``--strategies`` option. Called for every run, so no sampler object is shared.
    reference : str
        The row every other is paired against, seed by seed.
    score : callable
        ``score(est, data) -> float``: the metric on the test set after a round; or a
        dict with ``"score"`` and further fields of the round's record (e.g. the
        prediction's seconds).
    render : callable
        ``render(result) -> str``: the Markdown report of the result JSON.
    greater_is_better : bool, default=False
        The metric's direction (a test MSE: False).
    baselines : callable or None
        ``baselines(est, data) -> {name: score}``, trivial predictors scored after each
        of the reference row's rounds (e.g. its labels' mean); recorded as rows with
        zero seconds (every ``*_seconds`` field).
    controls : dict
        Row -> the row that is its same-cost control, stated in the result.
    tag : callable or None
        ``tag(args, data) -> str``, the file-name stem when ``args.tag`` is None.
    summaries : callable or None
        ``summaries(records) -> dict``, quantities derived from the records (AUC,
        timing, ...) stored at the top level of the result.
    extra_records : callable or None
        ``extra_records(args, records) -> list``: records of rows not run here (e.g.
        taken from an earlier result), added before this run's after every seed; it may
        raise ``SystemExit`` when they do not pair with ``records``.
    paired : callable or None
        ``paired(records) -> rows`` (:func:`hardsample.curves.paired_differences`
        rows) stored as the result's ``paired``, for studies that compare other pairs
        than every row against ``reference``; may raise ``ValueError`` (not paired).
    inspect : callable or None
        ``inspect(est, name, data) -> dict``: facts of one run (row and seed) after its
        last round (e.g. refusals by cause, checks of the stored samples), added to its
        entry of the result's ``calls``.
    figures : callable or None
        ``figures(result, args, data)``: draws the result (as written, read back) next
        to the report, after every seed (``data`` is None for a merged report).
    """

    script: str
    load: Callable
    estimator: Callable
    strategies: dict
    reference: str
    score: Callable
    render: Callable
    greater_is_better: bool = False
    baselines: Callable = None
    controls: dict = field(default_factory=dict)
    tag: Callable = None
    summaries: Callable = None
    extra_records: Callable = None
    paired: Callable = None
    inspect: Callable = None
    figures: Callable = None


def add_protocol_arguments(parser, study, *, seeds=(0, 1, 2, 3, 4), rounds=5, initial_size=10,
                           round_size=10, output_dir=None):
    """Add the runner's options to a study's ``argparse`` parser.

    ``--strategies`` (default: every row of ``study``; not added when the study's
    rows are a callable), ``--seeds``, ``--rounds``, ``--initial-size``,
    ``--round-size``, ``--threads`` (torch CPU threads), ``--seed-jobs`` (seeds run in
    parallel processes), ``--output-dir`` and ``--tag``.
    """
    if not callable(study.strategies):
        names = list(study.strategies)
        parser.add_argument("--strategies", nargs="+", default=names, choices=names)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--initial-size", type=int, default=initial_size)
    parser.add_argument("--round-size", type=int, default=round_size)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed-jobs", type=int, default=1,
                        help="seeds run in parallel processes (joblib); the report is "
                             "still written after every seed, in seed order")
    parser.add_argument("--output-dir", default=output_dir)
    parser.add_argument("--tag", default=None)
    return parser


def importable_by_tool_workers():
    """Put ``benchmarks/`` and the repository on ``PYTHONPATH``: the oracle's parallel
    workers are fresh Pythons that unpickle the tool, whose class may live in a sibling
    module of the study (e.g. ``_vessel_data.ScaledStressTool``)."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    missing = [str(p) for p in (HERE, HERE.parent) if str(p) not in paths]
    os.environ["PYTHONPATH"] = os.pathsep.join([*missing, *filter(None, paths)])


def _oracle(args, data):
    from hardsample.oracles import LabelingToolOracle

    if data.tool is None:
        return None
    importable_by_tool_workers()
    return LabelingToolOracle(data.tool, n_jobs=getattr(args, "n_jobs", None))


def rows(study, args):
    """Row name -> sampler of the rows ``args.strategies`` names (or the study's callable
    rows)."""
    if callable(study.strategies):
        return study.strategies(args)
    return {name: study.strategies[name](args) for name in args.strategies}


def run_strategy(study, args, name, seed, data):
    """Records of one row and seed (with the baselines' for the reference row), and the
    oracle's calls and refusals.

    Returns
    -------
    records : list of dict
        One per round: strategy, seed, round, n_labeled, score, the round's train,
        mining and labeling seconds, and ``uncertainty_seconds`` (the part of mining
        spent training an uncertainty source).
    calls : dict
        ``n_sent`` (samples sent to the oracle), ``n_failed`` (refused), up to three
        refusal messages, and ``stopped`` (the error that ended the run, or None).
    """
    from hardsample.oracles import LabelingError

    est = study.estimator(args, rows(study, args)[name], seed, data)
    oracle, records, stopped = _oracle(args, data), [], None
    for round_index in range(args.rounds):
        try:
            est.partial_fit(data.X_pool, data.y_pool,
                            oracle=oracle if round_index == 0 else None)
        except LabelingError as exc:  # the failure budget ran out: keep the rounds done
            stopped = str(exc)[:300]
            print(f"{name}, seed {seed}: stopped at round {round_index + 1}: {exc}", flush=True)
            break
        last = est.history_[-1]
        score = study.score(est, data)
        score = dict(score) if isinstance(score, dict) else {"score": score}
        record = {"strategy": name, "seed": seed, "round": last["round"],
                  "n_labeled": last["n_labeled"], "score": float(score.pop("score")),
                  **{k: last[k] for k in SECONDS},
                  "uncertainty_seconds": last["mining_split"].get("uncertainty_training", 0.0),
                  **score}
        records.append(record)
        if name == study.reference and study.baselines is not None:
            free = {k: 0.0 for k in record if k.endswith("_seconds")}
            records += [{**record, **free, "strategy": baseline, "score": float(value)}
                        for baseline, value in study.baselines(est, data).items()]
    failed = list(getattr(est, "failed_labels_", []))
    return records, {"strategy": name, "seed": seed,
                     "n_sent": int(getattr(est, "n_oracle_calls_", 0)),
                     "n_failed": len(failed),
                     "failure_examples": [f["error"][:200] for f in failed[:3]],
                     "stopped": stopped,
                     **({} if study.inspect is None else study.inspect(est, name, data))}


def run_seed(study, args, seed, data):
    """Every row (:func:`rows`) with one seed: their records and calls."""
    import torch

    torch.set_num_threads(max(1, args.threads))  # also in a joblib worker
    records, calls = [], []
    for name in rows(study, args):
        mine, call = run_strategy(study, args, name, seed, data)
        records += mine
        calls.append(call)
        scores = [round(r["score"], 4) for r in mine if r["strategy"] == name]
        if not getattr(args, "no_progress", False):
            print(f"{name}, seed {seed}: score {scores}; {call['n_failed']}/"
                  f"{call['n_sent']} refused", flush=True)
    return records, calls


def paired_rows(study, records):
    """Every row minus the reference, seed by seed
    (:func:`hardsample.curves.paired_differences`); None when they are not paired
    (a run stopped early)."""
    from hardsample.curves import paired_differences

    try:
        if study.paired is not None:
            return study.paired(records)
        return paired_differences(records, reference=study.reference,
                                  greater_is_better=study.greater_is_better)
    except ValueError:
        return None


def run_study(study, args, argv=None):
    """Run every row of ``args.strategies`` with every seed of ``args.seeds``; write the
    report after each seed.

    Parameters
    ----------
    study : Study
    args : argparse.Namespace
        The script's parsed command line, with ``tag`` set; recorded as ``config``.
    argv : list of str, default=None
        The script's arguments, recorded in the provenance.

    Returns
    -------
    int
        0, the exit status of the script's ``main``.
    """
    import torch

    from hardsample.curves import summarize

    from joblib import Parallel, delayed

    torch.set_num_threads(max(1, args.threads))
    start = time.perf_counter()
    data = study.load(args)
    if args.tag is None and study.tag is not None:
        args.tag = study.tag(args, data)
    importable_by_tool_workers()
    records, calls, planned = [], [], list(args.seeds)
    seed_jobs = getattr(args, "seed_jobs", 1)
    if seed_jobs > 1:  # in seed order, each as soon as it and the ones before are done
        runs = Parallel(n_jobs=seed_jobs, return_as="generator")(
            delayed(run_seed)(study, args, seed, data) for seed in planned)
    else:
        runs = (run_seed(study, args, seed, data) for seed in planned)
    for done, (mine, mine_calls) in enumerate(runs, start=1):
        records += mine
        calls += mine_calls
        args.seeds = planned[:done]
        reported = records
        if study.extra_records is not None:
            reported = study.extra_records(args, records) + records
        result = {"config": vars(args), "tag": args.tag, "seeds_planned": planned,
                  **data.info, "controls": study.controls,
                  "total_seconds": time.perf_counter() - start, "records": reported,
                  "summary": summarize(reported), "calls": calls,
                  "paired": paired_rows(study, reported), **_summaries(study, reported)}
        text = write_report(study, args, result, argv, data)
    print(text)
    return 0


def _summaries(study, records):
    return {} if study.summaries is None else study.summaries(records)


def write_report(study, args, result, argv=None, data=None):
    """Write ``result`` as ``args.output_dir/args.tag`` (JSON, its report, the records'
    CSV, the study's figures); return the report's text. For a script that builds a
    result itself (e.g. merges its own way)."""
    text = write_result(args.output_dir, args.tag, result, study.render, argv,
                        script=study.script, records=result["records"])
    if study.figures is not None:
        path = Path(args.output_dir) / f"{args.tag}.json"
        study.figures(json.loads(path.read_text()), args, data)
    return text


def merge_study(study, args, argv=None, *, keys, copied=(), overrides=()):
    """One report from several results of the study's script (``args.merge``: their JSON
    paths), e.g. seeds run side by side, or a run stopped after some seeds and one of
    the rest.

    Parameters
    ----------
    study : Study
    args : argparse.Namespace
        The command line: ``merge``, ``tag`` (default: the first part's tag +
        ``"_merged"``), ``output_dir`` and the ``overrides``.
    argv : list of str, default=None
    keys : sequence of str
        Settings every part must share with the first (else ``SystemExit``).
    copied : sequence of str
        Top-level fields of the first part's result the merged one keeps (data facts).
    overrides : sequence of str
        Options of this command line that replace the parts' (e.g. the paired
        references of the report).

    Returns
    -------
    int
        0.
    """
    from hardsample.curves import summarize

    first = json.loads(Path(args.merge[0]).read_text())
    parts = load_runs(args.merge, {k: first["config"].get(k) for k in keys})
    records = [r for part in parts for r in part["records"]]
    check_no_overlap(records)
    seeds = sorted({r["seed"] for r in records})
    config = {**first["config"], "seeds": seeds,
              **{k: getattr(args, k) for k in overrides}, "merge": args.merge}
    tag = args.tag or first["tag"] + "_merged"
    result = {**{k: first.get(k) for k in copied}, "config": config, "tag": tag,
              "seeds_planned": seeds, "records": records, "summary": summarize(records),
              "calls": [c for part in parts for c in part.get("calls", [])],
              "paired": paired_rows(study, records), **_summaries(study, records),
              **merged_info(args.merge, parts)}
    merged = argparse.Namespace(**{**config, "tag": tag, "output_dir": args.output_dir})
    print(write_report(study, merged, result, argv))
    return 0


def classifier(args, sampler, seed, data):
    """``data.context["base"]`` (an unfitted estimator) cloned with the row's sampler
    (a name or object, or a dict of estimator parameters such as ``sampler`` and
    ``initial``) and the seed: the estimator of studies that build one net for all rows."""
    from sklearn.base import clone

    params = sampler if isinstance(sampler, dict) else {"sampler": sampler}
    return clone(data.context["base"]).set_params(**params, random_state=seed)


def accuracy(est, data):
    """The estimator's score on the test set (a classifier's accuracy)."""
    return est.score(data.X_test, data.y_test)


def ratio_to_reference(records, reference):
    """Per row and round, the mean over seeds of the row's score / the reference's on
    the same seed: ``{row: {round: ratio}}``."""
    table = {(r["strategy"], r["seed"], r["round"]): r["score"] for r in records}
    out = {}
    for (name, seed, k), value in table.items():
        if (reference, seed, k) in table and table[(reference, seed, k)] != 0:
            out.setdefault(name, {}).setdefault(k, []).append(value / table[(reference, seed, k)])
    return {name: {k: float(np.mean(v)) for k, v in sorted(rounds.items())}
            for name, rounds in out.items()}
