"""Time LatentIndex's backends; measure the recall target of ``LatentIndex(recall=...)``.

Two studies (``--study``):

- ``backends`` (default): for each (n_points, dim), points and queries drawn from
  N(0, I) (a VAE's prior); each backend is built once and answers ``--n-queries``
  queries for their ``--k`` nearest neighbours. pynndescent's graph build is slow on
  few CPU cores, so it only runs up to ``--nndescent-max-points``. Exact recall@1 is
  measured against the KD-tree (or brute force). Writes ``results/neighbors.json``.
- ``recall``: ``LatentIndex()`` (defaults: ``method="auto"``, ``recall=0.95``) fitted
  on ``--recall-points`` (1,000,000) codes of dimension 32 of two kinds: ``gaussian``,
  N(0, I) (what a VAE's codes look like), and ``clustered``, PCA-like codes (200
  cluster centres drawn from N(0, diag(s^2)) with a decaying spectrum
  ``s_j = 3 / sqrt(1 + j)``, points = centre + 0.5 * N(0, diag(s^2))). Then 1,000
  fresh queries from the same distribution (not indexed codes) ask for their 10
  nearest neighbours: recall@10 against exact flat search, query seconds (CPU and
  wall), fit seconds (CPU and wall), the index chosen (flat, IVF, fast-scan IVF or
  HNSW, with its search parameters) and every candidate measured at fit. faiss and torch run
  on one thread (``faiss.omp_set_num_threads(1)``); run under ``taskset -c 1`` to pin
  the process to one core. Writes ``results/neighbors_recall.json`` and ``.md``.

Run ``python benchmarks/bench_neighbors.py --help``.
"""

import argparse
import json
import os
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
    parser.add_argument("--output", default=None,
                        help="JSON file (default: results/neighbors.json, or "
                             "results/neighbors_recall.json for --study recall)")
    parser.add_argument("--study", choices=["backends", "recall"], default="backends")
    parser.add_argument("--recall-points", type=int, default=1_000_000)
    parser.add_argument("--recall-dim", type=int, default=32)
    parser.add_argument("--recall-target", type=float, default=0.95)
    parser.add_argument("--distributions", nargs="+", choices=["gaussian", "clustered"],
                        default=["gaussian", "clustered"])
    return parser


def make_codes(kind, n_points, dim, rng):
    """``n_points`` codes of ``dim`` dimensions: ``gaussian`` or ``clustered`` (PCA-like)."""
    if kind == "gaussian":
        return rng.standard_normal((n_points, dim)).astype(np.float32)
    scale = 3.0 / np.sqrt(1.0 + np.arange(dim))
    centers = rng.standard_normal((200, dim)) * scale
    labels = rng.randint(len(centers), size=n_points)
    return (centers[labels] + 0.5 * rng.standard_normal((n_points, dim)) * scale
            ).astype(np.float32)


def _recall_at(found, exact):
    k = exact.shape[1]
    return float(np.mean([len(np.intersect1d(a[a >= 0], b)) / k for a, b in zip(found, exact)]))


def run_recall_study(args, argv):
    import faiss
    import torch

    from hardsample.neighbors import LatentIndex

    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    rows = []
    for kind in args.distributions:
        rng = np.random.RandomState(0)
        codes = make_codes(kind, args.recall_points + args.n_queries, args.recall_dim, rng)
        codes, queries = codes[:args.recall_points], codes[args.recall_points:]
        start = time.perf_counter()
        exact = faiss.IndexFlatL2(args.recall_dim)
        exact.add(codes)
        truth = exact.search(queries, args.k)[1]
        exact_seconds = time.perf_counter() - start
        del exact
        start, cpu = time.perf_counter(), time.process_time()
        index = LatentIndex(recall=args.recall_target, random_state=0).fit(codes)
        fit_seconds = time.perf_counter() - start
        fit_cpu_seconds = time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        found, _ = index.kneighbors(queries, args.k)
        query_seconds = time.perf_counter() - start
        query_cpu_seconds = time.process_time() - cpu
        row = dict(codes=kind, n_points=args.recall_points, dim=args.recall_dim,
                   n_queries=args.n_queries, k=args.k, method=index.method_,
                   faiss_index=index.faiss_index_, search_params=index.search_params_,
                   recall_at_k=_recall_at(found, truth),
                   query_seconds_per_1000=query_seconds * 1000 / args.n_queries,
                   query_cpu_seconds_per_1000=query_cpu_seconds * 1000 / args.n_queries,
                   fit_seconds=fit_seconds, fit_cpu_seconds=fit_cpu_seconds,
                   fit_recall=index.recall_,
                   fit_query_seconds_per_1000=index.query_seconds_,
                   candidates=index.candidates_, exact_search_seconds=exact_seconds,
                   load_average=os.getloadavg())
        rows.append(row)
        print({k: v for k, v in row.items() if k != "candidates"}, flush=True)
        del index
    out = dict(provenance=_provenance(["benchmarks/bench_neighbors.py",
                                      *(sys.argv[1:] if argv is None else argv)]),
               recall_target=args.recall_target, results=rows,
               machine=dict(platform=platform.platform(), processor=platform.processor(),
                            threads=1, affinity=sorted(os.sched_getaffinity(0))),
               written=time.strftime("%Y-%m-%d %H:%M:%S"))
    output = Path(args.output or RESULTS / "neighbors_recall.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(out, indent=1))
    output.with_suffix(".md").write_text("\n".join(recall_report(out)) + "\n")
    print(f"written {output} and {output.with_suffix('.md')}")
    return 0


def recall_report(out):
    from hardsample.provenance import provenance_lines

    lines = [f"# LatentIndex with recall={out['recall_target']}: 1,000 queries, one thread", ""]
    lines += provenance_lines(out["provenance"]) + [""]
    lines += ["| codes | index chosen | recall@10 (fresh queries) | query CPU s per 1,000 | "
              "query wall s per 1,000 | fit CPU s | fit wall s | recall@10 at fit |",
              "|---|---|---|---|---|---|---|---|"]
    for r in out["results"]:
        chosen = r["faiss_index"] or r["method"]
        params = ", ".join(f"{k}={v}" for k, v in r["search_params"].items())
        lines.append(f"| {r['codes']} {r['n_points']:,} x {r['dim']} | {chosen}"
                     f"{f' ({params})' if params else ''} | {r['recall_at_k']:.3f} | "
                     f"{r['query_cpu_seconds_per_1000']:.3f} | "
                     f"{r['query_seconds_per_1000']:.3f} | {r['fit_cpu_seconds']:.1f} | "
                     f"{r['fit_seconds']:.1f} | "
                     f"{r['fit_recall']:.3f} |")
    lines += ["", "Query CPU seconds: the process's CPU time over the 1,000 queries (one "
              "thread), i.e. one core's work whatever else runs on the machine; wall seconds "
              "include waiting for the core. Fit CPU seconds likewise (fit builds and "
              "measures the candidates below; HNSW only when neither IVF kind meets the "
              "target cheaply).", "",
              "Candidates measured at fit (300 queries drawn from the indexed codes, own "
              "code left out; wall seconds per 1,000 queries):", ""]
    for r in out["results"]:
        tried = "; ".join(
            f"{c['index']}"
            + "".join(f" {k}={v}" for k, v in c.items()
                      if k not in ("index", "recall", "query_seconds"))
            + f": {c['recall']:.3f}, {c['query_seconds']:.3f} s" for c in r["candidates"])
        lines.append(f"- {r['codes']}: {tried}")
    lines += ["", "Load average during the runs (a shared machine): "
              + ", ".join(f"{r['codes']} {r['load_average'][0]:.1f}" for r in out["results"])]
    return lines


def _provenance(argv):
    from hardsample.provenance import provenance

    return provenance(argv)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.study == "recall":
        return run_recall_study(args, argv)
    args.output = args.output or str(RESULTS / "neighbors.json")
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
