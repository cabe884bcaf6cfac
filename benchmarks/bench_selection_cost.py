"""Selection (mining) cost of one round, side by side, at pool sizes 60k and 1M.

For each pool size, builds one :class:`hardsample.samplers.MiningState` (the state a
``LatentHardMiningClassifier`` hands its sampler in a round) and times
``sampler.propose(state, round_size, random_state)`` for every strategy, the
strategies interleaved within each repeat so that machine load hits them alike.

- Pools: ``60k`` = the MNIST training images; ``1M`` = the MNIST training images
  tiled (17 copies, the first 1,000,000 rows kept), every copy but the first shifted
  by a random integer offset of up to +-2 pixels in each direction (``np.roll``) and
  given Gaussian pixel noise (sigma 0.05, clipped to [0, 1]); built in chunks.
- Latent codes: the MNIST VAE of ``benchmarks/mnist.py`` (latent 3, ``--vae-epochs``
  epochs on its ``--vae-pool-size`` pool; from the per-user cache when that run fitted
  it) encodes the pool in batches of 50,000; the
  latent index (``LatentIndex``, built once per fit by the estimator, not per round)
  is timed separately.
- Net: LeNet (as in ``benchmarks/mnist.py``: Adam lr 1e-3, batch 64) trained for
  ``--epochs`` epochs on ``--n-labeled`` random pool samples; those are the labeled
  set (excluded from the pool).
- Timed: only ``propose`` (scoring, anchors, latent step, index queries); torch threads
  ``--threads``.

Writes ``results/selection_cost.json`` and ``results/selection_cost.md``.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist  # noqa: E402  (benchmarks/mnist.py: data and cached VAE)
from _report import config_of, header, write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--pool-sizes", type=int, nargs="+", default=[60000, 1000000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--round-size", type=int, default=100)
    parser.add_argument("--n-labeled", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--vae-pool-size", type=int, default=0,
                        help="pool of benchmarks/mnist.py the VAE is fitted on (0: all 60k)")
    parser.add_argument("--vae-epochs", type=int, default=20)
    parser.add_argument("--output-dir", default=str(RESULTS))
    parser.add_argument("--tag", default="selection_cost")
    parser.add_argument("--reference", default="margin",
                        help="strategy the ratios are taken to (full-pool margin)")
    parser.add_argument("--skip", nargs="*", default=[],
                        help="strategies (first word of the label) not to time, e.g. entropy "
                        "(as costly as margin: one forward pass over the pool)")
    return parser


def strategies():
    """Label -> sampler object (the latent ones with their configuration in the label)."""
    from hardsample.samplers import (EntropySampler, LatentEntropySampler, LatentMarginSampler,
                                     MarginSampler, NearestNeighborSampler,
                                     SubsampledMarginSampler)

    return {
        "margin": MarginSampler(),
        "entropy": EntropySampler(),
        "nearest": NearestNeighborSampler(step_size=1.0),
        "latent-entropy (16 cand.)": LatentEntropySampler(),
        "latent-margin (default: margin, 64 cand., global, step 1.0)": LatentMarginSampler(),
        "subsampled-margin (its same-cost control: margin over 64 uniform cand. per label)":
            SubsampledMarginSampler(),
    }


def make_pool(X, size, seed=0, chunk=60000):
    """``size`` images: ``X`` first, then shifted + noisy copies of it (see module doc)."""
    if size <= len(X):
        return X[:size].copy()
    rng = np.random.RandomState(seed)
    pool = np.empty((size,) + X.shape[1:], dtype=np.float32)
    pool[:len(X)] = X
    start = len(X)
    while start < size:
        stop = min(size, start + chunk)
        part = X[:stop - start]
        dy, dx = rng.randint(-2, 3, size=2)
        part = np.roll(part, (int(dy), int(dx)), axis=(2, 3))
        part = part + rng.normal(0, 0.05, size=part.shape).astype(np.float32)
        pool[start:stop] = np.clip(part, 0.0, 1.0)
        start = stop
    return pool


def encode(vae, X, batch=50000):
    return np.concatenate([np.asarray(vae.transform(X[i:i + batch]), dtype=np.float32)
                           for i in range(0, len(X), batch)])


def main(argv=None):
    args = build_parser().parse_args(argv)
    import torch
    from skorch import NeuralNetClassifier

    from hardsample.datasets import load_mnist
    from hardsample.neighbors import LatentIndex
    from hardsample.nets import LeNet
    from hardsample.samplers import MiningState

    torch.set_num_threads(max(1, args.threads))
    task_args = mnist.build_parser().parse_args(
        ["--pool-size", str(args.vae_pool_size), "--vae-epochs", str(args.vae_epochs)]
        + (["--data-home", args.data_home] if args.data_home else []))
    vae, vae_path, _ = mnist.cached_vae(mnist.load_task(task_args)[0], task_args)
    args.vae = vae_path.name  # the report names the VAE's cache file
    data = load_mnist(args.data_home, download=False)
    X_train = (data.X_train / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y_train = data.y_train.astype(np.int64)
    samplers = {name: sampler for name, sampler in strategies().items()
                if name.split(" ")[0] not in args.skip}
    if args.reference not in samplers:
        raise SystemExit(f"--reference {args.reference!r} is not among {list(samplers)}")
    results = {"config": vars(args), "machine": platform.platform(),
               "processor": platform.processor(), "pools": {}}
    for size in args.pool_sizes:
        t0 = time.perf_counter()
        X_pool = make_pool(X_train, size)
        y_pool = np.tile(y_train, -(-size // len(y_train)))[:size]
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        codes = encode(vae, X_pool)
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = LatentIndex().fit(codes)
        index_s = time.perf_counter() - t0
        rng = np.random.RandomState(0)
        labeled = np.sort(rng.choice(size, args.n_labeled, replace=False))
        torch.manual_seed(0)
        net = NeuralNetClassifier(LeNet, criterion=torch.nn.CrossEntropyLoss,
                                  optimizer=torch.optim.Adam, lr=1e-3, max_epochs=args.epochs,
                                  batch_size=64, train_split=None, verbose=0)
        net.fit(X_pool[labeled], y_pool[labeled])
        excluded = np.zeros(size, dtype=bool)
        excluded[labeled] = True
        state = MiningState(
            X_pool=X_pool, latent_codes=codes, excluded=excluded, X_labeled=X_pool[labeled],
            y_labeled=y_pool[labeled], z_labeled=codes[labeled], net=net, generator=vae,
            latent_index=index,
        )
        print(f"pool {size}: built {build_s:.1f} s, encoded {encode_s:.1f} s, index "
              f"({index.method_}) {index_s:.2f} s", flush=True)
        times = {name: [] for name in samplers}
        for repeat in range(args.repeats):
            for name, sampler in samplers.items():
                t0 = time.perf_counter()
                proposal = sampler.propose(state, args.round_size,
                                           np.random.RandomState(repeat))
                times[name].append(time.perf_counter() - t0)
                assert len(np.unique(proposal.indices)) == args.round_size
                assert not excluded[proposal.indices].any()
                print(f"  repeat {repeat} {name}: {times[name][-1]:.3f} s", flush=True)
            ref = float(np.mean(times[args.reference]))
            results["pools"][str(size)] = {
                "build_seconds": build_s, "encode_seconds": encode_s,
                "index_seconds": index_s, "index_method": index.method_,
                "repeats_done": repeat + 1,
                "strategies": {name: {"seconds": t, "mean": float(np.mean(t)),
                                      "std": float(np.std(t)),
                                      "ratio_to_reference": float(np.mean(t)) / ref}
                               for name, t in times.items()},
            }
            write(results, samplers, args, argv)  # partial results survive an interruption
        del X_pool, codes, index, state
    return 0


def write(results, samplers, args, argv):
    write_result(args.output_dir, args.tag, {**results, "samplers": list(samplers)}, render,
                 argv, script="benchmarks/bench_selection_cost.py")


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    args = config_of(build_parser(), result)
    results = result
    samplers = result.get("samplers") or list(next(iter(result["pools"].values()))["strategies"])
    # results written before --reference existed are relative to entropy
    reference = result["config"].get("reference", "entropy")
    lines = [
        *header("Selection cost of one round", result),
        f"One `propose(state, {args.round_size})` call per strategy and repeat "
        f"({', '.join(str(p['repeats_done']) for p in results['pools'].values())} of "
        f"{args.repeats} repeats done per pool, strategies interleaved), torch threads {args.threads}; "
        f"LeNet trained {args.epochs} epochs on {args.n_labeled} labels; latent codes from "
        f"the cached VAE `{args.vae}` (latent 3). 60k pool: the MNIST training images; "
        "1M pool: those images tiled, each further copy shifted by a random offset of up "
        "to +-2 px per axis plus Gaussian noise (sigma 0.05). Machine: "
        f"{results['machine']} (shared CPU: other jobs were running, so absolute times "
        "are noisy; the ratios come from interleaved calls).", "",
        "| strategy | " + " | ".join(f"pool {int(s):,}: s (mean ± std) | ratio to {reference}"
                                      for s in results["pools"]) + " |",
        "|---|" + "---|---|" * len(results["pools"]),
    ]
    for name in samplers:
        cells = []
        for pool in results["pools"].values():
            row = pool["strategies"][name]
            ratio = row.get("ratio_to_reference", row.get("ratio_to_entropy"))
            cells += [f"{row['mean']:.3f} ± {row['std']:.3f}", f"{100 * ratio:.2f} %"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Once per fit (not per round): " + "; ".join(
        f"pool {int(s):,}: encode {p['encode_seconds']:.1f} s, index ({p['index_method']}) "
        f"{p['index_seconds']:.2f} s" for s, p in results["pools"].items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
