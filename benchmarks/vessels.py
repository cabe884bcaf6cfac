"""IVUS-like vessel benchmark (paper section 4, Table 1 IVUS row): test MSE per round.

A labeling-tool study: the labels are von Mises stress maps computed on demand by
the finite-element solver :class:`hardsample.datasets.VesselStressSolver`
(hyperelastic Mooney-Rivlin, 16 kPa lumen pressure), wrapped in
:class:`hardsample.oracles.LabelingToolOracle`.

- Pool: ``--pool-size`` unlabeled synthetic wall masks (``make_vessel_masks``, seed
  ``--pool-seed``). Stage 1 fits the paper's MLP VAE (latent 3, hidden 400-400) once
  on the pool, caches it under the output folder keyed by its settings and shares it
  between strategies through ``sklearn.frozen.FrozenEstimator``.
- Test set: ``--test-size`` held-out masks (seed ``--test-seed``) labeled by the same
  solver; the labels are cached to an ``.npz`` keyed by the settings.
- Target net: ``skorch.NeuralNetRegressor(StressMapNet, optimizer=Adam)``; inputs are
  ``(n, 1, 64, 64)`` masks, targets are stress maps divided by the fixed
  ``--s-max`` (kPa) because the net ends in a sigmoid. Stresses above ``s_max`` are
  not clipped (the net simply cannot reach them); the JSON records how often that
  happens in the test set.
- Strategies (same seeds, net, optimizer, epochs and budget):
  ``SI`` (``sampler="interpolation"``: prior draws in round 1, then latent steps up
  the loss gradient), ``random-real`` (``sampler="random"`` over the real pool, same
  solver oracle), ``random-synthetic`` (``sampler="prior"``: fresh prior draws).
- The solver only sees the wall mask (the VAE models masks, not lipid pools), so
  every label, test labels included, treats the wall as fibrous tissue
  (``lipid=None``). Decoded VAE masks the solver rejects (``MaskError``) or fails
  on (``SolverError``) are recorded failures of the oracle and replaced by the
  estimator (new proposals); they are counted per strategy.
- Metric: test MSE in kPa^2 on the unscaled stress maps (all 64x64 pixels,
  background included) after every round; mean ± std over seeds.

Outputs (``<tag>`` derived from the configuration) in ``--output-dir``:
``vessels_<...>.md`` (Table 1 layout, timing, failures), ``.json`` (configuration,
records, summary, timing, failures), ``_records.csv``, ``.png`` (curves, mean ± std
bands), ``_examples.png`` (synthesized masks with true and predicted stress).

Run ``python benchmarks/vessels.py --help`` or ``hardsample bench vessels --help``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cache import cached_fit, settings_key  # noqa: E402  (benchmarks/_cache.py)
from _report import config_of, header, paired_lines, write_result  # noqa: E402
from _strategies import sampler_for  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
STRATEGIES = {"SI": "interpolation", "random-real": "random", "random-synthetic": "prior"}
#: Default stress scale (kPa): the net predicts stress / S_MAX in [0, 1].
S_MAX = 150.0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="hardsample bench vessels",
        description="IVUS-like vessel benchmark: SI vs random-real vs random-synthetic with "
                    "a finite-element labeling tool; test MSE (kPa^2) per round. The defaults "
                    "are the paper-like configuration (hours on a CPU).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--pool-size", type=int, default=1200)
    parser.add_argument("--pool-seed", type=int, default=0)
    parser.add_argument("--test-size", type=int, default=210)
    parser.add_argument("--test-seed", type=int, default=1)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES),
                        choices=list(STRATEGIES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--initial-size", type=int, default=100)
    parser.add_argument("--round-size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=50, help="net epochs per round")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--retrain", choices=("scratch", "continue"), default="scratch")
    parser.add_argument("--step-size", type=float, default=1.0, help="SI latent step")
    parser.add_argument("--latent-dim", type=int, default=3)
    parser.add_argument("--vae-epochs", type=int, default=50)
    parser.add_argument("--s-max", type=float, default=S_MAX,
                        help="fixed stress scale (kPa): targets are stress / s_max")
    parser.add_argument("--n-jobs", type=int, default=1, help="parallel solver jobs")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--n-examples", type=int, default=4,
                        help="synthesized masks shown in the examples PNG")
    parser.add_argument("--output-dir", default=str(RESULTS))
    parser.add_argument("--tag", default=None, help="file name stem (default: derived "
                        "from the configuration)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


class ScaledStressTool:
    """Labeling tool: ``(n, 1, 64, 64)`` (soft) masks -> ``(n, 64, 64)`` stress / s_max.

    A top-level class so that it pickles for process-based parallel labeling.
    """

    def __init__(self, solver, s_max):
        self.solver = solver
        self.s_max = float(s_max)

    def __call__(self, X):
        X = np.asarray(X, dtype=np.float64)
        masks = X.reshape(len(X), X.shape[-2], X.shape[-1])
        # Decoded VAE outputs can leave [0, 1] by rounding only; the solver rejects
        # values outside [0, 1], so clip that float noise (thresholded at 0.5 anyway).
        masks = np.clip(masks, 0.0, 1.0)
        return (self.solver(masks) / self.s_max).astype(np.float32)

    def __repr__(self):  # journal signature / readable records
        return f"ScaledStressTool({self.solver!r}, s_max={self.s_max:g})"


def pool_masks(args):
    from hardsample.datasets.vessels import make_vessel_masks

    masks, _ = make_vessel_masks(args.pool_size, random_state=args.pool_seed)
    return masks.reshape(-1, 1, 64, 64)


def cached_test_set(args, solver, output_dir):
    """Held-out masks and their (unscaled, kPa) stress maps, cached to an .npz."""
    from hardsample.datasets.vessels import make_vessel_masks

    settings = dict(n=args.test_size, seed=args.test_seed, solver=repr(solver), lipid=None)
    path = Path(output_dir) / f"vessels_test_{settings_key(settings, code=('datasets',))}.npz"
    if path.is_file():
        data = np.load(path)
        return data["X"], data["y"], path, 0.0
    masks, _ = make_vessel_masks(args.test_size, random_state=args.test_seed)
    start = time.perf_counter()
    stress = solver(masks)
    seconds = time.perf_counter() - start
    X = masks.reshape(-1, 1, 64, 64)
    np.savez_compressed(path, X=X, y=stress, settings=json.dumps(settings),
                        seconds=seconds)
    return X, stress, path, seconds


def cached_vae(X_pool, args, output_dir):
    """The VAE fitted on the pool, loaded from the cache when its settings match."""
    from hardsample.generators import VAETransformer

    settings = dict(data="vessels", pool_size=len(X_pool), pool_seed=args.pool_seed,
                    pool_sum=float(X_pool.sum()), latent_dim=args.latent_dim,
                    hidden_sizes=[400, 400], max_epochs=args.vae_epochs, batch_size=128,
                    lr=1e-3, random_state=0)
    path = Path(output_dir) / f"vessels_vae_{settings_key(settings)}.pkl"
    vae, seconds = cached_fit(path, lambda: VAETransformer(
        latent_dim=args.latent_dim, hidden_sizes=(400, 400), max_epochs=args.vae_epochs,
        batch_size=128, lr=1e-3, random_state=0).fit(X_pool))
    return vae, path, seconds


def test_mse(estimator, X_test, y_test, s_max):
    """Mean squared error in kPa^2 of the unscaled predicted stress maps."""
    y_pred = estimator.predict(X_test).reshape(y_test.shape) * s_max
    return float(np.mean((y_pred - y_test) ** 2))


def run_curves(strategies, X_pool, X_test, y_test, tool, args, progress,
               partial_path=None):
    """The learning-curve loop with a labeling-tool oracle (fresh per run)."""
    from sklearn.base import clone
    from tqdm.auto import tqdm

    from hardsample.oracles import LabelingError, LabelingToolOracle

    records, failures, fitted = [], [], {}
    bar = tqdm(total=len(args.seeds) * len(strategies) * args.rounds, disable=not progress,
               desc="vessels")
    for seed in args.seeds:
        for name, template in strategies.items():
            estimator = clone(template).set_params(random_state=seed)
            oracle = LabelingToolOracle(tool, n_jobs=args.n_jobs)
            for round_index in range(args.rounds):
                try:
                    if round_index == 0:
                        estimator.partial_fit(X_pool, oracle=oracle)
                    else:
                        estimator.partial_fit(X_pool)
                except LabelingError as exc:
                    print(f"\n{name}, seed {seed}: stopped at round {round_index + 1}: {exc}",
                          flush=True)
                    bar.update(args.rounds - round_index)
                    break
                last = estimator.history_[-1]
                start = time.perf_counter()
                mse = test_mse(estimator, X_test, y_test, args.s_max)
                records.append({
                    "strategy": name, "seed": seed, "round": last["round"],
                    "n_labeled": last["n_labeled"], "score": mse,
                    "train_seconds": last["train_seconds"],
                    "mining_seconds": last["mining_seconds"],
                    "labeling_seconds": last["labeling_seconds"],
                    "n_oracle_calls": last["n_oracle_calls"], "n_failed": last["n_failed"],
                    "test_seconds": time.perf_counter() - start,
                })
                bar.update()
            failures.append({
                "strategy": name, "seed": seed,
                "n_sent": int(getattr(estimator, "n_oracle_calls_", 0)),
                "n_failed": len(getattr(estimator, "failed_labels_", [])),
                "n_mask_error": sum("MaskError" in f["error"]
                                    for f in getattr(estimator, "failed_labels_", [])),
                "n_solver_error": sum("SolverError" in f["error"]
                                      for f in getattr(estimator, "failed_labels_", [])),
                "examples": [f["error"][:200] for f in
                             getattr(estimator, "failed_labels_", [])[:3]],
            })
            fitted[(name, seed)] = estimator
            done = [r for r in records if r["strategy"] == name and r["seed"] == seed]
            if done:
                print(f"  {name}, seed {seed}: final MSE {done[-1]['score']:.2f} kPa^2, "
                      f"{failures[-1]['n_failed']} failed labels", flush=True)
            if partial_path is not None:  # survive an interrupted run
                with open(partial_path, "w") as handle:
                    json.dump({"records": records, "failures": failures}, handle, indent=1)
    bar.close()
    return records, failures, fitted


def timing_rows(records):
    """Per strategy and round: mean labeling, training and mining seconds."""
    rows = {}
    for r in records:
        rows.setdefault((r["strategy"], r["round"]), []).append(r)
    return [{"strategy": s, "round": k, "n_labeled": int(np.mean([x["n_labeled"] for x in g])),
             **{f: float(np.mean([x[f] for x in g]))
                for f in ("labeling_seconds", "train_seconds", "mining_seconds")}}
            for (s, k), g in rows.items()]


def failure_summary(failures):
    out = {}
    for f in failures:
        row = out.setdefault(f["strategy"], {"n_sent": 0, "n_failed": 0, "n_mask_error": 0,
                                             "n_solver_error": 0, "runs": 0})
        for k in ("n_sent", "n_failed", "n_mask_error", "n_solver_error"):
            row[k] += f[k]
        row["runs"] += 1
    return out


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    from hardsample.curves import summarize

    records = result["records"]
    return report(summarize(records), records, result["failures"],
                  config_of(build_parser(), result), result)[0]


def report(summary, records, failures, args, extra):
    from hardsample.curves import markdown_table

    timing = timing_rows(records)
    fails = failure_summary(failures)
    lines = [
        *header(f"Vessel (IVUS-like) benchmark ({extra['tag']})", extra),
        f"pool {args.pool_size} synthetic masks (seed {args.pool_seed}), test "
        f"{args.test_size} (seed {args.test_seed}) labeled by VesselStressSolver() "
        f"(Mooney-Rivlin, fibrous wall, 16 kPa; {extra['test_seconds']:.0f} s, cache "
        f"{extra['test_path']}); VAE latent {args.latent_dim}, 400-400, {args.vae_epochs} "
        f"epochs ({extra['vae_seconds']:.0f} s; cache {extra['vae_path']}); StressMapNet, Adam "
        f"lr {args.lr}, {args.epochs} epochs, batch {args.batch_size}, retrain={args.retrain}; "
        f"targets = stress / {args.s_max:g} kPa; {args.initial_size} + {args.round_size}/round, "
        f"{args.rounds} rounds; seeds {args.seeds}; SI step {args.step_size}; solver n_jobs "
        f"{args.n_jobs}; torch threads {args.threads}; total {extra['total_seconds'] / 60:.1f} "
        "min.", "",
        "Test MSE (kPa², unscaled stress, all pixels), mean ± std over seeds:", "",
        markdown_table(summary, scale=1.0, digits=2, title="test MSE (kPa²), round (labels)"),
        "",
        "Failed labels (decoded masks rejected by the solver, MaskError, or failed solves, "
        "SolverError; each replaced by a new proposal):", "",
        "| strategy | masks sent | failed | MaskError | SolverError |", "|---|---|---|---|---|",
    ]
    for name, row in fails.items():
        lines.append(f"| {name} | {row['n_sent']} | {row['n_failed']} | "
                     f"{row['n_mask_error']} | {row['n_solver_error']} |")
    rounds = sorted({r["round"] for r in records})
    lines += ["", "Per round, mean seconds: labeling (FE solver) / training (net) / mining", "",
              "| strategy | " + " | ".join(f"round {r}" for r in rounds) + " |",
              "|---|" + "---|" * len(rounds)]
    for name in dict.fromkeys(r["strategy"] for r in records):
        cells = []
        for r in rounds:
            row = next((t for t in timing if t["strategy"] == name and t["round"] == r), None)
            cells.append("" if row is None else
                         f"{row['labeling_seconds']:.1f} / {row['train_seconds']:.1f} / "
                         f"{row['mining_seconds']:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    reference = "random-real"
    lower = [{**r, "score": -r["score"]} for r in records]  # wins: a lower MSE
    try:
        paired = paired_lines(lower, reference, what="test MSE reduction, i.e. the "
                              "reference's MSE", unit="kPa²", scale=1.0, digits=2, reach=False)
    except ValueError as exc:  # a run stopped early: seeds or rounds not paired
        paired = ["## Paired by seed", "", f"Not computed: {exc}", ""]
    lines += ["", *paired]
    return "\n".join(lines).rstrip("\n") + "\n", timing, fails


def plot_examples(estimator, args, path):
    """A few synthesized masks with their true (solver) and predicted stress."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    X = getattr(estimator, "X_synthetic_", None)  # absent where round 1 did not finish
    if X is None or len(X) == 0:
        return False
    k = min(args.n_examples, len(X))
    pick = np.linspace(0, len(X) - 1, k).round().astype(int)
    true = estimator.y_synthetic_[pick] * args.s_max
    pred = estimator.predict(X[pick]).reshape(true.shape) * args.s_max
    vmax = float(max(np.percentile(true, 99.5), 1.0))
    fig, axes = plt.subplots(3, k, figsize=(2.6 * k, 7.6), squeeze=False)
    for j, i in enumerate(pick):
        axes[0, j].imshow(X[i].reshape(64, 64), cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"synthetic #{i}", fontsize=8)
        im = axes[1, j].imshow(true[j], cmap="inferno", vmin=0, vmax=vmax)
        axes[1, j].set_title("solver (kPa)", fontsize=8)
        axes[2, j].imshow(pred[j], cmap="inferno", vmin=0, vmax=vmax)
        axes[2, j].set_title(f"net, MSE {np.mean((pred[j] - true[j]) ** 2):.1f}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.colorbar(im, ax=axes[1:].ravel().tolist(), shrink=0.6, label="von Mises stress (kPa)")
    fig.suptitle("SI: decoded VAE masks (top), solver stress (middle), net prediction (bottom)",
                 fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None):
    args = build_parser().parse_args(argv)
    import torch
    from skorch import NeuralNetRegressor
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    from hardsample.curves import summarize
    from hardsample.datasets.vessels import VesselStressSolver
    from hardsample.estimators import LatentHardMiningRegressor
    from hardsample.nets import StressMapNet
    from hardsample.plotting import plot_learning_curves

    torch.set_num_threads(max(1, args.threads))
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tag = args.tag or (f"vessels_pool{args.pool_size}_r{args.rounds}_{args.initial_size}+"
                       f"{args.round_size}_s{len(args.seeds)}_e{args.epochs}")
    solver = VesselStressSolver()
    tool = ScaledStressTool(solver, args.s_max)

    X_pool = pool_masks(args)
    X_test, y_test, test_path, test_seconds = cached_test_set(args, solver, output_dir)
    print(f"data: pool {X_pool.shape}, test {X_test.shape} (labels "
          f"{'solved in %.0f s' % test_seconds if test_seconds else 'from cache'}: "
          f"{test_path.name}); test stress max {y_test.max():.1f} kPa, "
          f"{100 * np.mean(y_test > args.s_max):.3f} % of pixels above s_max", flush=True)
    vae, vae_path, vae_seconds = cached_vae(X_pool, args, output_dir)
    print(f"stage 1: VAE {'fitted in %.0f s' % vae_seconds if vae_seconds else 'from cache'} "
          f"({vae_path.name})", flush=True)

    net = NeuralNetRegressor(
        StressMapNet, optimizer=torch.optim.Adam, lr=args.lr, max_epochs=args.epochs,
        batch_size=args.batch_size, verbose=0,
    )
    base = LatentHardMiningRegressor(
        net, FrozenEstimator(vae), initial_size=args.initial_size,
        round_size=args.round_size, n_rounds=args.rounds, retrain=args.retrain,
    )
    strategies = {name: clone(base).set_params(
        sampler=sampler_for(STRATEGIES[name], args.step_size if name == "SI" else None))
        for name in args.strategies}
    print(f"stage 2: {', '.join(f'{k} ({STRATEGIES[k]})' for k in strategies)}; "
          f"{args.rounds} rounds, seeds {args.seeds}", flush=True)
    records, failures, fitted = run_curves(strategies, X_pool, X_test, y_test, tool, args,
                                           progress=not args.no_progress,
                                           partial_path=output_dir / f"{tag}_partial.json")
    summary = summarize(records)
    extra = dict(tag=tag, n_pool=len(X_pool), n_test=len(X_test), vae_seconds=vae_seconds,
                 vae_path=vae_path.name, test_seconds=test_seconds, test_path=test_path.name,
                 test_stress_max_kpa=float(y_test.max()),
                 test_fraction_above_s_max=float(np.mean(y_test > args.s_max)),
                 total_seconds=time.perf_counter() - start,
                 metric="test MSE in kPa^2 on unscaled von Mises stress maps (64x64, all "
                        "pixels); 'score' in records is this MSE",
                 labels="VesselStressSolver() defaults, masks only (lipid=None: fibrous wall)")
    _, timing, fails = report(summary, records, failures, args, extra)
    text = write_result(output_dir, tag, {
        "config": vars(args), **extra, "strategies": {k: STRATEGIES[k] for k in strategies},
        "records": records, "summary": summary, "timing": timing, "failures": failures,
        "failure_summary": fails}, render, argv, script="benchmarks/vessels.py",
        records=records)
    (output_dir / f"{tag}_partial.json").unlink(missing_ok=True)
    ax = plot_learning_curves(summary, scale=1.0, ylabel="test MSE (kPa²)")
    ax.set_title(f"vessels, pool {len(X_pool)}: mean ± std over {len(args.seeds)} seeds",
                 fontsize=9)
    ax.figure.tight_layout()
    ax.figure.savefig(output_dir / f"{tag}.png", dpi=120)
    si = [fitted[k] for k in fitted if k[0] == "SI"]
    if si and plot_examples(si[0], args, output_dir / f"{tag}_examples.png"):
        print(f"examples: {tag}_examples.png")
    print()
    print(text)
    print(f"written: {output_dir}/{tag}.{{md,json,png}}, {tag}_records.csv")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
