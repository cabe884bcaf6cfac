"""Peak memory of stage 1 (encoding the pool) and of mining rounds on a 60,000-sample pool.

The pool is MNIST's training set (``mnist.npz`` from ``--data-home``,
``$HARDSAMPLE_DATA`` or the checkout's ``shared/data``, read with
:func:`hardsample.datasets.load_mnist`), else synthetic 60,000 x 784 float32 noise.
The generator (the paper's MNIST VAE, 3-d latent space, two 400-unit layers, or
``--generator pca``) is fitted on a small subset outside the measurements, then
frozen: what is measured is what a run on the full pool costs.

Measured per phase, as the extra memory over the process's footprint just before:

- ``rss_peak_extra_mb``: peak resident set size (psutil, or ``/proc/self/statm``,
  polled every 0.5 ms by a thread), which sees numpy *and* torch allocations;
- ``tracemalloc_peak_mb``: peak of the allocations traced by tracemalloc, i.e.
  numpy's (torch's CPU allocator does not report to tracemalloc).

Phases: ``transform`` (``generator.transform(pool)``, which goes through
``hardsample._torch.batched_apply``), ``transform_one_shot`` (the encoder applied to
a tensor copy of the whole pool at once: what batching avoids), ``round_1`` (first
``partial_fit``: encoding the pool, latent index, 100 random labels, training) and
``round_2`` (second ``partial_fit``: "nearest" mining of 100 samples, labeling,
training). ``ru_maxrss`` (the process's all-time high-water mark) is reported too.

RSS includes what glibc's malloc keeps after ``free``: with its default dynamic
mmap threshold, once a large block (the VAE's training batches, the pool's
temporaries) has been freed, medium allocations such as one batch's activations
come from the heap, which is not given back while small live blocks sit above
them, so RSS can jump by tens of MB that no object holds. The benchmark therefore
runs twice, each in a fresh process: ``malloc=default`` (what a user sees) and
``malloc=fixed`` (``mallopt`` fixes the mmap and trim thresholds at 128 KiB, so RSS
follows the live allocations: what the library actually allocates).

Writes ``benchmarks/results/memory.json``. Run ``python benchmarks/bench_memory.py --help``.
"""

import argparse
import gc
import json
import os
import platform
import resource
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MB = 2.0 ** 20


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-home", default=None,
                        help="folder of mnist.npz (default: $HARDSAMPLE_DATA, shared/data)")
    parser.add_argument("--synthetic", action="store_true", help="use synthetic data")
    parser.add_argument("--n-pool", type=int, default=60_000)
    parser.add_argument("--generator", choices=["vae", "pca"], default="vae")
    parser.add_argument("--fit-subset", type=int, default=2000,
                        help="samples the generator is fitted on (outside the measurements)")
    parser.add_argument("--round-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output", default=str(RESULTS / "memory.json"))
    parser.add_argument("--malloc", choices=["both", "default", "fixed"], default="both",
                        help="glibc malloc settings; 'both' runs one process for each")
    return parser


def _fix_malloc_thresholds():
    """Fix glibc's mmap/trim thresholds (no dynamic raise): RSS then tracks live memory."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 128 * 1024)) and \
        bool(libc.mallopt(m_trim_threshold, 128 * 1024))


# ------------------------------------------------------------------ measuring
def _rss_bytes():
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Context manager: peak RSS (polled) and tracemalloc peak over the block."""

    def __init__(self, interval=5e-4):
        self.interval = interval

    def _poll(self):
        while not self._stop.is_set():
            self.rss_peak = max(self.rss_peak, _rss_bytes())
            time.sleep(self.interval)

    def __enter__(self):
        gc.collect()
        self.rss_before = self.rss_peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        tracemalloc.start()
        tracemalloc.reset_peak()
        self._traced_before = tracemalloc.get_traced_memory()[0]
        self._thread.start()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.seconds = time.perf_counter() - self._start
        self._stop.set()
        self._thread.join()
        self.rss_peak = max(self.rss_peak, _rss_bytes())
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        self.result = {
            "seconds": round(self.seconds, 2),
            "rss_before_mb": round(self.rss_before / MB, 1),
            "rss_peak_extra_mb": round((self.rss_peak - self.rss_before) / MB, 1),
            "tracemalloc_peak_mb": round((peak - self._traced_before) / MB, 1),
            "tracemalloc_kept_mb": round((current - self._traced_before) / MB, 1),
        }
        return False


# ------------------------------------------------------------------ the run
def load_pool(args):
    if not args.synthetic:
        from hardsample.datasets import load_mnist

        data_home = args.data_home or os.environ.get("HARDSAMPLE_DATA") or (
            str(SHARED_DATA) if (SHARED_DATA / "mnist.npz").is_file() else None)
        try:
            mnist = load_mnist(data_home, download=False)
            X = (mnist.X_train[:args.n_pool].reshape(-1, 784) / np.float32(255.0))
            return X.astype(np.float32), mnist.y_train[:args.n_pool], f"MNIST ({mnist.path})"
        except FileNotFoundError as exc:
            print(f"MNIST not found ({exc}); using synthetic data", flush=True)
    rng = np.random.RandomState(0)
    X = rng.rand(args.n_pool, 784).astype(np.float32)
    y = rng.randint(10, size=args.n_pool)
    return X, y, "synthetic uniform noise"


def _provenance(argv):
    from hardsample.provenance import provenance

    return provenance(argv)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.malloc == "both":
        return run_both(args, argv)
    malloc_fixed = args.malloc == "fixed" and _fix_malloc_thresholds()
    import torch
    from skorch import NeuralNetClassifier
    from sklearn.frozen import FrozenEstimator

    from hardsample import LatentHardMiningClassifier
    from hardsample.generators import PCAGenerator, VAETransformer
    from hardsample.nets import MLP

    torch.set_num_threads(args.threads)
    X, y, source = load_pool(args)
    n_pool, n_features = X.shape
    if args.generator == "vae":
        generator = VAETransformer(latent_dim=3, hidden_sizes=(400, 400), max_epochs=1,
                                   batch_size=128, random_state=0)
    else:
        generator = PCAGenerator(n_components=3, random_state=0)
    generator.fit(X[:args.fit_subset])
    batch_size = generator._inference_batch_size()
    latent_dim = generator.latent_dim_
    widest = max([n_features, latent_dim, *getattr(generator, "hidden_sizes", ())])
    reference = {
        "pool_copy_mb": round(X.nbytes / MB, 1),
        "codes_mb": round(n_pool * latent_dim * 4 / MB, 2),
        "one_batch_input_mb": round(batch_size * n_features * 4 / MB, 2),
        "one_batch_widest_activation_mb": round(batch_size * widest * 4 / MB, 2),
        "inference_batch_size": batch_size,
    }
    phases = {}

    with PeakMemory() as peak:
        codes = generator.transform(X)
    phases["transform"] = peak.result
    del codes

    with PeakMemory() as peak, torch.no_grad():
        full = generator.encoder_(torch.tensor(X)).numpy()
    phases["transform_one_shot"] = peak.result
    del full

    net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-3, max_epochs=5,
                              batch_size=64, verbose=0)
    clf = LatentHardMiningClassifier(net, FrozenEstimator(generator), sampler="nearest",
                                     initial_size=args.round_size, round_size=args.round_size,
                                     random_state=0)
    with PeakMemory() as peak:
        clf.partial_fit(X, y)
    phases["round_1"] = peak.result
    with PeakMemory() as peak:
        clf.partial_fit(X, y)
    phases["round_2"] = peak.result
    assert len(clf.labeled_indices_) == 2 * args.round_size

    streams = phases["transform"]["rss_peak_extra_mb"] < 0.1 * reference["pool_copy_mb"]
    report = {
        "provenance": _provenance(["benchmarks/bench_memory.py",
                                   *(sys.argv[1:] if argv is None else argv)]),
        "benchmark": "memory",
        "pool": {"source": source, "n_samples": n_pool, "n_features": n_features,
                 "dtype": str(X.dtype)},
        "generator": repr(generator),
        "reference": reference,
        "phases": phases,
        "transform_streams_in_batches": bool(streams),
        "malloc": "fixed thresholds (128 KiB)" if malloc_fixed else "glibc default",
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                    "torch": torch.__version__, "torch_threads": args.threads,
                    "cpus": os.cpu_count()},
    }

    print(f"== malloc: {report['malloc']}")
    print(f"pool: {source}, {n_pool} x {n_features} float32 = {reference['pool_copy_mb']} MB; "
          f"codes {reference['codes_mb']} MB; one batch ({batch_size} samples) "
          f"{reference['one_batch_input_mb']} MB in, widest activation "
          f"{reference['one_batch_widest_activation_mb']} MB")
    header = f"{'phase':20s} {'seconds':>8s} {'RSS before':>11s} {'RSS peak +':>11s} " \
             f"{'numpy peak +':>13s}"
    print(header)
    print("-" * len(header))
    for name, row in phases.items():
        print(f"{name:20s} {row['seconds']:8.2f} {row['rss_before_mb']:8.1f} MB "
              f"{row['rss_peak_extra_mb']:8.1f} MB {row['tracemalloc_peak_mb']:10.1f} MB")
    print(f"ru_maxrss (whole run): {report['ru_maxrss_mb']} MB; transform streams in "
          f"batches: {streams}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return report


def run_both(args, argv):
    """Run the measurements once per malloc setting, each in a fresh process."""
    import subprocess
    import tempfile

    argv = list(sys.argv[1:] if argv is None else argv)
    reports = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("default", "fixed"):
            out = os.path.join(folder, f"{mode}.json")
            subprocess.run([sys.executable, __file__, *argv, "--malloc", mode, "--output", out],
                           check=True)
            reports[mode] = json.loads(Path(out).read_text())
    merged = {"provenance": _provenance(["benchmarks/bench_memory.py", *argv]),
              "benchmark": "memory", "runs": reports}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {args.output}")
    return merged


if __name__ == "__main__":
    main()
