"""Command line: ``hardsample demo``, ``hardsample bench mnist|vessels|cifar10`` and
``hardsample label``."""

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


LOOPBACK = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}


def _image_shape(text):
    """argparse type of --image-shape: "28x28" -> (28, 28), "32x32x3" -> (32, 32, 3)."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW or HxWxC (e.g. 28x28)")
    return shape


def _class_values(values):
    """--classes as integers when every one looks like an integer, else as given."""
    try:
        return [int(v) for v in values]
    except ValueError:
        return list(values)


def label_app(args, on_save=None):
    """The labeling page's app for ``hardsample label``'s arguments.

    Reads only the saved run's public ``pending_`` and ``classes_`` (``--classes``
    overrides the latter) and the pool as a read-only memory map.
    """
    import joblib

    from .labeling import make_app

    try:
        run = joblib.load(args.run)
    except FileNotFoundError:
        raise SystemExit(f"hardsample label: run file {args.run} does not exist") from None
    pending = getattr(run, "pending_", None)
    if pending is None:
        raise SystemExit(f"hardsample label: {args.run} holds a {type(run).__name__} without "
                         "pending_: save the estimator after a partial_fit that stopped at "
                         "a pending batch")
    if len(pending) == 0:
        raise SystemExit(f"hardsample label: {args.run} has no pending sample (pending_ is "
                         "empty): nothing to label")
    classes = _class_values(args.classes) if args.classes else getattr(run, "classes_", None)
    if classes is None:
        raise SystemExit(f"hardsample label: {args.run} has no classes_ (a regressor?): "
                         "give the classes with --classes")
    try:
        pool = np.load(args.pool, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise SystemExit(f"hardsample label: pool file {args.pool} does not exist") from None
    except ValueError as exc:
        raise SystemExit(f"hardsample label: cannot read the pool {args.pool}: {exc}") from None
    try:
        return make_app(pool, pending, classes, args.labels, image_shape=args.image_shape,
                        on_save=on_save)
    except ValueError as exc:
        raise SystemExit(f"hardsample label: {exc}") from None


def run_label(args):
    import socket

    import uvicorn

    if args.host not in LOOPBACK:
        raise SystemExit(f"hardsample label: --host {args.host!r} refused: the page serves "
                         f"the loopback only ({', '.join(LOOPBACK)})")
    host = LOOPBACK[args.host]
    server = None

    def on_save(summary):
        print(f"saved: {summary['labeled']} of {summary['pending']} pending samples "
              f"labeled, {summary['in_file']} labels in {summary['path']}", flush=True)
        if args.exit_after_save:
            server.should_exit = True

    app = label_app(args, on_save=on_save)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart right after Ctrl-C
    try:
        sock.bind((host, args.port))
        sock.listen(128)  # connections wait in the backlog from the moment the URL is shown
    except OSError as exc:
        sock.close()
        raise SystemExit(f"hardsample label: cannot listen on {host}:{args.port} ({exc}); "
                         "choose another --port") from None
    port = sock.getsockname()[1]
    url = f"http://[{host}]:{port}/" if family == socket.AF_INET6 else f"http://{host}:{port}/"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    print(f"labeling page: {url}  (Ctrl-C to stop)", flush=True)
    server.run(sockets=[sock])
    print(f"labels file: {args.labels}; read it back with "
          f"y = hardsample.labeling.apply_labels(y, {str(args.labels)!r})")
    return 0


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
    label = commands.add_parser(
        "label",
        help="a labeling page for a saved run's pending samples (127.0.0.1 only)",
        description="Serve a labeling page on the loopback for the pending samples of a "
                    "run saved with joblib (its pending_ and classes_). Answers are saved "
                    "to a CSV labels file (index,label), merged with the labels already "
                    "in it; hardsample.labeling.apply_labels reads it into y. Load only "
                    "run files you saved: joblib files are pickles.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    label.add_argument("run", help="the fitted estimator, saved with joblib.dump")
    label.add_argument("--pool", required=True,
                       help="the pool as a .npy file (read as a memory map, no pickles)")
    label.add_argument("--labels", required=True, help="labels file (CSV) to write")
    label.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    label.add_argument("--host", default="127.0.0.1",
                       help="loopback address to listen on (127.0.0.1, ::1 or localhost)")
    label.add_argument("--image-shape", type=_image_shape, default=None,
                       help="show each sample as an HxW or HxWxC image (e.g. 28x28); by "
                            "default 2-D and 3-D samples are images, 1-D a table")
    label.add_argument("--classes", nargs="+", default=None,
                       help="the classes to choose among; without it, the run's classes_")
    label.add_argument("--exit-after-save", action="store_true",
                       help="stop serving after the first save")
    label.set_defaults(func=run_label)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
