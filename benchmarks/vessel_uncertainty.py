"""Vessel regression study (issue 19): uncertainty and diversity strategies against
random real masks, with the finite-element solver as the labeling tool.

Labels are von Mises stress maps computed on demand by
:class:`hardsample.datasets.VesselStressSolver` (Mooney-Rivlin, 16 kPa lumen pressure)
through :class:`hardsample.oracles.LabelingToolOracle` (``n_jobs=--n-jobs``), which
applies the solver's ``canonicalize`` step: every mask is labeled, and trained on, as the
cleaned binary wall the solver solved on. The settings are those of ``vessels.py``'s
committed ``vessels_sdf-pca3_aggregate_pool400_r5_10+10_s5_continue`` study.

- **Pool**: ``--pool-size`` real wall masks from ``make_vessel_masks`` (seed
  ``--pool-seed``), the candidates of the ``*-real`` rows; the generator
  (``SDFGenerator(PCAGenerator(--latent-dim))``, aggregate prior) is fitted once on it
  and shared (``FrozenEstimator``); the synthetic rows decode its codes.
- **Test**: ``--test-size`` held-out masks (seed ``--test-seed``) and their stress maps,
  cached in a per-user folder (``--cache-dir``).
- **Net**: ``NeuralNetRegressor(StressUNet(--widths))``, Adam, ``--train-steps`` steps per
  fit (``FixedStepsLoader``) whatever the label count, ``retrain=--retrain``; targets are
  stress / 16 kPa.
- **Rows**, paired by seed: ``random-real`` (the reference), ``variance-real`` (deep
  ensemble of ``--ensemble-members``), ``subsampled-variance-real`` (its same-cost
  control: the same ensemble, judging a uniform subset of ``round size x
  --control-candidates`` pool masks), ``iGS-real`` (improved greedy sampling in input
  space; its control is random-real), ``random-synthetic`` (prior draws),
  ``screened-prior`` (SI-variance's same-cost control), ``SI-loss`` (today's
  ``InterpolationSampler``), ``SI-variance`` (``InterpolationSampler(objective=
  "variance")``); baselines ``predict-zero`` and ``mean-map`` (the per-pixel mean of the
  stress maps random-real holds at that round and seed).
- **Metric**: test MSE in kPa² over all 64x64 pixels (lower is better); every row minus
  random-real on the same seed with 95 % t intervals
  (:func:`hardsample.curves.paired_differences`), and the per-seed ratio to
  random-real.

Run by :func:`_study.run_study`: ``<tag>.json`` (rewritten after every seed),
``<tag>.md`` rendered from it by :func:`render`, ``<tag>_records.csv``.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import config_of, header, partial_run_lines  # noqa: E402
from _study import (  # noqa: E402
    Study,
    StudyData,
    add_protocol_arguments,
    ratio_to_reference,
    run_study,
)
from _vessel_data import ScaledStressTool, cached_test_set  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = "random-real"
BASELINES = ("predict-zero", "mean-map")
SYNTHETIC = ("random-synthetic", "screened-prior", "SI-loss", "SI-variance")
#: The label counts of the issue's goals (test MSE at 30-50 labels).
GOAL_LABELS = (30, 40, 50)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python benchmarks/vessel_uncertainty.py",
        description="Vessel regression study: uncertainty, diversity and synthesis "
                    "strategies paired by seed against random-real; test MSE (kPa²).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--pool-size", type=int, default=400)
    parser.add_argument("--pool-seed", type=int, default=0)
    parser.add_argument("--test-size", type=int, default=80)
    parser.add_argument("--test-seed", type=int, default=1)
    add_protocol_arguments(parser, STUDY, rounds=5, initial_size=10, round_size=10,
                           output_dir=str(RESULTS))
    parser.add_argument("--latent-dim", type=int, default=3)
    parser.add_argument("--ensemble-members", type=int, default=5,
                        help="deep-ensemble members of the variance rows")
    parser.add_argument("--control-candidates", type=int, default=16,
                        help="subsampled-variance-real judges round size x this many masks")
    parser.add_argument("--step-size", type=float, default=1.0, help="SI latent step")
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--train-steps", type=int, default=150,
                        help="Adam steps per fit, whatever the label count")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--retrain", choices=("scratch", "continue"), default="continue")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel solver jobs")
    parser.add_argument("--cache-dir", default=None,
                        help="where the labeled test set is cached (.npz; default: the "
                             "per-user cache folder of _cache.cache_dir)")
    return parser


def load(args):
    """Real pool masks, the cached test set, the solver as tool, the fitted generator."""
    import time

    from sklearn.frozen import FrozenEstimator

    from hardsample.datasets.vessels import VesselStressSolver, make_vessel_masks
    from hardsample.generators import PCAGenerator, SDFGenerator

    solver = VesselStressSolver()
    pressure = float(solver.pressure_kpa)
    masks, _ = make_vessel_masks(args.pool_size, random_state=args.pool_seed)
    X_pool = masks.reshape(-1, 1, 64, 64)
    if args.cache_dir is not None:
        Path(args.cache_dir).mkdir(parents=True, exist_ok=True)
    X_test, y_test, _, test_seconds = cached_test_set(args.test_size, args.test_seed, solver,
                                                      args.cache_dir)
    tick = time.perf_counter()
    generator = SDFGenerator(PCAGenerator(args.latent_dim, random_state=0),
                             prior="aggregate").fit(X_pool)
    info = {"zero_mse": float(np.mean(y_test ** 2)), "test_seconds": test_seconds,
            "generator_seconds": time.perf_counter() - tick, "pressure_kpa": pressure}
    return StudyData(X_pool, X_test, y_test, tool=ScaledStressTool(solver, pressure),
                     info=info, context={"generator": FrozenEstimator(generator),
                                         "pressure": pressure})


def estimator(args, sampler, seed, data):
    """The regressor of every row: StressUNet, the shared generator, the protocol."""
    import torch
    from skorch import NeuralNetRegressor

    from hardsample import LatentHardMiningRegressor
    from hardsample.nets import FixedStepsLoader, StressUNet

    net = NeuralNetRegressor(
        StressUNet, module__widths=tuple(args.widths), module__n_convs=1,
        optimizer=torch.optim.Adam, lr=args.lr, max_epochs=1, batch_size=args.batch_size,
        train_split=None, iterator_train=FixedStepsLoader,
        iterator_train__n_steps=args.train_steps, verbose=0)
    return LatentHardMiningRegressor(net, data.context["generator"], sampler=sampler,
                                     initial_size=args.initial_size,
                                     round_size=args.round_size, n_rounds=args.rounds,
                                     retrain=args.retrain, random_state=seed)


def test_mse(est, data):
    """Test MSE in kPa² over all pixels."""
    pred = est.predict(data.X_test).reshape(data.y_test.shape) * data.context["pressure"]
    return np.mean((pred - data.y_test) ** 2)


def baselines(est, data):
    """Predicting zero, and the per-pixel mean of the stress maps random-real holds."""
    mean_map = (est.y_labeled_.reshape(-1, *data.y_test.shape[1:]).mean(0)
                * data.context["pressure"])
    return {"predict-zero": np.mean(data.y_test ** 2),
            "mean-map": np.mean((mean_map - data.y_test) ** 2)}


def _ensemble(args):
    from hardsample.uncertainty import DeepEnsemble

    return DeepEnsemble(n_members=args.ensemble_members)


def _variance(args):
    from hardsample.samplers import VarianceSampler

    return VarianceSampler(uncertainty=_ensemble(args))


def _subsampled_variance(args):
    from hardsample.samplers import SubsampledVarianceSampler

    return SubsampledVarianceSampler(uncertainty=_ensemble(args),
                                     n_candidates=args.control_candidates)


def _screened_prior(args):
    from hardsample.samplers import ScreenedPriorSampler

    return ScreenedPriorSampler(uncertainty=_ensemble(args))


def _si(objective):
    def make(args):
        from hardsample.samplers import InterpolationSampler

        if objective == "loss":
            return InterpolationSampler(step_size=args.step_size)
        return InterpolationSampler(step_size=args.step_size, objective="variance",
                                    uncertainty=_ensemble(args))
    return make


def _setup_lines(args, result):
    return [
        f"Pool {args.pool_size} real wall masks (make_vessel_masks, seed {args.pool_seed}); "
        f"test {args.test_size} (seed {args.test_seed}) labeled by VesselStressSolver() "
        f"(Mooney-Rivlin, fibrous wall, {result['pressure_kpa']:g} kPa; "
        f"{result['test_seconds']:.0f} s, 0 when cached). Generator "
        f"SDFGenerator(PCAGenerator(latent {args.latent_dim})), aggregate prior (fitted in "
        f"{result['generator_seconds']:.1f} s). Net StressUNet(widths {tuple(args.widths)}, "
        f"1 conv/level), Adam lr {args.lr}, batch {args.batch_size}, {args.train_steps} "
        f"steps per fit, retrain={args.retrain}; targets = stress / "
        f"{result['pressure_kpa']:g} kPa. Budget {args.initial_size} + "
        f"{args.round_size}/round, {args.rounds} rounds; seeds {args.seeds}, shared by all "
        f"rows. Deep ensemble of {args.ensemble_members} members (the run's net and "
        f"{args.ensemble_members - 1} fresh ones, {args.train_steps} steps each) for "
        "variance-real, subsampled-variance-real, screened-prior and SI-variance; "
        "subsampled-variance-real judges a uniform subset of "
        f"{args.round_size} x {args.control_candidates} pool masks per round; "
        "screened-prior screens 10 prior draws per proposed mask (the ascent's 10 steps); "
        f"SI step {args.step_size}. Solver n_jobs {args.n_jobs}, torch threads "
        f"{args.threads}; total {result['total_seconds'] / 60:.1f} min. No parameter was "
        "tuned on the test set (no validation split).", ""]


#: The committed vessels.py study's settings this one starts from (and the samplers'
#: default ensemble), so that the report names every setting cut to fit a time budget.
REFERENCE_SETTINGS = {"rounds": 5, "train_steps": 150, "widths": [8, 16, 32],
                      "ensemble_members": 5}


def _shown(value):
    return str(tuple(value)) if isinstance(value, (list, tuple)) else str(value)


def _cut_lines(args):
    cuts = [f"{key.replace('_', ' ')} {_shown(getattr(args, key))} instead of {_shown(value)}"
            for key, value in REFERENCE_SETTINGS.items() if list(np.atleast_1d(
                getattr(args, key))) != list(np.atleast_1d(value))]
    parallel = getattr(args, "seed_jobs", 1)
    if parallel > 1:
        cuts.append(f"{parallel} seeds run at once in parallel processes (their seconds "
                    "are measured under that contention)")
    if not cuts:
        return []
    return ["**Settings cut to fit the time budget** (from the committed vessels.py study "
            "and the samplers' default ensemble): " + "; ".join(cuts) + ".", ""]


def _labels_at(records, n_labeled):
    return sorted({r["round"] for r in records if r["n_labeled"] == n_labeled})


def _goal_lines(records, rows):
    """The issue's goals at 30-50 labels, read from the paired rows and ratios."""
    from hardsample.curves import paired_differences

    ratios = ratio_to_reference(records, REFERENCE)
    rounds = [k for n in GOAL_LABELS for k in _labels_at(records, n)]
    if not rounds:
        return []

    def below_zero(name, against_rows):
        return all(r["high"] < 0 for r in against_rows if r["strategy"] == name
                   and r["quantity"] == "round" and r["round"] in rounds)

    lines = ["## Goals of issue 19 (rounds with 30-50 labels)", ""]
    for name in ("variance-real", "igs-real"):
        if name in ratios and rows:
            worst = max(ratios[name].get(k, np.inf) for k in rounds)
            lines.append(f"- {name} ≤ 0.85 x random-real with the interval below zero: "
                         f"largest ratio {worst:.2f}, intervals below zero at every such "
                         f"round: {'yes' if below_zero(name, rows) else 'no'} → "
                         f"{'met' if worst <= 0.85 and below_zero(name, rows) else 'not met'}.")
    names = {r["strategy"] for r in records}
    if {"SI-variance", "random-synthetic", "screened-prior"} <= names:
        for other, want in (("random-synthetic", 0.85), ("screened-prior", None)):
            try:
                pair = paired_differences(
                    [r for r in records if r["strategy"] in ("SI-variance", other)],
                    reference=other, greater_is_better=False)
            except ValueError:
                continue
            ratio = ratio_to_reference(records, other)["SI-variance"]
            worst = max(ratio.get(k, np.inf) for k in rounds)
            ok = below_zero("SI-variance", pair) and (want is None or worst <= want)
            bound = f"≤ {want} x" if want else "below"
            lines.append(f"- SI-variance {bound} {other}: largest ratio {worst:.2f}, "
                         f"intervals of SI-variance minus {other} below zero: "
                         f"{'yes' if below_zero('SI-variance', pair) else 'no'} → "
                         f"{'met' if ok else 'not met'}.")
    if "SI-variance" in ratios:
        worst = max(ratios["SI-variance"].get(k, np.inf) for k in rounds)
        lines.append(f"- Moonshot, SI-variance ≤ random-real: largest ratio {worst:.2f} → "
                     f"{'met' if worst <= 1 else 'not met'}.")
    return lines + [""]


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    from hardsample.curves import markdown_table, paired_table, summarize

    args = config_of(build_parser(), result)
    records = result["records"]
    rows = result.get("paired")
    lines = [*header(f"Vessel regression study: uncertainty, diversity and synthesis "
                     f"({result['tag']})", result),
             *partial_run_lines(args.seeds, result.get("seeds_planned")),
             *_setup_lines(args, result), *_cut_lines(args),
             "## Test MSE (kPa², all pixels), mean ± std over seeds (lower is better)", "",
             markdown_table(summarize(records), scale=1.0, digits=2,
                            title="test MSE (kPa²), round (labels)"), "",
             "predict-zero: the mean square of the test stress; mean-map: the per-pixel mean "
             "of the stress maps random-real holds at that round and seed.", "",
             "## Paired by seed: minus random-real (kPa²)", ""]
    if not rows:
        lines += ["Not computed: the rows do not share seeds and rounds (a run stopped "
                  "early), or random-real did not run.", ""]
    else:
        lines += [f"Per seed, the row's test MSE minus random-real's on the same seed; mean "
                  f"over {rows[0]['n_seeds']} seeds with its 95 % Student t interval "
                  "(negative: lower MSE than random-real). AUC: mean MSE over the label "
                  "budget (trapezoid); wins: seeds with the lower AUC.", "",
                  paired_table(rows, scale=1.0, digits=2,
                               title="test MSE minus random-real (kPa², 95 % t interval), "
                                     "round (labels)"), ""]
    ratios = ratio_to_reference(records, REFERENCE)
    rounds = sorted({r["round"] for r in records})
    labels = {r["round"]: r["n_labeled"] for r in records}
    lines += ["Mean over seeds of the per-seed ratio of test MSE to random-real's:", "",
              "| ratio to random-real, round (labels) | "
              + " | ".join(f"{k} ({labels[k]})" for k in rounds) + " |",
              "|---|" + "---|" * len(rounds)]
    lines += [f"| {name} | " + " | ".join(f"{v[k]:.2f}" if k in v else "" for k in rounds)
              + " |" for name, v in ratios.items() if name != REFERENCE]
    lines += ["", *_goal_lines(records, rows)]
    names = [n for n in dict.fromkeys(r["strategy"] for r in records) if n not in BASELINES]
    lines += ["## Seconds (summed over seeds and rounds)", "",
              "Mining includes the deep ensemble's training (`uncertainty_training` of "
              "`history_[i]['mining_split']`), also shown apart.", "",
              "| row | labeling (FE solver) | training | mining | of which ensemble training |",
              "|---|---|---|---|---|"]
    for name in names:
        mine = [r for r in records if r["strategy"] == name]
        lines.append(f"| {name} | " + " | ".join(f"{sum(r[k] for r in mine):.1f}" for k in (
            "labeling_seconds", "train_seconds", "mining_seconds", "uncertainty_seconds")) + " |")
    lines += ["", "## Solver acceptance (summed over seeds)", "",
              "Refused masks (MaskError/SolverError) are recorded and replaced by new "
              "proposals; the issue requires the solver to accept ≥ 99 % of the synthesized "
              "masks.", "", "| row | masks sent | refused | accepted |", "|---|---|---|---|"]
    for name in names:
        mine = [c for c in result["calls"] if c["strategy"] == name]
        sent, failed = sum(c["n_sent"] for c in mine), sum(c["n_failed"] for c in mine)
        lines.append(f"| {name} | {sent} | {failed} | "
                     f"{100 * (sent - failed) / max(sent, 1):.1f} % |")
    stopped = [c for c in result["calls"] if c.get("stopped")]
    lines += ["", "Runs stopped by the failure budget: " + ("; ".join(
        f"{c['strategy']} seed {c['seed']} ({c['stopped']})" for c in stopped) or "none") + "."]
    examples = list(dict.fromkeys(e for c in result["calls"]
                                  for e in c.get("failure_examples", [])))[:3]
    if examples:
        lines += ["", "Refusals (distinct messages): " + "; ".join(f"`{e}`" for e in examples)
                  + "."]
    return "\n".join(lines).rstrip("\n") + "\n"


STUDY = Study(
    script="benchmarks/vessel_uncertainty.py", load=load, estimator=estimator,
    strategies={"random-real": lambda args: "random",
                "variance-real": _variance,
                "subsampled-variance-real": _subsampled_variance,
                "igs-real": lambda args: "igs",
                "random-synthetic": lambda args: "prior",
                "screened-prior": _screened_prior,
                "SI-loss": _si("loss"),
                "SI-variance": _si("variance")},
    reference=REFERENCE, score=test_mse, baselines=baselines, render=render,
    controls={"variance-real": "subsampled-variance-real", "igs-real": "random-real",
              "SI-variance": "screened-prior", "SI-loss": "random-synthetic"})


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.tag = args.tag or (f"vessel_uncertainty_pool{args.pool_size}_r{args.rounds}_"
                            f"{args.initial_size}+{args.round_size}_s{len(args.seeds)}_"
                            f"k{args.ensemble_members}")
    return run_study(STUDY, args, argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
