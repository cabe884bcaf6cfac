"""Encoding a pool held in a dask array: in this process, and on 1 and 2 dask workers.

The pool is uint8 28x28 images in a raw file on disk (written by ``bench_scale.py``, or
MNIST tiled into it here when it is absent), read as a dask array whose blocks each read
their own rows from the file (so workers load the data, nothing large is shipped), with a
/255 transform;
the generator is a whitened PCA (fitted on the first 20,000 images). ``Pool.encode``
runs the encoding: in this process without a client, and as ``map_blocks`` on the
workers of a ``dask.distributed.LocalCluster`` (one thread per worker process) with
one and with two workers. Each configuration encodes the same pool ``--repeats`` times;
the report gives the fastest, samples per second, and the 2-worker speed-up over 1
worker. Writes ``<tag>.json`` / ``<tag>.md`` (provenance in the header).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _report import header, write_result  # noqa: E402

CONFIGURATIONS = ("in-process", "1 worker", "2 workers")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="pool images")
    parser.add_argument("--pool-file", default="/tmp/hardsample_scale/pool_1000000.u8",
                        help="raw uint8 (n, 28, 28) file; MNIST is tiled into it when absent")
    parser.add_argument("--mnist", default=os.path.join(
        os.environ.get("HARDSAMPLE_DATA", str(HERE.parent.parent / "shared" / "data")),
        "mnist.npz"), help="MNIST file, to build the pool when --pool-file is absent")
    parser.add_argument("--dim", type=int, default=32, help="PCA latent dimension")
    parser.add_argument("--chunk", type=int, default=50_000, help="rows per dask block")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output-dir", default=str(HERE / "results"))
    parser.add_argument("--tag", default="dask_encoding")
    return parser


def pool_file(args):
    """The raw uint8 (size, 28, 28) file: the one given, or MNIST tiled into it."""
    path = Path(args.pool_file)
    if path.is_file() and path.stat().st_size >= args.size * 784:
        return path, str(path)
    with np.load(args.mnist) as data:
        images = data["X_train"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tiled = np.memmap(path, dtype=np.uint8, mode="w+", shape=(args.size, 28, 28))
    for start in range(0, args.size, len(images)):
        stop = min(args.size, start + len(images))
        tiled[start:stop] = images[:stop - start]
    tiled.flush()
    return path, f"{args.mnist} tiled into {path}"


def read_rows(path, size, start, stop):
    """Rows ``start:stop`` of the raw pool file (runs where the block is computed)."""
    return np.array(np.memmap(path, dtype=np.uint8, mode="r", shape=(size, 28, 28))[start:stop])


def dask_pool(path, size, chunk):
    """The file as a dask array of blocks that each read their rows from disk."""
    import dask
    import dask.array as da

    blocks = [da.from_delayed(dask.delayed(read_rows)(str(path), size, start,
                                                      min(size, start + chunk)),
                              shape=(min(size, start + chunk) - start, 28, 28), dtype=np.uint8)
              for start in range(0, size, chunk)]
    return da.concatenate(blocks)


def to_float(block):
    return block.astype(np.float32).reshape(len(block), -1) / 255.0


def encode_seconds(pool, generator, repeats):
    """Fastest of ``repeats`` encodings, and the codes of the last one."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        codes = pool.encode(generator)
        best = min(best, time.perf_counter() - start)
    return best, codes


def main(argv=None):
    args = build_parser().parse_args(argv)
    import torch
    from distributed import Client, LocalCluster

    from hardsample import Pool
    from hardsample.generators import PCAGenerator

    torch.set_num_threads(1)
    path, source = pool_file(args)
    pool = Pool(dask_pool(path, args.size, args.chunk), transform=to_float)
    first = np.memmap(path, dtype=np.uint8, mode="r", shape=(args.size, 28, 28))[:20_000]
    generator = PCAGenerator(args.dim, random_state=0).fit(to_float(np.asarray(first)))
    rows, reference = [], None
    for name in CONFIGURATIONS:
        if name == "in-process":
            seconds, codes = encode_seconds(pool, generator, args.repeats)
        else:
            n_workers = int(name[0])
            with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster):
                seconds, codes = encode_seconds(pool, generator, args.repeats)
        reference = codes if reference is None else reference
        rows.append({"configuration": name, "seconds": seconds,
                     "samples_per_second": args.size / seconds,
                     "same_codes": bool(np.allclose(codes, reference, atol=1e-5))})
        print(rows[-1], flush=True)
    result = {"config": vars(args), "source": source, "cpu_count": os.cpu_count(),
              "load_average": os.getloadavg(), "rows": rows}
    print(write_result(args.output_dir, args.tag, result, render, argv,
                       script="benchmarks/bench_dask_encoding.py"))
    return 0


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    config, rows = result["config"], {r["configuration"]: r for r in result["rows"]}
    lines = [
        *header(f"Encoding a dask-array pool ({config['tag']})", result), "",
        f"{config['size']:,} uint8 28x28 images ({result['source']}) as a dask array in "
        f"blocks of {config['chunk']:,} rows, /255 per block; whitened PCA, dimension "
        f"{config['dim']}; fastest of {config['repeats']} encodings; {result['cpu_count']} "
        f"cores, load average {', '.join(f'{x:.1f}' for x in result['load_average'])} at "
        "the end.", "",
        "| configuration | seconds | samples/s | codes equal to in-process |",
        "|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['seconds']:.2f} | {row['samples_per_second']:,.0f} | "
                     f"{'yes' if row['same_codes'] else 'NO'} |")
    if {"1 worker", "2 workers"} <= set(rows):
        speedup = rows["1 worker"]["seconds"] / rows["2 workers"]["seconds"]
        lines += ["", f"2 workers over 1 worker: {speedup:.2f}x."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
