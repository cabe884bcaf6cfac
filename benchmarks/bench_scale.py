"""Scale benchmark: pools of 10^5 to 10^7 MNIST-like uint8 images in a memmap on disk.

For each pool size the pool is a raw uint8 file of ``size x 28 x 28`` bytes (see
:func:`build_pool_file`: the MNIST training images, then copies rolled by up to
+-2 px with uniform pixel noise), opened as a :class:`numpy.memmap` and wrapped in a
:class:`hardsample._pool.Pool` whose transform scales each batch to float32 in
[0, 1] with shape ``(n, 1, 28, 28)``. For each latent dimension (default 3 and 32):

- generator: :class:`~hardsample.generators.PCAGenerator` (whitened PCA, chosen for
  encoding speed, not a VAE) fitted on 20,000 pool images drawn with seed 0;
- encoding: ``pool.encode(generator, batch_size=8192)`` once (seconds and samples/s
  on one core); only the codes stay in memory;
- latent index: ``LatentIndex(method="auto")`` (KD-tree at dimension 3; faiss at 32:
  flat up to 200,000 points, beyond the fastest index meeting ``recall=0.95``), build
  seconds;
- one round's selection: ``propose(state, 100)`` of ``random``, ``nearest``
  (:class:`~hardsample.samplers.NearestNeighborSampler`, step 1.0), ``latent-margin``
  (:class:`~hardsample.samplers.LatentMarginSampler`, defaults) and ``entropy``, on a
  :class:`~hardsample.samplers.MiningState` whose ``X_pool`` is the Pool, with
  LeNet (Adam 1e-3, batch 64) trained ``--epochs`` epochs on 200 random pool images.
  Entropy does not use the latent space: it runs once per pool size, and only while
  the previous size's measurement times the size ratio stays under
  ``--entropy-limit`` seconds; otherwise the table says "not run" (no number);
- peak memory per phase: resident set size (``VmRSS``) and its anonymous part
  (``RssAnon``: excludes the memmap's file pages, i.e. the page cache) polled every
  20 ms from ``/proc/self/status``, as the increase over the process's size at the
  start of the pool size, and the absolute peak.

Then the query benchmark: 1,000 queries (codes of random pool images plus N(0, 0.1^2)
noise) for their 10 nearest neighbours among the 1,000,000 dimension-32 PCA codes of
the 10^6 pool, with faiss flat (exact), faiss IVF (``n_lists=sqrt(n)``; ``n_probe``
8 (default), 16 and 32), pynndescent and the KD-tree: build and query seconds and
recall@10 against the flat search.

Everything runs on one core: ``torch.set_num_threads(1)``,
``faiss.omp_set_num_threads(1)``, ``OMP_NUM_THREADS=1`` (numba, BLAS).
Writes ``results/scale.json`` and ``results/scale.md``. Run
``python benchmarks/bench_scale.py --help``.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]

CHUNK = 60_000
GENERATOR_FIT_SIZE = 20_000


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[3, 32])
    parser.add_argument("--data-dir", default="/tmp/hardsample_scale",
                        help="where the uint8 pool files are written (size x 784 bytes each)")
    parser.add_argument("--mnist", default=os.path.join(
        os.environ.get("HARDSAMPLE_DATA", str(ROOT / "shared" / "data")), "mnist.npz"),
                        help="MNIST file (default: $HARDSAMPLE_DATA/mnist.npz)")
    parser.add_argument("--round-size", type=int, default=100)
    parser.add_argument("--n-labeled", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2,
                        help="propose() calls per strategy (entropy: 1)")
    parser.add_argument("--entropy-limit", type=float, default=600.0,
                        help="seconds; entropy is not run where it would exceed this")
    parser.add_argument("--query-size", type=int, default=1_000_000,
                        help="pool whose dim-32 codes the query benchmark uses (0: skip)")
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--output-dir", default=str(RESULTS))
    parser.add_argument("--tag", default="scale")
    return parser


class PeakMemory:
    """Peak VmRSS and RssAnon (MB) since the last reset, polled by a daemon thread."""

    def __init__(self, interval=0.02):
        self.interval = interval
        self.reset()
        threading.Thread(target=self._poll, daemon=True).start()

    @staticmethod
    def now():
        values = {}
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "RssAnon:")):
                    key, value = line.split(":")
                    values[key] = int(value.split()[0]) / 1024.0
        return values.get("VmRSS", 0.0), values.get("RssAnon", 0.0)

    def reset(self):
        self.rss, self.anon = self.now()

    def _poll(self):
        while True:
            rss, anon = self.now()
            self.rss, self.anon = max(self.rss, rss), max(self.anon, anon)
            time.sleep(self.interval)


def transform(batch):
    """uint8 rows -> float32 images in [0, 1], shape (n, 1, 28, 28)."""
    return (batch.astype(np.float32) / 255.0).reshape(len(batch), 1, 28, 28)


def strategies():
    from hardsample.samplers import (EntropySampler, LatentMarginSampler,
                                     NearestNeighborSampler, RandomSampler)

    return {"random": RandomSampler(), "nearest": NearestNeighborSampler(step_size=1.0),
            "latent-margin": LatentMarginSampler(), "entropy": EntropySampler()}


def header():
    def run(*cmd):
        try:
            return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    import dask
    import faiss
    import pynndescent
    import scipy
    import skorch
    import sklearn
    import torch

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "commit": run("git", "rev-parse", "HEAD"),
        "dirty": bool(run("git", "status", "--porcelain", "--untracked-files=no")),
        "command": "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]),
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "torch": torch.__version__, "faiss": faiss.__version__,
                     "scipy": scipy.__version__, "sklearn": sklearn.__version__,
                     "skorch": skorch.__version__, "pynndescent": pynndescent.__version__,
                     "dask": dask.__version__},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "threads_used": 1,
                    "load_average_at_start": load,
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
                                       * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def train_net(pool, labeled, labels, epochs):
    import torch
    from skorch import NeuralNetClassifier

    from hardsample.nets import LeNet

    torch.manual_seed(0)
    net = NeuralNetClassifier(LeNet, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-3, max_epochs=epochs,
                              batch_size=64, train_split=None, verbose=0)
    return net.fit(pool.take(labeled), labels)


def run_size(size, args, results, memory, save):
    from hardsample._pool import Pool
    from hardsample.generators import PCAGenerator
    from hardsample.neighbors import LatentIndex
    from hardsample.samplers import MiningState

    entry = results["pools"].setdefault(str(size), {"dims": {}})
    t0 = time.perf_counter()
    path = build_pool_file(size, args.data_dir, args.mnist)
    entry["build_or_reuse_file_seconds"] = time.perf_counter() - t0
    entry["file_gb"] = path.stat().st_size / 1e9
    mm = np.memmap(path, dtype=np.uint8, mode="r", shape=(size, 28, 28))
    pool = Pool(mm, transform)
    with np.load(args.mnist) as data:
        y_pool = np.resize(data["y_train"], size)
    rng = np.random.RandomState(0)
    labeled = np.sort(rng.choice(size, args.n_labeled, replace=False))
    fit_rows = np.sort(rng.choice(size, min(size, GENERATOR_FIT_SIZE), replace=False))
    excluded = np.zeros(size, dtype=bool)
    excluded[labeled] = True
    base_rss, base_anon = memory.now()
    entry["base_rss_mb"], entry["base_anon_mb"] = base_rss, base_anon
    t0 = time.perf_counter()
    net = train_net(pool, labeled, y_pool[labeled], args.epochs)
    entry["net_train_seconds"] = time.perf_counter() - t0
    samplers = strategies()
    for dim in args.dims:
        row = entry["dims"].setdefault(str(dim), {})
        memory.reset()
        generator = PCAGenerator(n_components=dim, random_state=0).fit(pool.take(fit_rows))
        t0 = time.perf_counter()
        codes = pool.encode(generator, batch_size=8192)
        row["encode_seconds"] = time.perf_counter() - t0
        row["encode_samples_per_s_per_core"] = size / row["encode_seconds"]
        row["encode_peak_rss_mb"], row["encode_peak_anon_mb"] = memory.rss, memory.anon
        memory.reset()
        t0 = time.perf_counter()
        index = LatentIndex(random_state=0).fit(codes)
        row["index_seconds"] = time.perf_counter() - t0
        row["index"] = index.method_ + (" (IVF)" if getattr(index, "approximate_", False)
                                        and index.method_ == "faiss" else
                                        " (flat)" if index.method_ == "faiss" else "")
        row["index_peak_anon_mb"] = memory.anon
        state = MiningState(X_pool=pool, latent_codes=codes, excluded=excluded,
                            X_labeled=pool.take(labeled), y_labeled=y_pool[labeled],
                            z_labeled=codes[labeled], net=net, generator=generator,
                            latent_index=index)
        print(f"pool {size:,} dim {dim}: encode {row['encode_seconds']:.1f} s, index "
              f"{row['index']} {row['index_seconds']:.1f} s", flush=True)
        row.setdefault("selection", {})
        for name, sampler in samplers.items():
            if name == "entropy":
                continue
            times = []
            memory.reset()
            for repeat in range(args.repeats):
                t0 = time.perf_counter()
                proposal = sampler.propose(state, args.round_size, np.random.RandomState(repeat))
                times.append(time.perf_counter() - t0)
                assert len(np.unique(proposal.indices)) == args.round_size
                assert not excluded[proposal.indices].any()
            row["selection"][name] = {"seconds": times, "mean": float(np.mean(times)),
                                      "peak_rss_mb": memory.rss, "peak_anon_mb": memory.anon}
            print(f"  {name}: {np.round(times, 3).tolist()} s, peak anon "
                  f"{memory.anon:.0f} MB", flush=True)
            save()
        if "entropy" not in entry:
            entry["entropy"] = run_entropy(size, state, samplers["entropy"], args, results,
                                           memory, excluded)
            save()
        del state, index, codes, generator
    entry["done"] = True
    save()


def run_entropy(size, state, sampler, args, results, memory, excluded):
    previous = [(int(s), p["entropy"]["mean"]) for s, p in results["pools"].items()
                if int(s) < size and "mean" in p.get("entropy", {})]
    if previous:
        s, seconds = max(previous)
        if seconds * size / s > args.entropy_limit:
            reason = (f"not run: at {s:,} it took {seconds:.0f} s; {size // s}x the pool "
                      f"would exceed the {args.entropy_limit:.0f} s limit")
            print(f"  entropy: {reason}", flush=True)
            return {"not_run": reason}
    memory.reset()
    t0 = time.perf_counter()
    proposal = sampler.propose(state, args.round_size, np.random.RandomState(0))
    seconds = time.perf_counter() - t0
    assert len(np.unique(proposal.indices)) == args.round_size
    assert not excluded[proposal.indices].any()
    print(f"  entropy: {seconds:.1f} s, peak anon {memory.anon:.0f} MB", flush=True)
    return {"seconds": [seconds], "mean": seconds, "peak_rss_mb": memory.rss,
            "peak_anon_mb": memory.anon}


def run_queries(args, results, save):
    import faiss

    from hardsample._pool import Pool
    from hardsample.generators import PCAGenerator
    from hardsample.neighbors import LatentIndex

    size = args.query_size
    path = build_pool_file(size, args.data_dir, args.mnist)
    pool = Pool(np.memmap(path, dtype=np.uint8, mode="r", shape=(size, 28, 28)), transform)
    rng = np.random.RandomState(0)
    fit_rows = np.sort(rng.choice(size, min(size, GENERATOR_FIT_SIZE), replace=False))
    codes = pool.encode(PCAGenerator(32, random_state=0).fit(pool.take(fit_rows)))
    queries = (codes[rng.choice(size, args.n_queries, replace=False)]
               + 0.1 * rng.standard_normal((args.n_queries, 32))).astype(np.float32)
    out = results["queries"] = {"n_points": size, "dim": 32, "n_queries": args.n_queries,
                                "k": 10, "rows": []}
    exact = None
    configs = [("faiss flat (exact)", dict(method="faiss", exact_max_points=size))]
    configs += [(f"faiss IVF n_probe={p}", dict(method="faiss", exact_max_points=1,
                                                n_probe=p, random_state=0, recall=None))
                for p in (8, 16, 32)]
    configs += [("pynndescent", dict(method="nndescent", random_state=0)),
                ("kdtree (exact)", dict(method="kdtree"))]
    for label, params in configs:
        if params["method"] == "nndescent":  # numba compilation, outside the timings
            t0 = time.perf_counter()
            LatentIndex("nndescent", random_state=0).fit(rng.randn(2000, 32)).kneighbors(
                np.zeros((2, 32)), 2)
            out["nndescent_compile_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = LatentIndex(**params).fit(codes)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        idx, _ = index.kneighbors(queries, 10)
        query = time.perf_counter() - t0
        if exact is None:
            exact = idx
        recall = float(np.mean([len(np.intersect1d(a[a >= 0], b)) / 10
                                for a, b in zip(idx, exact)]))
        out["rows"].append({"index": label, "build_seconds": build, "query_seconds": query,
                            "recall_at_10": recall})
        print(f"queries {label}: build {build:.1f} s, {args.n_queries} queries "
              f"{query:.3f} s, recall@10 {recall:.4f}", flush=True)
        del index
        save()
    del faiss


def write(results, args):
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{args.tag}.json").write_text(json.dumps(results, indent=1))
    h = results["header"]
    lines = [
        "# Scale: pools of uint8 images in a memmap on disk", "",
        f"`{h['command']}` (results written by the script)", "",
        f"Commit `{h['commit']}`{' (uncommitted changes)' if h['dirty'] else ''}; "
        f"started {h['started']}. Machine: {h['machine']['platform']}, "
        f"{h['machine']['cpu_count']} CPU cores shared with other jobs (load average "
        f"{h['machine']['load_average_at_start']} at start), "
        f"{h['machine']['memory_gb']} GB RAM; the benchmark used ONE core. Versions: "
        + ", ".join(f"{k} {v}" for k, v in h["versions"].items()) + ".", "",
        "Pool: MNIST training images, then copies rolled by up to +-2 px per axis plus "
        "uniform integer pixel noise in [-12, 12], stored as uint8 (784 bytes per image) "
        "in a raw file read through `numpy.memmap` and `hardsample._pool.Pool` (transform: "
        "/255 to float32). Generator: PCAGenerator (whitened PCA fitted on 20,000 pool "
        "images; not a VAE). Selection: one `propose(state, "
        f"{args.round_size})` with LeNet trained {args.epochs} epochs on "
        f"{args.n_labeled} labels; mean of {args.repeats} calls (entropy: 1).", "",
        "Memory: *anon* = peak anonymous resident memory (`RssAnon`, without the memmap's "
        "file pages) of the whole process during the phase; *RSS* includes the page cache "
        "pages mapped from the pool file.", "",
        "| pool | dim | encode s | samples/s/core | index | index s | random s | "
        "nearest s | latent-margin s | entropy s | peak anon MB (encode / select) | "
        "peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        entry = results["pools"].get(str(size))
        for dim in args.dims:
            row = (entry or {}).get("dims", {}).get(str(dim))
            if not row or "latent-margin" not in row.get("selection", {}):
                lines.append(f"| {size:,} | {dim} | not run |" + " |" * 9)
                continue
            sel = row["selection"]
            ent = entry.get("entropy", {})
            ent_cell = f"{ent['mean']:.1f}" if "mean" in ent else "not run"
            anon_sel = max(v["peak_anon_mb"] for v in sel.values())
            rss = max([row["encode_peak_rss_mb"]] + [v["peak_rss_mb"] for v in sel.values()])
            lines.append(
                f"| {size:,} | {dim} | {row['encode_seconds']:.1f} | "
                f"{row['encode_samples_per_s_per_core']:,.0f} | {row['index']} | "
                f"{row['index_seconds']:.1f} | {sel['random']['mean']:.3f} | "
                f"{sel['nearest']['mean']:.3f} | {sel['latent-margin']['mean']:.3f} | "
                f"{ent_cell} | {row['encode_peak_anon_mb']:.0f} / {anon_sel:.0f} | "
                f"{rss:.0f} |")
    notes = []
    for size in args.sizes:
        entry = results["pools"].get(str(size), {})
        ent = entry.get("entropy", {})
        if "not_run" in ent:
            notes.append(f"- entropy at {size:,}: {ent['not_run']}.")
        elif "mean" in ent:
            notes.append(f"- entropy at {size:,} (dimension-independent, measured once): "
                         f"{ent['mean']:.1f} s, peak anon {ent['peak_anon_mb']:.0f} MB "
                         "(EntropySampler materialises `X_pool[available]` as float32).")
    lines += [""] + notes
    if "queries" in results:
        q = results["queries"]
        lines += ["", f"## {q['n_queries']:,} queries, 10 nearest neighbours, among "
                  f"{q['n_points']:,} codes of dimension {q['dim']}", "",
                  "Codes: PCA (32) codes of the pool above; queries: codes of random pool "
                  "images + N(0, 0.1^2) noise. Recall@10 against faiss flat (exact). One "
                  "core.", "",
                  "| index | build s | query s | recall@10 |", "|---|---|---|---|"]
        for r in q["rows"]:
            lines.append(f"| {r['index']} | {r['build_seconds']:.1f} | "
                         f"{r['query_seconds']:.3f} | {r['recall_at_10']:.4f} |")
        if "nndescent_compile_seconds" in q:
            lines.append(f"\npynndescent's numba compilation ({q['nndescent_compile_seconds']:.0f}"
                         " s) is not in its build time.")
    (output_dir / f"{args.tag}.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    args = build_parser().parse_args(argv)
    import faiss
    import torch

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    results = {"header": header(), "config": vars(args), "pools": {}}
    memory = PeakMemory()

    def save():
        write(results, args)

    for size in args.sizes:
        run_size(size, args, results, memory, save)
    if args.query_size:
        run_queries(args, results, save)
    results["header"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    save()
    return 0


def build_pool_file(size, folder, mnist_path, seed=0):
    """Write ``size`` 28x28 uint8 images to ``folder/pool_<size>.u8`` (a raw memmap).

    Rows ``0..59,999`` are the MNIST training images; every further block of 60,000
    rows is a copy of them rolled by a random integer offset of up to +-2 pixels per
    axis (one offset per block) plus uniform integer pixel noise in [-12, 12] (about
    +-5 % of the range), clipped to [0, 255]. Labels are the MNIST labels tiled.
    The file is reused when ``pool_<size>.json`` records the same recipe.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path, meta_path = folder / f"pool_{size}.u8", folder / f"pool_{size}.json"
    recipe = {"size": int(size), "seed": int(seed), "shape": [int(size), 28, 28],
              "noise": "uniform int [-12, 12]", "shift": "+-2 px roll per 60k block"}
    if meta_path.exists() and path.exists() and json.loads(meta_path.read_text()) == recipe:
        return path
    with np.load(mnist_path) as data:
        images = data["X_train"]
    pool = np.memmap(path, dtype=np.uint8, mode="w+", shape=(size, 28, 28))
    rng = np.random.default_rng(seed)
    start = 0
    block_size = min(CHUNK, len(images))  # one copy of the training images per block
    while start < size:
        stop = min(size, start + block_size)
        block = images[:stop - start]
        if start:
            dy, dx = rng.integers(-2, 3, size=2)
            block = np.roll(block, (int(dy), int(dx)), axis=(1, 2)).astype(np.int16)
            block += rng.integers(-12, 13, size=block.shape, dtype=np.int16)
            block = np.clip(block, 0, 255).astype(np.uint8)
        pool[start:stop] = block
        start = stop
    pool.flush()
    del pool
    meta_path.write_text(json.dumps(recipe))
    return path


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
