"""The paper's Figure 4: a 2-D latent map of MNIST with SNN mining trajectories.

Fits the paper's MLP VAE with a 2-D latent space on an unlabeled MNIST pool, trains
LeNet on a few hundred random labels, then follows SNN from a few labeled anchors
*without* re-drawing them (:func:`hardsample.samplers.nearest.snn_trajectories`).
Writes ``latent_map_mnist.png`` (the map coloured by class with the trajectories,
and the real images each trajectory visits) and ``latent_map_mnist.json`` (the
configuration and the classes along each path, to see how often a trajectory walks
along a class boundary).

Run ``python benchmarks/latent_map.py --help``.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def build_parser():
    parser = argparse.ArgumentParser(
        description="2-D latent map of MNIST with SNN trajectories (paper Figure 4).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-home", default=None, help="folder of mnist.npz "
                        "(default: $HARDSAMPLE_DATA)")
    parser.add_argument("--pool-size", type=int, default=10000, help="unlabeled pool size")
    parser.add_argument("--n-labeled", type=int, default=300, help="random labels for LeNet")
    parser.add_argument("--n-paths", type=int, default=6, help="trajectories")
    parser.add_argument("--n-steps", type=int, default=12, help="SNN steps per trajectory")
    parser.add_argument("--step-size", type=float, default=0.5, help="latent step")
    parser.add_argument("--vae-epochs", type=int, default=20, help="VAE training epochs")
    parser.add_argument("--epochs", type=int, default=15, help="LeNet epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of pool, labels and anchors")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--output-dir", default=str(RESULTS), help="where files are written")
    return parser


def main(argv=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from skorch import NeuralNetClassifier

    from hardsample.datasets import load_mnist
    from hardsample.generators import VAETransformer
    from hardsample.nets import LeNet
    from hardsample.plotting import plot_latent_map
    from hardsample.samplers.nearest import snn_trajectories

    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rng = np.random.RandomState(args.seed)
    mnist = load_mnist(args.data_home, download=False)
    pool = rng.choice(len(mnist.X_train), size=args.pool_size, replace=False)
    X = (mnist.X_train[pool] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = mnist.y_train[pool]

    vae = VAETransformer(latent_dim=2, max_epochs=args.vae_epochs,
                         random_state=args.seed).fit(X)
    codes = vae.transform(X)
    labeled = rng.choice(len(X), size=args.n_labeled, replace=False)
    net = NeuralNetClassifier(LeNet, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-3, max_epochs=args.epochs,
                              batch_size=64, train_split=None, iterator_train__shuffle=True,
                              verbose=0)
    torch.manual_seed(args.seed)
    net.fit(X[labeled], y[labeled])
    anchors = rng.choice(labeled, size=args.n_paths, replace=False)
    paths = snn_trajectories(net, vae, codes, y, anchors, n_steps=args.n_steps,
                             step_size=args.step_size)

    fig = plt.figure(figsize=(13, 6))
    map_ax = fig.add_axes([0.05, 0.1, 0.45, 0.8])
    plot_latent_map(codes, y, paths, ax=map_ax)
    map_ax.set_title(f"MNIST latent space (VAE, 2-D), {args.n_paths} SNN trajectories")
    n_cols = args.n_steps + 1
    for row, path in enumerate(paths):
        for col, index in enumerate(path):
            ax = fig.add_axes([0.53 + col * 0.45 / n_cols, 0.82 - row * 0.72 / len(paths),
                               0.45 / n_cols * 0.95, 0.72 / len(paths) * 0.95])
            ax.imshow(X[index, 0], cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(chr(ord("a") + row), rotation=0, labelpad=10, weight="bold")
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    fig.savefig(output / "latent_map_mnist.png", dpi=110)
    classes = y[paths]
    report = {
        "config": vars(args),
        "test_accuracy_of_net": float(net.score((mnist.X_test / 255.0).astype(np.float32)
                                                .reshape(-1, 1, 28, 28), mnist.y_test)),
        "paths": paths.tolist(),
        "classes_along_paths": classes.tolist(),
        "class_changes_per_path": [int((np.diff(c) != 0).sum()) for c in classes],
        "seconds": time.perf_counter() - start,
    }
    (output / "latent_map_mnist.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {output / 'latent_map_mnist.png'} in {report['seconds']:.0f} s; "
          f"class changes per path: {report['class_changes_per_path']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
