"""Summarize mutmut result files: the run's counts and score per module group.

Reads ``benchmarks/results/mutation_<group>.txt`` (``mutmut results --all true`` lines,
``<mutant>: <status>``) and, where a run was a seeded uniform sample,
``mutation_<group>_sample.txt`` (the sampled names). For a sample, the score of the run
is also given with a 95 % Wilson interval: an estimate for every mutant the sample was
drawn from. Timeouts count as detected (the mutant made the tests run past mutmut's
limit). Usage: ``python benchmarks/mutation_summary.py [group ...]``.
"""
import collections
import sys
from pathlib import Path

from scipy.stats import norm

RESULTS = Path(__file__).parent / "results"
DETECTED = {"killed", "timeout", "segfault"}


def read_statuses(path):
    return dict(line.strip().rsplit(": ", 1) for line in path.read_text().splitlines()
                if line.strip())


def wilson(successes, n, level=0.95):
    if n == 0:
        return float("nan"), float("nan")
    z = norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return centre - half, centre + half


def summarize(group):
    statuses = read_statuses(RESULTS / f"mutation_{group}.txt")
    checked = {k: v for k, v in statuses.items() if v != "not checked"}
    counts = collections.Counter(checked.values())
    detected = sum(counts[s] for s in DETECTED)
    row = {
        "group": group, "mutants": len(statuses), "checked": len(checked),
        "killed": counts["killed"], "timeout": counts["timeout"],
        "survived": counts["survived"], "no tests": counts["no tests"],
        "score": detected / len(checked) if checked else float("nan"),
    }
    sample_file = RESULTS / f"mutation_{group}_sample.txt"
    if sample_file.exists():
        sample = sample_file.read_text().split()
        missing = [name for name in sample if statuses.get(name, "not checked") == "not checked"]
        if missing:
            raise ValueError(f"{group}: {len(missing)} sampled mutants were not checked")
        hit = sum(statuses[name] in DETECTED for name in sample)
        row["sample"] = (hit, len(sample), *wilson(hit, len(sample)))
    return row


def main(groups):
    if not groups:
        groups = sorted(p.stem[len("mutation_"):] for p in RESULTS.glob("mutation_*.txt")
                        if not p.stem.endswith("_sample"))
    print("| group | mutants | checked | killed | timeout | survived | no tests "
          "| score of the run | sample: detected / drawn, score [95 % interval] |")
    print("|---|---|---|---|---|---|---|---|---|")
    for group in groups:
        r = summarize(group)
        sample = ""
        if "sample" in r:
            hit, n, low, high = r["sample"]
            sample = f"{hit} / {n}, {hit / n:.1%} [{low:.1%}, {high:.1%}]"
        print(f"| {r['group']} | {r['mutants']} | {r['checked']} | {r['killed']} "
              f"| {r['timeout']} | {r['survived']} | {r['no tests']} | {r['score']:.1%} "
              f"| {sample} |")


if __name__ == "__main__":
    main(sys.argv[1:])
