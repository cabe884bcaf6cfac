"""Benchmark of the vessel-wall finite-element labelling tool.

1. Speed: median wall-clock seconds per hyperelastic (Mooney-Rivlin, 16 kPa)
   solve of 64x64 synthetic masks with about 1,500 wall pixels, on one thread.
2. Locking: median relative error of the von Mises stress against Lame's
   thick-walled cylinder (ring of radii 10 and 20 pixels, plane strain) for
   the mixed Q1/P0 formulation and plain full-integration Q1, as the Poisson
   ratio approaches 1/2.

Run ``python benchmarks/bench_vessel_solver.py``; it prints two tables and
writes ``benchmarks/results/vessel_solver.json``.
"""

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import skfem  # noqa: E402

from hardsample.datasets.vessels import VesselStressSolver, make_vessel_masks  # noqa: E402
from hardsample.provenance import provenance  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "vessel_solver.json"


def select_masks(n_masks, target_pixels, seed):
    """The ``n_masks`` generated masks whose wall area is closest to the target."""
    masks, lipid = make_vessel_masks(20 * n_masks, random_state=seed)
    area = masks.sum(axis=(1, 2))
    chosen = np.argsort(np.abs(area - target_pixels), kind="stable")[:n_masks]
    return masks[chosen], lipid[chosen]


def time_solves(solver, masks, lipid):
    """Wall-clock and CPU seconds of each solve, one mask at a time."""
    solver(masks[0], lipid[0])  # warm-up (imports, caches)
    seconds, cpu_seconds = [], []
    for mask, pool in zip(masks, lipid):
        start, start_cpu = time.perf_counter(), time.process_time()
        stress = solver(mask, pool)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - start_cpu)
        assert np.all(np.isfinite(stress))
    return np.array(seconds), np.array(cpu_seconds)


def newton_iterations(solver, masks, lipid):
    # Private hook: the public call returns only the stress maps.
    from hardsample.datasets._masks import clean_wall

    counts = []
    for mask, pool in zip(masks, lipid):
        wall, lumen = clean_wall(mask)
        counts.append(solver._solve_one(wall, lumen, (pool > 0.5) & wall)[1]["n_iter"])
    return np.array(counts)


def lame_ring(size=64, inner=10.0, outer=20.0):
    y, x = np.mgrid[:size, :size] + 0.5
    radius = np.hypot(x - size / 2, y - size / 2)
    return ((radius >= inner) & (radius <= outer)).astype(np.float32), radius


def lame_von_mises(radius, inner, outer, pressure, nu):
    a = pressure * inner**2 / (outer**2 - inner**2)
    b = a * outer**2
    return np.sqrt(3.0 * b**2 / radius**4 + (a * (1.0 - 2.0 * nu)) ** 2)


def locking_study(poisson_ratios, pressure=0.2):
    """Median relative error against Lame, all wall pixels, per formulation."""
    mask, radius = lame_ring()
    wall = mask > 0
    rows = []
    for material in ("linear", "mooney-rivlin"):
        for nu in poisson_ratios:
            expected = lame_von_mises(radius[wall], 10.0, 20.0, pressure, nu)
            row = {"material": material, "poisson_ratio": nu}
            for formulation in ("q1p0", "q1"):
                solver = VesselStressSolver(
                    pressure_kpa=pressure,
                    material=material,
                    poisson_ratio=nu,
                    formulation=formulation,
                )
                error = np.abs(solver(mask)[wall] - expected) / expected
                row[f"median_error_{formulation}"] = float(np.median(error))
                row[f"p90_error_{formulation}"] = float(np.percentile(error, 90))
            rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-masks", type=int, default=20)
    parser.add_argument("--target-pixels", type=float, default=1500.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    masks, lipid = select_masks(args.n_masks, args.target_pixels, args.seed)
    solver = VesselStressSolver()
    seconds, cpu_seconds = time_solves(solver, masks, lipid)
    iterations = newton_iterations(solver, masks, lipid)
    area = masks.sum(axis=(1, 2))
    speed = {
        "n_masks": int(len(masks)),
        "wall_pixels_median": float(np.median(area)),
        "wall_pixels_range": [float(area.min()), float(area.max())],
        "median_seconds": float(np.median(seconds)),
        "p90_seconds": float(np.percentile(seconds, 90)),
        "max_seconds": float(seconds.max()),
        "median_cpu_seconds": float(np.median(cpu_seconds)),
        "median_newton_iterations": float(np.median(iterations)),
        "target_median_seconds": 0.5,
    }
    print(f"Hyperelastic solve, 64x64, {speed['n_masks']} masks, "
          f"{speed['wall_pixels_median']:.0f} wall pixels (median), one thread")
    print(f"  median {speed['median_seconds']:.3f} s   p90 {speed['p90_seconds']:.3f} s   "
          f"max {speed['max_seconds']:.3f} s   CPU median {speed['median_cpu_seconds']:.3f} s")
    print(f"  Newton iterations (median) "
          f"{speed['median_newton_iterations']:.0f}   target <= 0.5 s")

    locking = locking_study([0.49, 0.499, 0.4999])
    print("\nLame ring (radii 10, 20 px), median |relative error| of von Mises, all wall pixels")
    print(f"  {'material':<14}{'nu':>8}{'Q1/P0 mixed':>14}{'plain Q1':>12}")
    for row in locking:
        print(f"  {row['material']:<14}{row['poisson_ratio']:>8}"
              f"{row['median_error_q1p0']:>14.4f}{row['median_error_q1']:>12.4f}")

    result = {
        "provenance": provenance(["benchmarks/bench_vessel_solver.py",
                                  *(sys.argv[1:] if argv is None else argv)]),
        "speed": speed,
        "locking": locking,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-fem": skfem.__version__,
            "threads": 1,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
