"""Draw a seeded uniform sample of one module's mutants, for `mutmut run NAME ...`.

Mutation testing a module whose tests train nets costs seconds per mutant; on a small
machine the whole set does not fit in one sitting. A uniform random sample (fixed seed)
estimates the module's score without bias, and every survivor in it is examined like a
survivor of a full run (see benchmarks/results/mutation_report.md).

Usage (from the repository root, after mutmut has generated ``mutants/``)::

    python benchmarks/mutation_sample.py hardsample/_loop.py --n 80 --seed 0 \
        [--exclude benchmarks/results/mutation_loop.txt]

``--exclude`` leaves out mutants that a results file (``mutmut results --all true``
lines) records as already checked, so a sample can complete an earlier partial run.
"""
import argparse
import json
import random
from pathlib import Path

from mutation_summary import read_statuses


def checked_in(results_file):
    return {name for name, status in read_statuses(Path(results_file)).items()
            if status != "not checked"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="a mutated file, e.g. hardsample/_loop.py")
    parser.add_argument("--n", type=int, required=True, help="sample size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exclude", action="append", default=[],
                        help="a results file whose checked mutants are left out")
    args = parser.parse_args()
    meta = Path("mutants") / (args.module + ".meta")
    if not meta.exists():
        parser.error(f"{meta} does not exist: let mutmut generate mutants/ first")
    names = sorted(json.loads(meta.read_text())["exit_code_by_key"])
    excluded = set().union(*(checked_in(f) for f in args.exclude))
    population = [name for name in names if name not in excluded]
    if args.n > len(population):
        parser.error(f"--n {args.n} is larger than the {len(population)} mutants left")
    print("\n".join(sorted(random.Random(args.seed).sample(population, args.n))))


if __name__ == "__main__":
    main()
