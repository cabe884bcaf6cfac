"""Our baselines against scikit-activeml's, in the same run (MNIST).

hardsample's ``EntropySampler`` and ``CoreSetSampler`` next to scikit-activeml's own
``UncertaintySampling(method="entropy")`` and ``CoreSet``: same pool, test set,
skorch LeNet (same optimizer, epochs, batch size, retrained from scratch each round),
same budgets, same seeds and the same random round-1 labels. Core-set selection uses
the same features on both sides: the pool's codes in the cached MLP VAE's latent
space. Writes ``peers_<tag>.md`` / ``.json``.

scikit-activeml is a benchmark-only dependency, in the ``bench`` extra: ``pip install -e ".[bench]"``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mnist  # noqa: E402  (benchmarks/mnist.py: data loading and the cached VAE)
from _report import config_of, header, paired_lines, write_result  # noqa: E402

ORDER = ("hardsample-entropy", "skactiveml-entropy", "hardsample-coreset", "skactiveml-coreset")


def build_parser():
    parser = argparse.ArgumentParser(
        description="hardsample's entropy and core-set samplers vs scikit-activeml's.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-home", default=None, help="folder of mnist.npz")
    parser.add_argument("--pool-size", type=int, default=10000, help="pool subsample")
    parser.add_argument("--test-size", type=int, default=0, help="test images (0: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds")
    parser.add_argument("--rounds", type=int, default=6, help="rounds")
    parser.add_argument("--initial-size", type=int, default=100, help="round-1 labels")
    parser.add_argument("--round-size", type=int, default=100, help="labels per round")
    parser.add_argument("--epochs", type=int, default=15, help="LeNet epochs per round")
    parser.add_argument("--latent-dim", type=int, default=3, help="VAE latent dimension")
    parser.add_argument("--vae-epochs", type=int, default=20, help="VAE epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output-dir", default=str(HERE / "results"), help="output folder")
    return parser


def make_net(epochs):
    import torch
    from skorch import NeuralNetClassifier

    from hardsample.nets import LeNet

    return NeuralNetClassifier(LeNet, criterion=torch.nn.CrossEntropyLoss,
                               optimizer=torch.optim.Adam, lr=1e-3, max_epochs=epochs,
                               batch_size=64, train_split=None,
                               iterator_train__shuffle=True, verbose=0)


def round_one_labels(X_pool, y_pool, seed, args):
    """The random round-1 labels the meta-estimators draw for ``seed``."""
    from hardsample import LatentHardMiningClassifier

    first = LatentHardMiningClassifier(make_net(1), sampler="random",
                                       initial_size=args.initial_size, random_state=seed)
    return first.partial_fit(X_pool, y_pool).labeled_indices_


def run_peer(name, X_pool, y_pool, codes, X_test, y_test, seed, args):
    """One scikit-activeml strategy: the library's own query, our net and budgets."""
    from sklearn.base import clone
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import CoreSet, UncertaintySampling

    from hardsample._torch import seed_from, torch_seeded

    missing = -1
    rng = np.random.RandomState(seed)
    labeled = round_one_labels(X_pool, y_pool, seed, args)
    y_partial = np.full(len(X_pool), missing)
    y_partial[labeled] = y_pool[labeled]
    query = (UncertaintySampling(method="entropy", missing_label=missing, random_state=seed)
             if name == "skactiveml-entropy"
             else CoreSet(missing_label=missing, random_state=seed))
    records = []
    mining_seconds = 0.0
    for round_number in range(1, args.rounds + 1):
        start = time.perf_counter()
        clf = SklearnClassifier(clone(make_net(args.epochs)), classes=np.arange(10),
                                missing_label=missing)
        with torch_seeded(seed_from(rng)):
            clf.fit(X_pool, y_partial)
        train_seconds = time.perf_counter() - start
        records.append({"strategy": name, "seed": seed, "round": round_number,
                        "n_labeled": int((y_partial != missing).sum()),
                        "score": float(np.mean(clf.predict(X_test) == y_test)),
                        "train_seconds": train_seconds, "mining_seconds": mining_seconds,
                        "labeling_seconds": 0.0})
        if round_number == args.rounds:
            break
        # The next round's selection (its time is reported with that round, as ours).
        start = time.perf_counter()
        if name == "skactiveml-entropy":
            picks = query.query(X_pool, y_partial, clf=clf, fit_clf=False,
                                batch_size=args.round_size)
        else:
            picks = query.query(codes, y_partial, batch_size=args.round_size)
        mining_seconds = time.perf_counter() - start
        y_partial[picks] = y_pool[picks]
    return records


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    from hardsample.curves import markdown_table

    args = config_of(build_parser(), result)
    records, summary = result["records"], result["summary"]
    tag = result.get("tag") or (f"peers_pool{args.pool_size}_r{args.rounds}_"
                                f"{args.initial_size}+{args.round_size}_s{len(args.seeds)}")
    mining = {name: float(np.mean([r["mining_seconds"] for r in records
                                   if r["strategy"] == name and r["round"] > 1] or [0.0]))
              for name in ORDER}
    total = result.get("total_seconds")
    lines = [*header(f"hardsample vs scikit-activeml ({tag})", result),
             f"{result.get('source', 'MNIST')}: pool {result.get('n_pool', args.pool_size)}, "
             f"test {result.get('n_test', args.test_size or 'all')}; LeNet, Adam 1e-3, "
             f"{args.epochs} epochs, batch 64, retrained from scratch; {args.initial_size} + "
             f"{args.round_size}/round, {args.rounds} rounds; seeds {args.seeds}; core-set on "
             f"the VAE's {args.latent_dim}-D codes; total "
             f"{'not recorded' if total is None else '%.1f min' % (total / 60)}.", "",
             markdown_table(summary, title="test accuracy (%), round (labels)"), "",
             "| strategy | mining s/round |", "|---|---|"]
    lines += [f"| {name} | {mining[name]:.3f} |" for name in ORDER]
    lines += ["", *paired_lines(records, "hardsample-entropy")]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv=None):
    import torch
    from sklearn.frozen import FrozenEstimator

    from hardsample import LatentHardMiningClassifier
    from hardsample.curves import run_learning_curves, summarize

    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    args.validation = 0
    X_pool, y_pool, X_test, y_test, source = mnist.load_task(args)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    vae, _, _ = mnist.cached_vae(X_pool, args, output)
    codes = vae.transform(X_pool)

    base = LatentHardMiningClassifier(
        make_net(args.epochs), FrozenEstimator(vae), initial_size=args.initial_size,
        round_size=args.round_size, n_rounds=args.rounds, retrain="scratch")
    ours = {"hardsample-entropy": base.set_params(sampler="entropy"),
            "hardsample-coreset": LatentHardMiningClassifier(**{**base.get_params(deep=False),
                                                                 "sampler": "coreset"})}
    records = run_learning_curves(ours, X_pool, y_pool, X_test, y_test, n_rounds=args.rounds,
                                  seeds=args.seeds, progress=False)
    for name in ("skactiveml-entropy", "skactiveml-coreset"):
        for seed in args.seeds:
            records += run_peer(name, X_pool, y_pool, codes, X_test, y_test, seed, args)
    tag = (f"peers_pool{len(X_pool)}_r{args.rounds}_{args.initial_size}+{args.round_size}"
           f"_s{len(args.seeds)}")
    summary = sorted(summarize(records), key=lambda s: (ORDER.index(s["strategy"]), s["round"]))
    lines = [write_result(output, tag, {
        "config": vars(args), "tag": tag, "source": source, "n_pool": len(X_pool),
        "n_test": len(X_test), "total_seconds": time.perf_counter() - start,
        "records": records, "summary": summary}, render, argv, script="benchmarks/peers.py")]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
