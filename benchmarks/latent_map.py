"""The paper's Figure 4: a 2-D latent map with SNN mining trajectories.

MNIST: the paper's MLP VAE with a 2-D latent space and LeNet. CIFAR-10: the α-GAN
with a 2-D latent space (a small CPU configuration) and the small VGG. The generator
is fitted on an unlabeled pool, the net on a few hundred random labels, then SNN is
followed from a few labeled anchors *without* re-drawing them
(:func:`hardsample.samplers.nearest.snn_trajectories`). Writes
``latent_map_<dataset>.png`` (the map coloured by class with the trajectories, and
the real images each trajectory visits) and ``latent_map_<dataset>.json`` (the
configuration and the classes along each path, to see how often a trajectory walks
along a class boundary).

Run ``python benchmarks/latent_map.py --help``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def build_parser():
    parser = argparse.ArgumentParser(
        description="2-D latent map of MNIST with SNN trajectories (paper Figure 4).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist",
                        help="data set (and its generator and net)")
    parser.add_argument("--data-home", default=None, help="folder of mnist.npz / cifar10_subset.npz "
                        "(default: $HARDSAMPLE_DATA)")
    parser.add_argument("--pool-size", type=int, default=10000, help="unlabeled pool size")
    parser.add_argument("--n-labeled", type=int, default=300, help="random labels for LeNet")
    parser.add_argument("--n-paths", type=int, default=6, help="trajectories")
    parser.add_argument("--n-steps", type=int, default=12, help="SNN steps per trajectory")
    parser.add_argument("--step-size", type=float, default=0.5, help="latent step")
    parser.add_argument("--generator-epochs", type=int, default=None,
                        help="generator epochs (default: 20 for the VAE, 4 for the α-GAN)")
    parser.add_argument("--epochs", type=int, default=15, help="LeNet epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of pool, labels and anchors")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--output-dir", default=str(RESULTS), help="where files are written")
    return parser


def load_task(args):
    """Images ``(n, c, h, w)`` in [0, 1], labels, test split, generator and net module."""
    from hardsample.datasets import load_cifar10, load_mnist
    from hardsample.generators import AlphaGANTransformer, VAETransformer
    from hardsample.nets import LeNet, vgg_small

    if args.dataset == "mnist":
        data = load_mnist(args.data_home, download=False)
        to_images = lambda X: (X / 255.0).astype(np.float32)[:, None]  # noqa: E731
        generator = VAETransformer(latent_dim=2, max_epochs=args.generator_epochs or 20,
                                   random_state=args.seed)
        return data, to_images, generator, LeNet
    data = load_cifar10(args.data_home, download=False)
    to_images = lambda X: X.transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # noqa: E731
    generator = AlphaGANTransformer(latent_dim=2, channels=16, lr=1e-3, batch_size=32,
                                    lambda_adv=0.1, max_epochs=args.generator_epochs or 4,
                                    random_state=args.seed)
    return data, to_images, generator, vgg_small


def _provenance(argv):
    from hardsample.provenance import provenance

    return provenance(argv)


def main(argv=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from skorch import NeuralNetClassifier

    from hardsample.plotting import plot_latent_map
    from hardsample.samplers.nearest import snn_trajectories

    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rng = np.random.RandomState(args.seed)
    data, to_images, generator, module = load_task(args)
    pool = rng.choice(len(data.X_train), size=min(args.pool_size, len(data.X_train)),
                      replace=False)
    X = to_images(data.X_train[pool])
    y = data.y_train[pool]

    generator.fit(X)
    codes = generator.transform(X)
    labeled = rng.choice(len(X), size=args.n_labeled, replace=False)
    net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-3, max_epochs=args.epochs,
                              batch_size=64, train_split=None, iterator_train__shuffle=True,
                              verbose=0)
    torch.manual_seed(args.seed)
    net.fit(X[labeled], y[labeled])
    anchors = rng.choice(labeled, size=args.n_paths, replace=False)
    paths = snn_trajectories(net, generator, codes, y, anchors, n_steps=args.n_steps,
                             step_size=args.step_size)

    fig = plt.figure(figsize=(13, 6))
    map_ax = fig.add_axes([0.05, 0.1, 0.45, 0.8])
    plot_latent_map(codes, y, paths, ax=map_ax)
    name = {"mnist": "MNIST latent space (VAE, 2-D)",
            "cifar10": "CIFAR-10 latent space (α-GAN, 2-D)"}[args.dataset]
    map_ax.set_title(f"{name}, {args.n_paths} SNN trajectories")
    n_cols = args.n_steps + 1
    for row, path in enumerate(paths):
        for col, index in enumerate(path):
            ax = fig.add_axes([0.53 + col * 0.45 / n_cols, 0.82 - row * 0.72 / len(paths),
                               0.45 / n_cols * 0.95, 0.72 / len(paths) * 0.95])
            image = X[index].transpose(1, 2, 0)
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image,
                      cmap="gray_r" if image.shape[-1] == 1 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(chr(ord("a") + row), rotation=0, labelpad=10, weight="bold")
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    stem = f"latent_map_{args.dataset}"
    fig.savefig(output / f"{stem}.png", dpi=110)
    classes = y[paths]
    report = {
        "provenance": _provenance(["benchmarks/latent_map.py",
                                  *(sys.argv[1:] if argv is None else argv)]),
        "config": vars(args),
        "test_accuracy_of_net": float(net.score(to_images(data.X_test[:2000]),
                                                data.y_test[:2000])),
        "paths": paths.tolist(),
        "classes_along_paths": classes.tolist(),
        "class_changes_per_path": [int((np.diff(c) != 0).sum()) for c in classes],
        "seconds": time.perf_counter() - start,
    }
    (output / f"{stem}.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {output / f'{stem}.png'} in {report['seconds']:.0f} s; "
          f"class changes per path: {report['class_changes_per_path']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
