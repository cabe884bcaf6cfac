"""Command line: ``hardsample demo`` and ``hardsample bench mnist|vessels|cifar10``."""

import argparse
import sys
import time

import numpy as np


def _digits_task(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from .nets import SmallConvNet

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=500, stratify=y, random_state=0)
    return "digits (scikit-learn, 8x8)", X_pool, y_pool, X_test, y_test, SmallConvNet


def _mnist_task(args):
    from .datasets import load_mnist
    from .nets import LeNet

    data = load_mnist(args.data_home, download=False)
    rng = np.random.RandomState(0)
    pool = rng.choice(len(data.X_train), size=min(args.pool_size, len(data.X_train)), replace=False)
    X_pool = (data.X_train[pool] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    X_test = (data.X_test / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    return (f"MNIST ({data.path}, pool {len(pool)})", X_pool, data.y_train[pool], X_test,
            data.y_test, LeNet)


#: The recommended samplers (margin; its subsampled form for large pools), the baseline and
#: the paper's SNN. On digits the subsampled candidates cover the whole pool: it equals margin.
DEMO_SAMPLERS = ("random", "margin", "subsampled-margin", "nearest")


def run_demo(args):
    import torch
    from skorch import NeuralNetClassifier
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    from .curves import (
        labels_to_reach_by_seed, markdown_table, paired_differences, paired_headline,
        paired_table, reach_table, run_learning_curves, summarize,
    )
    from .estimators import LatentHardMiningClassifier
    from .generators import VAETransformer
    from .plotting import plot_learning_curves
    from .samplers import SAMPLERS

    unknown = [s for s in args.samplers if s not in SAMPLERS]
    if unknown:
        raise SystemExit(f"unknown samplers {unknown}; choose among {sorted(SAMPLERS)}")
    if args.reference not in args.samplers:
        raise SystemExit(f"--reference {args.reference!r} is not among --samplers "
                         f"{args.samplers}")
    torch.set_num_threads(max(1, args.threads))
    start = time.perf_counter()
    task = _mnist_task if args.dataset == "mnist" else _digits_task
    name, X_pool, y_pool, X_test, y_test, module = task(args)
    print(f"data: {name}; pool {len(X_pool)}, test {len(X_test)}")
    print(f"stage 1: VAE (latent {args.latent_dim}) on the unlabeled pool ...", flush=True)
    vae = VAETransformer(latent_dim=args.latent_dim, max_epochs=args.vae_epochs,
                         random_state=0, verbose=args.verbose).fit(X_pool)
    net = NeuralNetClassifier(
        module, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
        lr=args.lr, max_epochs=args.epochs, batch_size=64, train_split=None, verbose=0,
    )
    base = LatentHardMiningClassifier(
        net, FrozenEstimator(vae), initial_size=args.initial_size,
        round_size=args.round_size, n_rounds=args.rounds, retrain=args.retrain,
    )
    strategies = {s: clone(base).set_params(sampler=s) for s in args.samplers}
    seeds = list(range(args.seeds))
    print(f"stage 2: {', '.join(strategies)}; {args.rounds} rounds "
          f"({args.initial_size} + {args.round_size}/round, retrain={args.retrain}), "
          f"seeds {seeds}", flush=True)
    records = run_learning_curves(strategies, X_pool, y_pool, X_test, y_test,
                                  n_rounds=args.rounds, seeds=seeds,
                                  progress=not args.no_progress)
    summary = summarize(records)
    print()
    print(markdown_table(summary, title="test accuracy (%), round (labels)"))
    if len(strategies) > 1:
        paired = paired_differences(records, reference=args.reference)
        print(f"\nPaired by seed (each seed shares round 1 and the net's initialisation "
              f"across strategies): accuracy minus {args.reference}'s\n")
        print(paired_table(paired))
        print(f"\nLabels to reach {args.reference}'s final accuracy of the same seed "
              f"(interpolated between rounds):\n")
        print(reach_table(labels_to_reach_by_seed(records, reference=args.reference,
                                                  target="per-seed")))
        print()
        for strategy in strategies:
            if strategy != args.reference:
                print(paired_headline(paired, strategy))
    ax = plot_learning_curves(summary)
    ax.set_title(f"{name}: mean ± std over {args.seeds} seeds")
    ax.figure.tight_layout()
    ax.figure.savefig(args.output, dpi=120)
    print(f"\nlearning curves written to {args.output}; total {time.perf_counter() - start:.0f} s")
    return 0


BENCHMARKS = ("mnist", "vessels", "cifar10")


def _load_benchmark(name):
    """Import ``benchmarks/<name>.py`` of the source checkout (lazily: torch and data)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    if not path.is_file():
        raise SystemExit(f"benchmark script {path} not found: `hardsample bench` runs from a "
                         "source checkout of hardsample.")
    spec = importlib.util.spec_from_file_location(f"hardsample_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_bench(args):
    return _load_benchmark(args.benchmark).main(args.options)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="hardsample",
        description="Label-efficient deep learning by hardness-aware latent-space sampling.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="random, margin, subsampled margin and SNN on a small real data set (no download)",
        description="Fit a VAE on the unlabeled pool, then compare sampling strategies "
                    "(random, margin, subsampled-margin, the paper's SNN = 'nearest') over "
                    "several seeds: prints per-round test accuracy as mean ± std, the "
                    "paired differences to the reference (per round and in AUC, 95 % t "
                    "intervals over seeds), the labels each needs to reach the reference's "
                    "final accuracy, and writes a learning-curve PNG.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("--dataset", choices=("digits", "mnist"), default="digits",
                      help="digits ships with scikit-learn; mnist reads mnist.npz from "
                           "--data-home or $HARDSAMPLE_DATA")
    demo.add_argument("--data-home", default=None, help="folder holding mnist.npz")
    demo.add_argument("--pool-size", type=int, default=10000, help="MNIST pool size")
    demo.add_argument("--samplers", nargs="+", default=list(DEMO_SAMPLERS),
                      help="registered samplers to compare")
    demo.add_argument("--reference", default="random",
                      help="the sampler the others are paired with")
    demo.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1)")
    demo.add_argument("--rounds", type=int, default=8, help="mining rounds")
    demo.add_argument("--initial-size", type=int, default=30, help="random labels of round 1")
    demo.add_argument("--round-size", type=int, default=30, help="labels added per round")
    demo.add_argument("--latent-dim", type=int, default=3, help="VAE latent dimension")
    demo.add_argument("--vae-epochs", type=int, default=30, help="VAE training epochs")
    demo.add_argument("--epochs", type=int, default=30, help="target-net epochs per round")
    demo.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate of the net")
    demo.add_argument("--retrain", choices=("continue", "scratch"), default="continue",
                      help="the net's training each round (the estimator's retrain)")
    demo.add_argument("--threads", type=int, default=1,
                      help="torch CPU threads (the demo's nets are tiny: on a shared 2-core "
                           "machine, 2 threads were measured several times slower than 1)")
    demo.add_argument("--output", default="hardsample-demo.png", help="learning-curve PNG")
    demo.add_argument("--verbose", type=int, default=0, help="progress of the VAE training")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(func=run_demo)
    bench = commands.add_parser(
        "bench",
        help="benchmarks of the sampling strategies (source checkout)",
        description="Run a benchmark script of benchmarks/; options after the benchmark's "
                    "name go to it (e.g. `hardsample bench mnist --help`).",
    )
    bench.add_argument("benchmark", choices=BENCHMARKS, help="which benchmark")
    bench.add_argument("options", nargs=argparse.REMAINDER,
                       help="options of the benchmark script")
    bench.set_defaults(func=run_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
