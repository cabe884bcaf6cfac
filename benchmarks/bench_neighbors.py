"""Time LatentIndex's backends and measure nndescent's recall@1.

For each (n_points, dim): points and queries drawn from N(0, I) (a VAE's prior);
each backend is built once and answers ``--n-queries`` queries for their
``--k`` nearest neighbours. pynndescent's graph build is slow on few CPU cores, so
it only runs up to ``--nndescent-max-points``. Exact recall@1 is measured against
the KD-tree (or brute force). Writes JSON to ``benchmarks/results/``.

Run ``python benchmarks/bench_neighbors.py --help``.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60_000, 1_000_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[3, 32])
    parser.add_argument("--methods", nargs="+", default=["kdtree", "brute", "nndescent"])
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nndescent-max-points", type=int, default=100_000)
    parser.add_argument("--brute-batch-size", type=int, default=128,
                        help="queries per distance block (memory: batch x n_points floats)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output", default=str(RESULTS / "neighbors.json"))
    return parser


def _provenance(argv):
    from hardsample.provenance import provenance

    return provenance(argv)


def main(argv=None):
    args = build_parser().parse_args(argv)
    import torch

    from hardsample.neighbors import BRUTE_MAX_POINTS, KDTREE_MAX_DIM, LatentIndex

    torch.set_num_threads(args.threads)
    if "nndescent" in args.methods:  # numba compilation, outside the timings
        start = time.perf_counter()
        LatentIndex("nndescent", random_state=0).fit(
            np.random.RandomState(0).randn(2000, 3)).kneighbors(np.zeros((2, 3)), 2)
        print(f"pynndescent warm-up (numba compile) {time.perf_counter() - start:.1f} s",
              flush=True)
    results = []
    for n_points in args.sizes:
        for dim in args.dims:
            rng = np.random.RandomState(0)
            Z = rng.randn(n_points, dim).astype(np.float32)
            Q = rng.randn(args.n_queries, dim).astype(np.float32)
            exact = None
            for method in args.methods:
                row = dict(n_points=n_points, dim=dim, method=method, n_queries=args.n_queries,
                           k=args.k)
                if method == "nndescent" and n_points > args.nndescent_max_points:
                    row["skipped"] = f"n_points > {args.nndescent_max_points} (build too slow)"
                    results.append(row)
                    print(row, flush=True)
                    continue
                start = time.perf_counter()
                index = LatentIndex(method, batch_size=args.brute_batch_size,
                                    random_state=0).fit(Z)
                row["build_seconds"] = time.perf_counter() - start
                start = time.perf_counter()
                idx, _ = index.kneighbors(Q, args.k)
                row["query_seconds"] = time.perf_counter() - start
                row["query_ms_per_1000"] = 1000 * row["query_seconds"] * 1000 / args.n_queries
                if exact is None and method in ("kdtree", "brute"):
                    exact = idx[:, 0]
                if exact is not None:
                    row["recall_at_1"] = float(np.mean(idx[:, 0] == exact))
                results.append(row)
                print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
                      flush=True)
                del index
    out = dict(provenance=_provenance(["benchmarks/bench_neighbors.py",
                                      *(sys.argv[1:] if argv is None else argv)]),
               results=results, auto_rule=dict(KDTREE_MAX_DIM=KDTREE_MAX_DIM,
                                               BRUTE_MAX_POINTS=BRUTE_MAX_POINTS),
               machine=dict(platform=platform.platform(), torch_threads=args.threads,
                            processor=platform.processor()),
               written=time.strftime("%Y-%m-%d %H:%M:%S"))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"written {args.output}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
