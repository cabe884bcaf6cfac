"""CIFAR-10 benchmark: SNN against random and entropy sampling, with the α-GAN.

Stage 1 fits the paper's α-GAN (latent 3) once on the unlabeled pool (or a subset of
it) and caches it in the per-user cache folder (``benchmarks/_cache.py``), keyed by
its settings and data (``cifar10_alphagan_<key>_e<epochs>.pt``; an unfinished fit
resumes from its checkpoint ``cifar10_alphagan_<key>.pt``); every strategy shares it through
``sklearn.frozen.FrozenEstimator``. Stage 2, the study runner
(``benchmarks/_study.py``), runs each strategy with the VGG-style net for every seed
and writes, after every seed,

- ``<tag>_records.csv`` / ``<tag>.json``: one record per (strategy, seed, round),
  plus the configuration, summary, AUC, timing and generator quality in the JSON;
- ``<tag>.md``: the paper's Table 1 layout (mean ± std test accuracy per round), the
  AUC table, the α-GAN quality (test reconstruction MSE against the mean-image
  baseline, seconds per epoch) and the per-round split of training and mining time;
- ``<tag>.png``: the learning curves; ``<tag>_gan.png``: test images, their
  α-GAN reconstructions and samples from the prior.

Defaults are the paper's scale (pool of all 20,000 training images of
``cifar10_subset.npz``, all 10,000 test images, VGG width 1, α-GAN channels 64,
10 rounds, 5 seeds), meant for a GPU (``--device cuda``). A reduced CPU run::

    hardsample bench cifar10 --pool-size 5000 --test-size 2000 --gan-channels 16 \\
        --gan-epochs 2 --vgg-width 0.25 --rounds 5 --initial-size 100 \\
        --round-size 100 --epochs 10 --seeds 0 1

Run ``python benchmarks/cifar10.py --help`` or ``hardsample bench cifar10 --help``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cache import cache_dir, load_model, save_model, settings_key  # noqa: E402
from _report import (  # noqa: E402
    config_of, header, merged_runs_lines, paired_lines, partial_run_lines, timing_tables)
from _strategies import check_strategies, specs_from  # noqa: E402
from _study import (  # noqa: E402
    Study, accuracy, add_protocol_arguments, classifier, merge_study, run_study)

DEFAULT_STRATEGIES = ("nearest", "random", "entropy", "latent-entropy")
RESULTS = Path(__file__).resolve().parent / "results"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="hardsample bench cifar10",
        description="Compare sampling strategies on CIFAR-10 (α-GAN latent 3 + VGG).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-home", default=None, help="folder of cifar10.npz or "
                        "cifar10_subset.npz (default: $HARDSAMPLE_DATA)")
    parser.add_argument("--pool-size", type=int, default=0,
                        help="pool: a random subsample of the training set (0: all)")
    parser.add_argument("--test-size", type=int, default=0,
                        help="test images scored per round (0: all 10,000)")
    parser.add_argument("--strategies", nargs="+", default=None,
                        help="registered sampler NAMEs, each optionally NAME+INITIAL: round 1 "
                        "chosen by INITIAL = CRITERION@SPACE (typiclust or centroid @ latent "
                        "or pca), e.g. 'latent-margin+typiclust@pca'; without it round 1 is "
                        "random. Default: those of "
                        f"{list(DEFAULT_STRATEGIES)} that are registered")
    add_protocol_arguments(parser, STUDY, rounds=10, initial_size=1000, round_size=1000,
                           output_dir=str(RESULTS))
    parser.add_argument("--epochs", type=int, default=30, help="VGG epochs per round")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the net")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--vgg-width", type=float, default=1.0,
                        help="VGG channel multiplier (1: the paper's net; 0.25 on a CPU)")
    parser.add_argument("--retrain", choices=("scratch", "continue"), default="scratch")
    parser.add_argument("--step-size", type=float, default=1.0, help="latent step (SNN and "
                        "latent-entropy)")
    parser.add_argument("--latent-dim", type=int, default=3)
    parser.add_argument("--gan-channels", type=int, default=64,
                        help="width of the α-GAN's residual stacks (paper: 64)")
    parser.add_argument("--gan-epochs", type=int, default=30)
    parser.add_argument("--gan-batch-size", type=int, default=64)
    parser.add_argument("--gan-lr", type=float, default=2e-4)
    parser.add_argument("--gan-lambda-rec", type=float, default=10.0)
    parser.add_argument("--gan-lambda-adv", type=float, default=1.0)
    parser.add_argument("--gan-train-size", type=int, default=0,
                        help="pool images the α-GAN is fitted on (0: the whole pool)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="do not run: merge the records of earlier runs of this script "
                        "with the same settings (e.g. seeds run side by side) into one report")
    parser.add_argument("--paired-references", nargs="+", default=["random"], metavar="NAME",
                        help="report every strategy's per-seed paired differences to each of "
                        "these strategies (e.g. a latent strategy's same-cost control)")
    return parser


def to_images(X):
    """HWC uint8 -> NCHW float32 in [0, 1]."""
    return (X.transpose(0, 3, 1, 2) / 255.0).astype(np.float32)


def load_task(args):
    from hardsample.datasets import load_cifar10

    data = load_cifar10(args.data_home, download=False)
    n_train = len(data.X_train)
    rng = np.random.RandomState(0)
    if 0 < args.pool_size < n_train:
        pool = np.sort(rng.choice(n_train, size=args.pool_size, replace=False))
    else:
        pool = np.arange(n_train)
    test = np.arange(len(data.X_test))
    if 0 < args.test_size < len(test):
        test = np.sort(rng.choice(len(test), size=args.test_size, replace=False))
    return (to_images(data.X_train[pool]), data.y_train[pool].astype(np.int64),
            to_images(data.X_test[test]), data.y_test[test].astype(np.int64), str(data.path))


def cached_gan(X_pool, args):
    """The α-GAN fitted on the pool, loaded from the per-user cache when its settings match."""
    from sklearn.base import clone

    from hardsample._validation import fingerprint
    from hardsample.generators import AlphaGANTransformer

    X_fit = X_pool
    if 0 < args.gan_train_size < len(X_pool):
        rng = np.random.RandomState(1)
        X_fit = X_pool[np.sort(rng.choice(len(X_pool), args.gan_train_size, replace=False))]
    params = dict(latent_dim=args.latent_dim, channels=args.gan_channels,
                  batch_size=args.gan_batch_size, lr=args.gan_lr,
                  lambda_rec=args.gan_lambda_rec, lambda_adv=args.gan_lambda_adv,
                  random_state=0)
    settings = dict(params, data=fingerprint(X_fit))
    key, folder = settings_key(settings), cache_dir()
    path = folder / f"cifar10_alphagan_{key}_e{args.gan_epochs}.pt"
    template = AlphaGANTransformer(**params, max_epochs=args.gan_epochs, device=args.device)
    if path.is_file():
        try:
            return load_model(path, template, settings), path, len(X_fit), True
        except ValueError as exc:
            print(f"cache {path} not used ({exc}); fitting again", flush=True)
    # The checkpoint's key leaves out the epochs: a longer run resumes a shorter one.
    gan = clone(template).set_params(verbose=0 if args.no_progress else 2,
                                     checkpoint=folder / f"cifar10_alphagan_{key}.pt")
    gan.fit(X_fit)
    gan.set_params(checkpoint=None, verbose=0)
    save_model(path, gan, X_fit, settings)
    return gan, path, len(X_fit), False


def gan_quality(gan, X_pool, X_test):
    """Test reconstruction MSE against the mean-image baseline, and time per epoch."""
    rec = gan.reconstruction_error(X_test)
    baseline = float(np.mean((X_test - X_pool.mean(0)) ** 2))
    seconds = list(getattr(gan, "epoch_seconds_", []))
    return dict(test_reconstruction_mse=rec, mean_image_mse=baseline,
                train_l1_curve=list(gan.loss_curve_), n_epochs=int(gan.n_epochs_),
                seconds_per_epoch=float(np.mean(seconds)) if seconds else None)


def plot_gan_grid(gan, X_test, path, n=10):
    """Rows: test images, their reconstructions, prior samples (two rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    originals = X_test[:n]
    rows = [originals, gan.inverse_transform(gan.transform(originals)),
            gan.sample(n, random_state=0), gan.sample(n, random_state=1)]
    names = ["test", "reconstruction", "prior sample", "prior sample"]
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 1.0, len(rows) * 1.1))
    for r, (row, name) in enumerate(zip(rows, names)):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.clip(row[c].transpose(1, 2, 0), 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    from hardsample.curves import markdown_table, summarize

    records, args, extra = result["records"], config_of(build_parser(), result), result
    summary = summarize(records)
    derived = summaries(records)
    auc, timing = derived["auc"], derived["timing"]
    q = extra["gan_quality"]
    per_epoch = ("n/a (loaded from cache, not timed)" if q["seconds_per_epoch"] is None
                 else f"{q['seconds_per_epoch']:.1f} s")
    lines = [
        *header(f"CIFAR-10 benchmark ({extra['tag']})", extra),
        f"data {extra['data_path']}; pool {extra['n_pool']} (seed-0 subsample of the "
        f"training set), test {extra['n_test']}; α-GAN latent {args.latent_dim}, channels "
        f"{args.gan_channels}, {q['n_epochs']} epochs on {extra['n_gan_train']} pool images, "
        f"batch {args.gan_batch_size}, lr {args.gan_lr}, lambda_rec {args.gan_lambda_rec}, "
        f"lambda_adv {args.gan_lambda_adv} ({'cache' if extra['gan_cached'] else 'fitted'}: "
        f"{extra['gan_path']}); VGG width {args.vgg_width}, Adam lr {args.lr}, {args.epochs} "
        f"epochs, batch {args.batch_size}, retrain={args.retrain}; {args.initial_size} + "
        f"{args.round_size}/round, {args.rounds} rounds; seeds {args.seeds}; step size "
        f"{args.step_size}; device {args.device}; torch threads {args.threads}; total "
        f"{extra['total_seconds'] / 60:.1f} min.", "",
        *merged_runs_lines(extra, "Merged runs (seeds run side by side)"),
        *partial_run_lines(args.seeds, extra.get("seeds_planned")),
        markdown_table(summary, title="test accuracy (%), round (labels)"), "",
        "| strategy | AUC (%) |", "|---|---|",
    ]
    lines += [f"| {name} | {100 * value:.2f} |" for name, value in auc.items()]
    for reference in args.paired_references:
        lines += ["", *paired_lines(records, reference)]
    lines += [
        "", "## α-GAN quality", "",
        f"- test reconstruction MSE per pixel (values in [0, 1]): "
        f"{q['test_reconstruction_mse']:.4f} (mean-image baseline: {q['mean_image_mse']:.4f})",
        f"- training L1 per epoch: {', '.join(f'{v:.4f}' for v in q['train_l1_curve'])}",
        f"- time per epoch: {per_epoch}; fit time "
        f"{'n/a (cached)' if extra['gan_cached'] else '%.0f s' % extra['gan_seconds']}",
        "", "## Time per round", "",
        *timing_tables(records, timing),
    ]
    return "\n".join(lines) + "\n"


#: Settings the runs merged by ``--merge`` must share.
MERGE_KEYS = ("pool_size", "test_size", "rounds", "initial_size", "round_size", "epochs", "lr",
              "batch_size", "vgg_width", "retrain", "step_size", "latent_dim", "gan_channels",
              "gan_epochs", "gan_batch_size", "gan_lr", "gan_lambda_rec", "gan_lambda_adv",
              "gan_train_size", "strategies")
#: What a result states about its data and α-GAN (kept by a merged report).
DATA_FACTS = ("data_path", "n_pool", "n_test", "n_gan_train", "gan_cached", "gan_path",
              "gan_seconds", "gan_quality")


def load(args):
    """Pool, test set, the α-GAN (cached) and the estimator every row clones."""
    import torch
    from skorch import NeuralNetClassifier
    from sklearn.frozen import FrozenEstimator

    from _study import StudyData
    from hardsample.estimators import LatentHardMiningClassifier
    from hardsample.nets import VGGNet

    X_pool, y_pool, X_test, y_test, data_path = load_task(args)
    print(f"data: {data_path}; pool {len(X_pool)}, test {len(X_test)}", flush=True)
    tic = time.perf_counter()
    gan, gan_path, n_gan_train, cached = cached_gan(X_pool, args)
    gan_seconds = time.perf_counter() - tic
    quality = gan_quality(gan, X_pool, X_test)
    print(f"stage 1: α-GAN {'from cache' if cached else 'fitted in %.0f s' % gan_seconds} "
          f"({gan_path.name}); test reconstruction MSE {quality['test_reconstruction_mse']:.4f} "
          f"(mean image {quality['mean_image_mse']:.4f})", flush=True)
    net = NeuralNetClassifier(
        VGGNet, module__width=args.vgg_width, criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam, lr=args.lr, max_epochs=args.epochs,
        batch_size=args.batch_size, device=args.device, verbose=0,
    )
    base = LatentHardMiningClassifier(
        net, FrozenEstimator(gan), initial_size=args.initial_size,
        round_size=args.round_size, n_rounds=args.rounds, retrain=args.retrain,
    )
    info = dict(data_path=data_path, n_pool=len(X_pool), n_test=len(X_test),
                n_gan_train=n_gan_train, gan_cached=cached, gan_path=gan_path.name,
                gan_seconds=0.0 if cached else gan_seconds, gan_quality=quality)
    return StudyData(X_pool, X_test, y_test, y_pool=y_pool, info=info,
                     context={"base": base, "gan": gan})


def default_tag(args, data):
    return (f"cifar10_pool{len(data.X_pool)}_r{args.rounds}_{args.initial_size}+"
            f"{args.round_size}_s{len(args.seeds)}_e{args.epochs}"
            f"_w{args.vgg_width:g}_g{args.gan_channels}")


def figures(result, args, data):
    """The learning curves; and test images, their α-GAN reconstructions and samples."""
    from hardsample.plotting import plot_learning_curves

    output_dir = Path(args.output_dir)
    ax = plot_learning_curves(result["summary"])
    ax.set_title(f"CIFAR-10, pool {result['n_pool']}: mean ± std over {len(args.seeds)} seeds")
    ax.figure.tight_layout()
    ax.figure.savefig(output_dir / f"{args.tag}.png", dpi=120)
    if data is not None:
        plot_gan_grid(data.context["gan"], data.X_test, output_dir / f"{args.tag}_gan.png")


def summaries(records):
    from hardsample.curves import area_under_curve, seconds_per_round, summarize

    return {"auc": area_under_curve(summarize(records)), "timing": seconds_per_round(records)}


STUDY = Study(
    script="benchmarks/cifar10.py", load=load, estimator=classifier,
    strategies=lambda args: specs_from(args.strategies, args.step_size), reference="random",
    score=accuracy, greater_is_better=True, render=render, tag=default_tag,
    summaries=summaries, figures=figures)


def main(argv=None):
    args = build_parser().parse_args(argv)
    from hardsample.samplers import SAMPLERS

    if args.merge:
        return merge_study(STUDY, args, argv, keys=MERGE_KEYS, copied=DATA_FACTS,
                           overrides=("paired_references",))
    if args.strategies is None:
        args.strategies = [s for s in DEFAULT_STRATEGIES if s in SAMPLERS]
    check_strategies(args.strategies)
    return run_study(STUDY, args, argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
