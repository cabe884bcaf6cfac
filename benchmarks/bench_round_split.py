"""Where a round's time goes at the full 60,000-image MNIST pool.

Fits ``LatentHardMiningClassifier`` (the cached MNIST VAE of ``benchmarks/mnist.py``,
latent 3, through ``FrozenEstimator``; LeNet, Adam lr 1e-3, batch 64) once per
strategy and seed, and reads the estimator's own timing:

- once per fit (``setup_seconds_``): encoding the pool, building the latent index;
- per round (``history_``): training, labeling, and mining split into the sampler's
  stages (``mining_split``: ``anchors`` = the net on the labeled set, ``gradient`` =
  decode + back-propagation to the codes, ``neighbors`` = latent index queries,
  ``judging`` = the net on candidates or on the whole pool) plus the rest (building
  the round's state, picking).

No test set is scored. Writes ``results/<tag>.json`` and ``results/<tag>.md``.
"""

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist  # noqa: E402  (benchmarks/mnist.py: data and cached VAE)
from _report import config_of, header, write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
STAGES = ("anchors", "gradient", "neighbors", "judging")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--strategies", nargs="+",
                        default=["random", "nearest", "latent-margin", "entropy"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--initial-size", type=int, default=100)
    parser.add_argument("--round-size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--vae-epochs", type=int, default=20,
                        help="epochs of the cached VAE (that of benchmarks/mnist.py)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output-dir", default=str(RESULTS))
    parser.add_argument("--tag", default=None)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import torch
    from skorch import NeuralNetClassifier
    from sklearn.frozen import FrozenEstimator

    from hardsample.estimators import LatentHardMiningClassifier
    from hardsample.nets import LeNet

    torch.set_num_threads(max(1, args.threads))
    tag = args.tag or (f"round_split_{args.initial_size}+{args.round_size}_r{args.rounds}"
                       f"_s{len(args.seeds)}")
    task_args = mnist.build_parser().parse_args(
        ["--pool-size", "0", "--epochs", str(args.epochs), "--vae-epochs", str(args.vae_epochs)]
        + (["--data-home", args.data_home] if args.data_home else []))
    X_pool, y_pool, _, _, path = mnist.load_task(task_args)
    vae, vae_path, _ = mnist.cached_vae(X_pool, task_args)
    print(f"data {path}: pool {len(X_pool)}; VAE {vae_path.name}", flush=True)
    rows = []
    for seed in args.seeds:
        for strategy in args.strategies:
            net = NeuralNetClassifier(
                LeNet, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                lr=1e-3, max_epochs=args.epochs, batch_size=64, verbose=0)
            clf = LatentHardMiningClassifier(
                net, FrozenEstimator(vae), sampler=strategy, initial_size=args.initial_size,
                round_size=args.round_size, n_rounds=args.rounds, random_state=seed,
            ).fit(X_pool, y_pool)
            for entry in clf.history_[1:]:
                rows.append(dict(strategy=strategy, seed=seed, round=entry["round"],
                                 n_labeled=entry["n_labeled"],
                                 train=entry["train_seconds"],
                                 mining=entry["mining_seconds"],
                                 labeling=entry["labeling_seconds"],
                                 **{stage: entry["mining_split"].get(stage, 0.0)
                                    for stage in STAGES},
                                 setup=dict(clf.setup_seconds_)))
            mean_mining = np.mean([r["mining"] for r in rows[-(args.rounds - 1):]])
            print(f"seed {seed} {strategy}: mining {mean_mining:.3f} s/round, setup "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in clf.setup_seconds_.items()),
                  flush=True)
    write(args, tag, rows, argv)
    return 0


def summarize(rows, strategies):
    """Per strategy: mean seconds per round (rounds >= 2) of every column."""
    table = {}
    for strategy in strategies:
        mine = [r for r in rows if r["strategy"] == strategy]
        columns = ("train", "labeling", "mining") + STAGES
        means = {c: float(np.mean([r[c] for r in mine])) for c in columns}
        means["rest"] = means["mining"] - sum(means[s] for s in STAGES)
        total = np.array([r["train"] + r["mining"] + r["labeling"] for r in mine])
        share = np.array([r["mining"] for r in mine]) / total
        means["mining_share"] = float(share.mean())
        last = max(r["round"] for r in mine)
        means["mining_share_last_round"] = float(np.mean(
            [s for s, r in zip(share, mine) if r["round"] == last]))
        setups = [r["setup"] for r in mine]
        means["encoding"] = float(np.mean([s.get("encoding", 0.0) for s in setups]))
        means["index"] = float(np.mean([s.get("index", 0.0) for s in setups]))
        table[strategy] = means
    return table


def write(args, tag, rows, argv):
    text = write_result(args.output_dir, tag, {
        "config": vars(args), "machine": platform.platform(), "rows": rows,
        "summary": summarize(rows, args.strategies)}, render, argv,
        script="benchmarks/bench_round_split.py")
    print(text)


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    args = config_of(build_parser(), result)
    table = result["summary"]
    last = args.initial_size + (args.rounds - 1) * args.round_size
    lines = [
        *header(f"Where a round's time goes (MNIST, 60,000 pool, {args.initial_size} + "
                f"{args.round_size}/round)", result),
        f"LeNet {args.epochs} epochs, VAE latent 3 (cached), rounds 2-{args.rounds} "
        f"({args.initial_size + args.round_size}-{last} labels), seeds {args.seeds}, torch "
        f"threads {args.threads}; mean seconds per round. Mining stages: anchors = the net "
        "on the labeled set, gradient = decode + back-propagation to the codes, "
        "neighbors = latent index queries, judging = the net on candidates (latent "
        "samplers) or on the whole pool (entropy); rest = building the round's state "
        f"and picking. Machine: {result['machine']} (2 cores, shared with other "
        "benchmark runs: absolute times are inflated, the split within a row is what "
        "this table is for).", "",
        "| strategy | train | labeling | mining | anchors | gradient | neighbors | judging "
        "| rest | mining share of the round (mean; last round) | once per fit: encoding "
        "/ index |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for strategy, m in table.items():
        lines.append(
            f"| {strategy} | {m['train']:.2f} | {m['labeling']:.4f} | {m['mining']:.3f} | "
            + " | ".join(f"{m[s]:.3f}" for s in STAGES)
            + f" | {m['rest']:.3f} | {100 * m['mining_share']:.1f} %; "
            f"{100 * m['mining_share_last_round']:.1f} % | {m['encoding']:.2f} / "
            f"{m['index']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
