"""Vessel study (paper section 4, IVUS row): SI against random synthetic and random real.

A labeling-tool study: labels are von Mises stress maps computed on demand by the
finite-element solver :class:`hardsample.datasets.VesselStressSolver` (hyperelastic
Mooney-Rivlin, 16 kPa lumen pressure) through
:class:`hardsample.oracles.LabelingToolOracle` with ``n_jobs=--n-jobs``. The
oracle applies the solver's ``canonicalize`` step, so every synthetic mask is
labeled, and trained on, as the cleaned binary wall the solver solved on.

- Pool: ``--pool-size`` unlabeled synthetic wall masks (``make_vessel_masks``,
  seed ``--pool-seed``); the generator (``--generator``, latent ``--latent-dim``,
  prior ``--prior``) is fitted once on it and shared (``FrozenEstimator``).
- Test set: ``--test-size`` held-out masks (seed ``--test-seed``) and their stress
  maps, cached to an ``.npz`` in the per-user cache folder (``benchmarks/_cache.py``).
- Target net: ``skorch.NeuralNetRegressor(StressUNet)`` (GroupNorm, linear head),
  Adam, a fixed number of optimiser steps per fit (``--train-steps``, through
  :class:`hardsample.nets.FixedStepsLoader`) whatever the label count; targets are
  stress / lumen pressure (dimensionless, order 1).
- Strategies, paired by seed (same seeds, net, steps, budget): ``SI``
  (``InterpolationSampler(step_size=--step-size)``), ``random-synthetic``
  (``PriorSampler()``: fresh prior draws), ``random-real`` (``sampler="random"``
  over the real pool, labeled by the same solver).
- Baselines (rows): predicting zero stress, and the mean stress map of the real
  labels random-real holds at that round and seed.
- Metric: test MSE in kPa² over all 64x64 pixels (lower is better). Paired by seed
  (:func:`hardsample.curves.paired_differences`): per round and in AUC, SI minus
  random-synthetic, SI minus random-real and random-synthetic minus random-real,
  with 95 % t intervals over seeds (negative: the first has the lower MSE), and the
  mean per-seed MSE ratios.

The estimator keeps the *canonical* inputs the oracle returns (``LabelingResult.inputs``,
the cleaned binary walls the solver solved on) in ``X_synthetic_``, so the nets train on
what was labeled; the report checks it (stored inputs binary, relabeling gives back the
stored targets). With ``--prior aggregate`` the samplers' prior draws are the
generator's ``sample_codes``.

A definition for the study runner (``benchmarks/_study.py``), which writes in
``--output-dir`` ``<tag>.json`` (provenance, configuration, records; ``calls``: per row
and seed the masks sent, the refusals by cause and the checks of the stored inputs),
``<tag>.md`` rendered from that JSON by :func:`render`, ``<tag>_records.csv`` and
``<tag>.png``, after every seed.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cache import cache_dir, cached_fit, settings_key  # noqa: E402
from _report import config_of, header  # noqa: E402
from _study import Study, StudyData, add_protocol_arguments, run_study  # noqa: E402
from _vessel_data import ScaledStressTool, cached_test_set  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
STRATEGIES = ("SI", "random-synthetic", "random-real")
#: Paired comparisons (first minus second, per seed) of the report.
COMPARISONS = (("SI", "random-synthetic"), ("SI", "random-real"),
               ("random-synthetic", "random-real"))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="hardsample bench vessels",
        description="Vessel study: SI vs random-synthetic vs random-real with a "
                    "finite-element labeling tool; test MSE (kPa^2) per round, paired by seed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--pool-size", type=int, default=400)
    parser.add_argument("--pool-seed", type=int, default=0)
    parser.add_argument("--test-size", type=int, default=80)
    parser.add_argument("--test-seed", type=int, default=1)
    add_protocol_arguments(parser, STUDY, output_dir=str(RESULTS))
    parser.add_argument("--generator", default="sdf-pca",
                        choices=("sdf-pca", "pca", "vae", "sdf-vae", "conv-vae", "sdf-conv-vae"))
    parser.add_argument("--latent-dim", type=int, default=3)
    parser.add_argument("--prior", choices=("standard", "aggregate"), default="aggregate")
    parser.add_argument("--vae-epochs", type=int, default=50)
    parser.add_argument("--conv-channels", type=int, nargs="+", default=[32, 32, 64, 64],
                        help="conv VAE: widths of its stride-2 levels")
    parser.add_argument("--conv-epochs", type=int, default=50, help="conv VAE epochs")
    parser.add_argument("--conv-batch-size", type=int, default=32, help="conv VAE batch size")
    parser.add_argument("--step-size", type=float, default=1.0, help="SI latent step")
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--n-convs", type=int, default=1)
    parser.add_argument("--train-steps", type=int, default=150,
                        help="Adam steps per fit (every round), whatever the label count")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--retrain", choices=("scratch", "continue"), default="continue")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel solver jobs")
    parser.add_argument("--replot", default=None, metavar="JSON",
                        help="do not run: redraw <tag>.png from a results JSON of this script")
    return parser


def make_generator(args):
    from sklearn.base import clone

    from hardsample.generators import PCAGenerator, SDFGenerator, VAETransformer

    vae = VAETransformer(latent_dim=args.latent_dim, hidden_sizes=(400, 400),
                         max_epochs=args.vae_epochs, random_state=0, prior=args.prior)
    conv = VAETransformer(latent_dim=args.latent_dim, hidden_sizes=(400, 400),
                          architecture="conv", channels=tuple(args.conv_channels),
                          max_epochs=args.conv_epochs, batch_size=args.conv_batch_size,
                          random_state=0, prior=args.prior)
    pca = PCAGenerator(args.latent_dim, random_state=0, prior=args.prior)
    return {"pca": pca, "vae": vae, "conv-vae": conv,
            "sdf-pca": SDFGenerator(PCAGenerator(args.latent_dim, random_state=0),
                                    prior=args.prior),
            "sdf-vae": SDFGenerator(clone(vae).set_params(prior="standard"), prior=args.prior),
            "sdf-conv-vae": SDFGenerator(clone(conv).set_params(prior="standard"),
                                         prior=args.prior),
            }[args.generator]


def load(args):
    """The real pool, the cached labeled test set, the solver as tool, the fitted generator."""
    from sklearn.frozen import FrozenEstimator

    from hardsample.datasets.vessels import VesselStressSolver, make_vessel_masks

    solver = VesselStressSolver()
    pressure = float(solver.pressure_kpa)
    masks, _ = make_vessel_masks(args.pool_size, random_state=args.pool_seed)
    X_pool = masks.reshape(-1, 1, 64, 64)
    X_test, y_test, test_path, test_seconds = cached_test_set(args.test_size, args.test_seed,
                                                              solver)
    print(f"test set {test_path.name} ({test_seconds:.0f} s)", flush=True)
    template = make_generator(args)
    settings = dict(generator=repr(template), pool=args.pool_size, seed=args.pool_seed,
                    sum=float(X_pool.sum()))
    generator, generator_seconds = cached_fit(
        cache_dir() / f"vessels_generator_{settings_key(settings)}.pt", template, X_pool, settings)
    print(f"generator {args.generator} ({generator_seconds:.0f} s)", flush=True)
    info = {"zero_mse": float(np.mean(y_test ** 2)), "generator_seconds": generator_seconds,
            "test_seconds": test_seconds}
    return StudyData(X_pool, X_test, y_test, tool=ScaledStressTool(solver, pressure),
                     info=info, context={"generator": FrozenEstimator(generator),
                                         "pressure": pressure})


def estimator(args, sampler, seed, data):
    """StressUNet trained a fixed number of steps per fit, the shared generator."""
    import torch
    from skorch import NeuralNetRegressor

    from hardsample import LatentHardMiningRegressor
    from hardsample.nets import FixedStepsLoader, StressUNet

    net = NeuralNetRegressor(
        StressUNet, module__widths=tuple(args.widths), module__n_convs=args.n_convs,
        optimizer=torch.optim.Adam, lr=args.lr, max_epochs=1,
        batch_size=args.batch_size, train_split=None, iterator_train=FixedStepsLoader,
        iterator_train__n_steps=args.train_steps, verbose=0)
    return LatentHardMiningRegressor(
        net, data.context["generator"], sampler=sampler, initial_size=args.initial_size,
        round_size=args.round_size, n_rounds=args.rounds, retrain=args.retrain,
        random_state=seed)


def test_mse(est, data):
    """Test MSE in kPa² over all pixels, the prediction's seconds, and the round's
    oracle calls and refusals."""
    start = time.perf_counter()
    pred = est.predict(data.X_test).reshape(data.y_test.shape) * data.context["pressure"]
    last = est.history_[-1]
    return {"score": float(np.mean((pred - data.y_test) ** 2)),
            "n_oracle_calls": last["n_oracle_calls"], "n_failed": last["n_failed"],
            "test_seconds": time.perf_counter() - start}


def baselines(est, data):
    """The mean stress map of the real labels random-real holds."""
    y = data.y_test
    mean_map = est.y_labeled_.reshape(-1, *y.shape[1:]).mean(0) * data.context["pressure"]
    return {"mean-map": float(np.mean((mean_map - y) ** 2))}


def inspect(est, name, data):
    """Refusals by cause; for the synthetic rows, that what is labeled is what is trained
    on: stored inputs are binary, and labeling them again gives back their stored targets."""
    failed = getattr(est, "failed_labels_", [])
    facts = {"n_mask_error": sum("MaskError" in f["error"] for f in failed),
             "n_solver_error": sum("SolverError" in f["error"] for f in failed)}
    if name != "random-real" and len(est.X_synthetic_):
        pick = np.arange(min(3, len(est.X_synthetic_)))
        again = data.tool(est.X_synthetic_[pick])
        facts.update(binary=bool(np.isin(est.X_synthetic_, (0.0, 1.0)).all()),
                     relabel_max_abs_diff=float(np.abs(again - est.y_synthetic_[pick]).max()))
    return facts


def paired_rows(records):
    """Paired-by-seed test MSE differences of :data:`COMPARISONS`, first minus second.

    :func:`hardsample.curves.paired_differences` of each pair that ran (per round and
    in AUC, 95 % t intervals, wins = the first has the lower MSE), with ``strategy``
    renamed ``"<first> minus <second>"``.

    Raises
    ------
    ValueError
        The two strategies of a pair do not have the same seeds and rounds (a run
        stopped early).
    """
    from hardsample.curves import paired_differences

    present = {r["strategy"] for r in records}
    rows = []
    for first, second in COMPARISONS:
        if first in present and second in present:
            pair = [r for r in records if r["strategy"] in (first, second)]
            rows += [{**row, "strategy": f"{first} minus {second}"} for row in
                     paired_differences(pair, reference=second, greater_is_better=False)]
    return rows


def ratios(records, first, second):
    """Per round, the mean over seeds of first's test MSE / second's on the same seed."""
    table = {(r["strategy"], r["seed"], r["round"]): r["score"] for r in records}
    out = {}
    for k in sorted({r["round"] for r in records}):
        values = [table[(first, s, k)] / table[(second, s, k)]
                  for (name, s, r) in table if name == first and r == k
                  and (second, s, k) in table]
        if values:
            out[k] = float(np.mean(values))
    return out


def _setup(args, result):
    """The configuration paragraph of a report."""
    if "epochs" in result["config"]:  # the earlier StressMapNet study (VAE, soft masks)
        return [
            f"pool {args.pool_size} synthetic masks (seed {args.pool_seed}), test "
            f"{args.test_size} (seed {args.test_seed}) labeled by VesselStressSolver() "
            f"(Mooney-Rivlin, fibrous wall, 16 kPa; {result['test_seconds']:.0f} s, cache "
            f"{result['test_path']}); VAE latent {args.latent_dim}, 400-400, "
            f"{args.vae_epochs} epochs ({result['vae_seconds']:.0f} s; cache "
            f"{result['vae_path']}); StressMapNet, Adam lr {args.lr}, {args.epochs} epochs, "
            f"batch {args.batch_size}, retrain={args.retrain}; targets = stress / "
            f"{args.s_max:g} kPa; {args.initial_size} + {args.round_size}/round, "
            f"{args.rounds} rounds; seeds {args.seeds}; SI step {args.step_size}; solver "
            f"n_jobs {args.n_jobs}; torch threads {args.threads}; total "
            f"{result['total_seconds'] / 60:.1f} min. Written by an earlier version of "
            "this script (not re-runnable with the current options)."]
    conv = (f" (conv VAE: stride-2 levels {tuple(args.conv_channels)}, GroupNorm, FC 400-400, "
            f"{args.conv_epochs} epochs, batch {args.conv_batch_size})"
            if "conv" in args.generator else "")
    return [
        f"Pool {args.pool_size} synthetic masks (seed {args.pool_seed}); test "
        f"{args.test_size} (seed {args.test_seed}) labeled by VesselStressSolver() "
        f"(Mooney-Rivlin, fibrous wall, 16 kPa). Generator {args.generator}{conv}, latent "
        f"{args.latent_dim}, prior {args.prior} (fitted in "
        f"{result['generator_seconds']:.0f} s). Net StressUNet(widths {tuple(args.widths)}, "
        f"{args.n_convs} conv/level, GroupNorm, linear head), Adam lr {args.lr}, batch "
        f"{args.batch_size}, {args.train_steps} steps per fit, retrain={args.retrain}; "
        f"targets = stress / 16 kPa. Budget {args.initial_size} + {args.round_size}/round, "
        f"{args.rounds} rounds; seeds {args.seeds}; SI step {args.step_size}; solver n_jobs "
        f"{args.n_jobs}; torch threads {args.threads}; total "
        f"{result['total_seconds'] / 60:.1f} min."]


def _paired_lines(records):
    from hardsample.curves import paired_table

    lines = ["## Paired by seed: SI minus the others (kPa²)", ""]
    try:
        rows = paired_rows(records)
    except ValueError as exc:  # a run stopped early: seeds or rounds not paired
        return lines + [f"Not computed: {exc}", ""]
    if not rows:
        return lines + ["Not computed: fewer than two of the compared strategies ran.", ""]
    lines += [
        "Per seed, the first strategy's test MSE minus the second's on the same seed (same "
        "seeds, net, training and budget; SI and random-synthetic also share round 1); "
        f"mean over {rows[0]['n_seeds']} seeds with its 95 % Student t interval. Lower "
        "MSE is better: a negative difference means the first strategy (SI in the first "
        "two rows) has the lower test MSE. AUC: the area under the MSE curve over the "
        "labels divided by their span (the mean MSE over the budget), per seed; a win: "
        "the first strategy's AUC is the lower one on that seed.", "",
        paired_table(rows, scale=1.0, digits=2,
                     title="test MSE difference (kPa², 95 % t interval), round (labels)"),
        "", "Mean over seeds of the per-seed test MSE ratio (first / second):", ""]
    pairs = list(dict.fromkeys(r["strategy"] for r in rows))
    by_pair = {name: ratios(records, *name.split(" minus ")) for name in pairs}
    rounds = sorted({k for values in by_pair.values() for k in values})
    lines += ["| ratio, round | " + " | ".join(str(k) for k in rounds) + " |",
              "|---|" + "---|" * len(rounds)]
    lines += [f"| {name.replace(' minus ', ' / ')} | "
              + " | ".join(f"{values[k]:.2f}" if k in values else "" for k in rounds) + " |"
              for name, values in by_pair.items()]
    return lines + [""]


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script.

    Also renders the JSON of the earlier version of the study (StressMapNet on soft
    VAE masks: no provenance, baselines or checks recorded), stating what it has.
    """
    from hardsample.curves import markdown_table, summarize

    records = result["records"]
    args = config_of(build_parser(), result)
    rounds = sorted({r["round"] for r in records})
    lines = [*header(f"Vessel study ({result.get('tag') or args.tag})", result),
             *_setup(args, result), "",
             "## Test MSE (kPa², all pixels), mean ± std over seeds", "",
             markdown_table(summarize(records), scale=1.0, digits=2,
                            title="test MSE (kPa²), round (labels)")]
    if "zero_mse" in result:
        lines.append("| predict zero | "
                     + " | ".join(f"{result['zero_mse']:.2f}" for _ in rounds) + " |")
    lines.append("")
    table = {(r["strategy"], r["seed"], r["round"]): r["score"] for r in records}
    if any(name == "mean-map" for name, _, _ in table):
        floor = [(s, sd, k) for (s, sd, k), v in table.items()
                 if s in STRATEGIES and ("mean-map", sd, k) in table
                 and v >= table[("mean-map", sd, k)]]
        lines += ["mean-map: the mean stress map of random-real's labels at that round and "
                  "seed.", "", "Floor (every strategy's net beats the mean map at every round "
                  f"of every seed): {'met' if not floor else 'NOT met at ' + str(floor)}.", ""]
    lines += _paired_lines(records)
    calls = result.get("failures") or result["calls"]  # "failures": before the runner
    names = list(dict.fromkeys(f["strategy"] for f in calls))
    lines += ["## Failed labels (recorded and replaced by new proposals)", "",
              "| strategy | masks sent | failed | MaskError | SolverError |",
              "|---|---|---|---|---|"]
    for name in names:
        rows = [f for f in calls if f["strategy"] == name]
        lines.append(f"| {name} | " + " | ".join(
            str(sum(f[k] for f in rows))
            for k in ("n_sent", "n_failed", "n_mask_error", "n_solver_error")) + " |")
    names = [n for n in dict.fromkeys(r["strategy"] for r in records) if n in STRATEGIES]
    lines += ["", "## Time per strategy (s, summed over seeds and rounds)", "",
              "| strategy | labeling | training | mining | test prediction |",
              "|---|---|---|---|---|"]
    for name in names:
        rows = [r for r in records if r["strategy"] == name]
        lines.append(f"| {name} | " + " | ".join(
            f"{sum(r[k] for r in rows):.1f}" for k in ("labeling_seconds", "train_seconds",
                                                        "mining_seconds", "test_seconds")) + " |")
    lines += ["", "Per round, mean seconds over seeds: labeling (FE solver) / training (net) / "
              "mining", "", "| strategy | " + " | ".join(f"round {k}" for k in rounds) + " |",
              "|---|" + "---|" * len(rounds)]
    for name in names:
        cells = []
        for k in rounds:
            group = [r for r in records if r["strategy"] == name and r["round"] == k]
            cells.append("" if not group else " / ".join(
                f"{np.mean([r[f] for r in group]):.{d}f}" for f, d in (
                    ("labeling_seconds", 1), ("train_seconds", 1), ("mining_seconds", 2))))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    checks = result.get("checks") or [c for c in calls if "binary" in c]
    if checks:
        lines += ["", "Stored synthetic inputs: binary in "
                  f"{sum(c['binary'] for c in checks)}/{len(checks)} runs; relabeling 3 stored "
                  "inputs per run gives back the stored targets up to "
                  f"{max(c['relabel_max_abs_diff'] for c in checks):.3g} (stress / 16 kPa)."]
    return "\n".join(lines).rstrip("\n") + "\n"


def figure(result, path):
    """Test MSE against labels, mean ± std over seeds, with the zero baseline; a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from hardsample.plotting import plot_learning_curves

    _, ax = plt.subplots(figsize=(6, 4))
    plot_learning_curves(result["summary"], ax=ax, scale=1.0, ylabel="test MSE (kPa²)")
    ax.axhline(result["zero_mse"], color="grey", linestyle=":", label="predict zero")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title(f"Vessel walls, {result['config']['generator']}: mean ± std over "
                 f"{len(result['config']['seeds'])} seeds")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)


def si(args):
    from hardsample.samplers import InterpolationSampler

    return InterpolationSampler(step_size=args.step_size)


def random_synthetic(args):
    from hardsample.samplers import PriorSampler

    return PriorSampler()


def figures(result, args, data=None):
    figure(result, Path(args.output_dir) / f"{args.tag}.png")


STUDY = Study(
    script="benchmarks/vessels.py", load=load, estimator=estimator,
    strategies={"SI": si, "random-synthetic": random_synthetic,
                "random-real": lambda args: "random"},
    reference="random-real", score=test_mse, baselines=baselines, render=render,
    paired=paired_rows, inspect=inspect, figures=figures)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.replot:
        result = json.loads(Path(args.replot).read_text())
        figure(result, Path(args.replot).with_suffix(".png"))
        return 0
    args.tag = args.tag or (f"vessels_{args.generator}{args.latent_dim}_{args.prior}_pool"
                            f"{args.pool_size}_r{args.rounds}_{args.initial_size}+"
                            f"{args.round_size}_s{len(args.seeds)}_{args.retrain}")
    return run_study(STUDY, args, argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
