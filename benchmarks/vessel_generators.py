"""Mask generators against the vessel solver: fidelity, acceptance, shape statistics.

For each generator (fitted on ``--pool-size`` synthetic wall masks) on held-out
masks (``--test-size``, seed ``--test-seed``):

- reconstruction IoU (binary decode of the encoded test mask vs the mask, after
  the solver's cleaning) and the share of reconstructions the solver accepts;
- the share of ``--n-draws`` prior draws the solver accepts (its mask check,
  :meth:`VesselStressSolver.canonicalize`), for the standard prior N(0, I) and the
  aggregate prior (a Gaussian fitted to the pool's codes);
- the share of SI-like steps accepted: codes of pool masks stepped by
  ``--step-size`` (in units of the codes' per-dimension std) along random unit
  directions;
- wall area, lumen area and thinnest wall of accepted aggregate-prior decodes
  against the real test masks (mean and std);
- fidelity: a :class:`~hardsample.nets.StressUNet` trained on ``--n-fidelity``
  aggregate-prior decodes (labeled by the solver on their canonical masks) against
  one trained on as many real pool masks; test MSE (kPa^2) and their ratio.

Results in ``--output-dir`` (``_report.write_result``): ``<--tag>.json`` (provenance,
configuration, one row per generator, the real masks' statistics and the baselines)
and ``<--tag>.md`` rendered from it by :func:`render`.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import config_of, header, write_result  # noqa: E402
from _vessel_data import ScaledStressTool, cached_test_set, shape_stats  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-size", type=int, default=400)
    parser.add_argument("--pool-seed", type=int, default=0)
    parser.add_argument("--test-size", type=int, default=80)
    parser.add_argument("--test-seed", type=int, default=1)
    parser.add_argument("--n-draws", type=int, default=200)
    parser.add_argument("--step-size", type=float, default=0.5)
    parser.add_argument("--n-fidelity", type=int, default=20)
    parser.add_argument("--latent-dim", type=int, default=3)
    parser.add_argument("--vae-epochs", type=int, default=50)
    parser.add_argument("--conv-channels", type=int, nargs="+", default=[32, 32, 64, 64],
                        help="conv VAE: widths of its stride-2 levels")
    parser.add_argument("--conv-epochs", type=int, default=50, help="conv VAE epochs")
    parser.add_argument("--conv-batch-size", type=int, default=32, help="conv VAE batch size")
    parser.add_argument("--train-steps", type=int, default=150)
    parser.add_argument("--n-jobs", type=int, default=2,
                        help="parallel solver jobs labeling the fidelity masks")
    parser.add_argument("--generators", nargs="+",
                        default=["pca-unclipped", "pca", "sdf-pca", "vae", "sdf-vae", "conv-vae",
                                 "sdf-conv-vae"])
    parser.add_argument("--output-dir", default=str(RESULTS))
    parser.add_argument("--tag", default="vessel_generators", help="results file stem")
    return parser


def make_generator(name, args):
    from hardsample.generators import PCAGenerator, SDFGenerator, VAETransformer

    def vae():
        return VAETransformer(latent_dim=args.latent_dim, hidden_sizes=(400, 400),
                              max_epochs=args.vae_epochs, random_state=0, prior="aggregate")

    def conv_vae():
        return VAETransformer(latent_dim=args.latent_dim, hidden_sizes=(400, 400),
                              architecture="conv", channels=tuple(args.conv_channels),
                              max_epochs=args.conv_epochs, batch_size=args.conv_batch_size,
                              random_state=0, prior="aggregate")
    return {
        "pca-unclipped": lambda: PCAGenerator(args.latent_dim, clip=False, prior="aggregate"),
        "pca": lambda: PCAGenerator(args.latent_dim, prior="aggregate"),
        "sdf-pca": lambda: SDFGenerator(PCAGenerator(args.latent_dim), prior="aggregate"),
        "vae": vae,
        "sdf-vae": lambda: SDFGenerator(vae(), prior="aggregate"),
        "conv-vae": conv_vae,
        "sdf-conv-vae": lambda: SDFGenerator(conv_vae(), prior="aggregate"),
    }[name]()


def iou(a, b):
    a, b = a.reshape(len(a), -1) > 0.5, b.reshape(len(b), -1) > 0.5
    return (a & b).sum(1) / np.maximum((a | b).sum(1), 1)


def train_net(X, y, steps, seed):
    import torch
    from skorch import NeuralNetRegressor

    from hardsample.nets import FixedStepsLoader, StressUNet

    torch.manual_seed(seed)
    net = NeuralNetRegressor(StressUNet, module__widths=(8, 16, 32), module__n_convs=2,
                             optimizer=torch.optim.Adam, lr=3e-3, max_epochs=1, batch_size=8,
                             train_split=None, iterator_train=FixedStepsLoader,
                             iterator_train__n_steps=steps, verbose=0)
    return net.fit(X.astype(np.float32), y.astype(np.float32))


def main(argv=None):
    args = build_parser().parse_args(argv)
    import torch

    from hardsample.datasets.vessels import VesselStressSolver, make_vessel_masks
    from hardsample.oracles import LabelingToolOracle

    torch.set_num_threads(1)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    solver = VesselStressSolver()
    pressure = solver.pressure_kpa
    pool, _ = make_vessel_masks(args.pool_size, random_state=args.pool_seed)
    X_pool = pool.reshape(-1, 1, 64, 64)
    X_test, y_test, _, _ = cached_test_set(args.test_size, args.test_seed, solver)
    real_stats = shape_stats(X_test)
    rng = np.random.RandomState(0)
    real_idx = rng.choice(len(X_pool), args.n_fidelity, replace=False)
    y_real = solver(X_pool[real_idx].reshape(-1, 64, 64)) / pressure
    mse_real = float(np.mean((train_net(X_pool[real_idx], y_real, args.train_steps, 0)
                              .predict(X_test) * pressure - y_test) ** 2))
    mean_map = float(np.mean((y_real.mean(0) * pressure - y_test) ** 2))
    rows = {}
    for name in args.generators:
        start = time.perf_counter()
        gen = make_generator(name, args).fit(X_pool)
        fit_seconds = time.perf_counter() - start
        Z_test = gen.transform(X_test)
        rec = gen.inverse_transform(Z_test)
        ok_rec = solver.accepts(rec.reshape(len(rec), 64, 64))
        rec_iou = iou(solver.canonicalize(rec[ok_rec].reshape(-1, 64, 64)),
                      X_test[ok_rec]) if ok_rec.any() else np.array([np.nan])
        draws = np.random.RandomState(1)
        Z_std = draws.standard_normal((args.n_draws, gen.latent_dim_)).astype(np.float32)
        Z_agg = gen.sample_codes(args.n_draws, np.random.RandomState(1))
        Z_pool = gen.transform(X_pool[:args.n_draws])
        direction = draws.standard_normal(Z_pool.shape)
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        Z_step = (Z_pool + args.step_size * Z_pool.std(0) * direction).astype(np.float32)
        decodes = {k: gen.inverse_transform(Z) for k, Z in
                   (("standard", Z_std), ("aggregate", Z_agg), ("step", Z_step))}
        ok = {k: solver.accepts(X.reshape(len(X), 64, 64)) for k, X in decodes.items()}
        good = decodes["aggregate"][ok["aggregate"]]
        stats = shape_stats(solver.canonicalize(good.reshape(-1, 64, 64))) if len(good) \
            else np.full((1, 3), np.nan)
        # fidelity: net on N aggregate-prior synthetic masks vs N real masks
        oracle = LabelingToolOracle(ScaledStressTool(solver, pressure), n_jobs=args.n_jobs)
        synth = gen.inverse_transform(gen.sample_codes(2 * args.n_fidelity,
                                                       np.random.RandomState(2)))
        result = oracle.label(synth)
        keep = [i for i in range(len(synth)) if i not in result.errors][:args.n_fidelity]
        mse_syn = float("nan")
        if keep:
            X_syn = result.inputs[keep]
            y_syn = np.stack([result.labels[i] for i in keep])
            mse_syn = float(np.mean((train_net(X_syn, y_syn, args.train_steps, 0)
                                     .predict(X_test) * pressure - y_test) ** 2))
        rows[name] = {
            "fit_seconds": fit_seconds,
            "reconstruction_accepted": float(ok_rec.mean()),
            "reconstruction_iou_mean": float(np.mean(rec_iou)),
            "prior_standard_accepted": float(ok["standard"].mean()),
            "prior_aggregate_accepted": float(ok["aggregate"].mean()),
            "si_step_accepted": float(ok["step"].mean()),
            "decoded_values": [float(decodes["standard"].min()),
                               float(decodes["standard"].max())],
            "code_std": [float(s) for s in Z_pool.std(0)],
            "wall_area": [float(stats[:, 0].mean()), float(stats[:, 0].std())],
            "lumen_area": [float(stats[:, 1].mean()), float(stats[:, 1].std())],
            "thinnest_wall": [float(stats[:, 2].mean()), float(stats[:, 2].std())],
            "fidelity_n": len(keep),
            "fidelity_solver_failures": len(result.errors),
            "mse_synthetic": mse_syn,
            "fidelity_ratio": mse_syn / mse_real,
        }
        print(name, json.dumps(rows[name]), flush=True)
    real = {"wall_area": [float(real_stats[:, 0].mean()), float(real_stats[:, 0].std())],
            "lumen_area": [float(real_stats[:, 1].mean()), float(real_stats[:, 1].std())],
            "thinnest_wall": [float(real_stats[:, 2].mean()), float(real_stats[:, 2].std())]}
    result = {"config": vars(args), "rows": rows, "real": real, "mse_real": mse_real,
              "mse_mean_map": mean_map, "mse_zero": float(np.mean(y_test ** 2))}
    print(write_result(out_dir, args.tag, result, render, argv,
                       script="benchmarks/vessel_generators.py"))
    return 0


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script.

    A JSON written before the zero-prediction baseline was recorded (no
    ``mse_zero``) says so instead of stating it.
    """
    args = config_of(build_parser(), result)
    rows, real, mse_real = result["rows"], result["real"], result["mse_real"]
    conv = (f" Conv VAE (architecture='conv'): stride-2 levels {tuple(args.conv_channels)} "
            f"with GroupNorm, FC 400-400, {args.conv_epochs} epochs, batch "
            f"{args.conv_batch_size}." if any("conv" in name for name in rows) else "")
    zero = (f"zero {result['mse_zero']:.2f} kPa²" if "mse_zero" in result
            else "zero not recorded in this result")
    lines = [*header("Vessel mask generators against VesselStressSolver", result),
             f"Pool {args.pool_size} masks (seed {args.pool_seed}), held-out test "
             f"{args.test_size} (seed {args.test_seed}); latent dimension {args.latent_dim}; "
             f"VAE 400-400, {args.vae_epochs} epochs; {args.n_draws} prior draws and SI-like "
             f"steps (step {args.step_size} code std along random unit directions from pool "
             f"codes). Fidelity: StressUNet(8-16-32), {args.train_steps} Adam steps, trained on "
             f"{args.n_fidelity} aggregate-prior decodes (canonical masks) vs "
             f"{args.n_fidelity} real pool masks: real {mse_real:.2f} kPa², mean-map "
             f"{result['mse_mean_map']:.2f} kPa², {zero}.{conv}", "",
             "| generator | rec. IoU | rec. accepted | prior N(0,I) accepted | aggregate prior "
             "accepted | SI-step accepted | wall area | lumen area | thinnest wall | test MSE "
             "synthetic | fidelity ratio | fit (s) |", "|---" * 12 + "|"]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['reconstruction_iou_mean']:.3f} | "
            f"{100 * r['reconstruction_accepted']:.1f} % | "
            f"{100 * r['prior_standard_accepted']:.1f} % | "
            f"{100 * r['prior_aggregate_accepted']:.1f} % | "
            f"{100 * r['si_step_accepted']:.1f} % | "
            f"{r['wall_area'][0]:.0f} ± {r['wall_area'][1]:.0f} | "
            f"{r['lumen_area'][0]:.0f} ± {r['lumen_area'][1]:.0f} | "
            f"{r['thinnest_wall'][0]:.1f} ± {r['thinnest_wall'][1]:.1f} | "
            f"{r['mse_synthetic']:.2f} | {r['fidelity_ratio']:.2f} | {r['fit_seconds']:.1f} |")
    lines.append(f"| real test masks | 1 | 100 % | | | | {real['wall_area'][0]:.0f} ± "
                 f"{real['wall_area'][1]:.0f} | {real['lumen_area'][0]:.0f} ± "
                 f"{real['lumen_area'][1]:.0f} | {real['thinnest_wall'][0]:.1f} ± "
                 f"{real['thinnest_wall'][1]:.1f} | {mse_real:.2f} | 1 | |")
    lines += ["", "Accepted = passes the solver's mask check (VesselStressSolver.canonicalize: "
              "values in [0, 1], one wall enclosing one lumen after cleaning). Areas in pixels "
              "(mean ± std over accepted aggregate-prior decodes). Fidelity ratio = test MSE of "
              "the net on synthetic masks / on real masks (one seed). Fit: the generator's "
              "fitting time on the pool."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
