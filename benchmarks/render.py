"""Regenerate the Markdown reports of ``benchmarks/results`` from their JSON.

Every report is rendered by its script's ``render(result)`` from the JSON the script
wrote (see ``benchmarks/_report.py``), so a report can always be rebuilt from its
JSON alone; ``tests/test_benchmarks.py`` checks that the committed ones are.

    python benchmarks/render.py                 # rewrite every report that has a JSON
    python benchmarks/render.py --check         # exit 1 if any report differs
"""

import argparse
import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: File-name prefix of a results JSON -> the script (module in benchmarks/) that wrote it.
SCRIPTS = {
    "mnist_": "mnist", "cifar10_": "cifar10", "vessels_": "vessels", "peers_": "peers",
    "round_split_": "bench_round_split", "selection_cost": "bench_selection_cost",
    "dask_encoding": "bench_dask_encoding",
    "vessel_generators": "vessel_generators",
    "regression_tool_": "regression_tool",
    "vessel_uncertainty_": "vessel_uncertainty",
}


def renderer(json_path):
    """The ``render`` function of the script that writes ``json_path``, or None."""
    for prefix, module in SCRIPTS.items():
        if Path(json_path).name.startswith(prefix):
            if str(HERE) not in sys.path:
                sys.path.insert(0, str(HERE))
            return importlib.import_module(module).render
    return None


def reports(folder=RESULTS):
    """``(json_path, md_path)`` of every report in ``folder`` that has a JSON companion."""
    return [(j, j.with_suffix(".md")) for j in sorted(Path(folder).glob("*.json"))
            if j.with_suffix(".md").is_file() and renderer(j) is not None]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(RESULTS))
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = []
    for json_path, md_path in reports(args.folder):
        text = renderer(json_path)(json.loads(json_path.read_text()))
        if text != md_path.read_text():
            stale.append(md_path.name)
            if not args.check:
                md_path.write_text(text)
    print(("differ: " if args.check else "rewritten: ") + (", ".join(stale) or "none"))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
