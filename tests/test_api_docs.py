"""docs/api.rst documents every public name: each entry of ``__all__`` in every public
module of the package (``hardsample``, ``hardsample.samplers``, ``hardsample.generators``,
...) is the object of some ``autosummary`` entry of the API reference."""
import importlib
import pkgutil
import re
from pathlib import Path

import hardsample

API_RST = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def _resolve(module, dotted):
    """The object that ``dotted`` names under ``.. currentmodule:: module``."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):   # the longest importable module prefix
        try:
            obj = importlib.import_module(".".join([module, *parts[:n - 1]]))
        except ImportError:
            continue
        for part in parts[n - 1:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(f"{module}.{dotted}")


def autosummary_entries(text):
    """(current module, entry) for each item of each autosummary block in an rst text."""
    module, in_block, entries = None, False, []
    for line in text.splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            module, in_block = m.group(1), False
        elif line.startswith(".. autosummary::"):
            in_block = True
        elif in_block and re.match(r"\s+:", line):        # an option such as :toctree:
            continue
        elif in_block and re.match(r"\s+\S", line):
            entries.append((module, line.strip()))
        elif in_block and line.strip():                   # dedented: the block is over
            in_block = False
    return entries


def public_modules():
    names = ["hardsample"] + [m.name for m in pkgutil.walk_packages(hardsample.__path__, "hardsample.")]
    return [importlib.import_module(n) for n in names
            if not any(part.startswith("_") for part in n.split("."))]


def test_autosummary_parser_reads_modules_and_entries():
    text = (".. currentmodule:: a\n\n.. autosummary::\n   :toctree: generated\n\n   X\n   m.f\n\n"
            "Title\n-----\n\n.. currentmodule:: b\n\n.. autosummary::\n\n   Y\n")
    assert autosummary_entries(text) == [("a", "X"), ("a", "m.f"), ("b", "Y")]


def test_every_public_name_is_in_the_api_reference():
    entries = autosummary_entries(API_RST.read_text())
    documented = set()
    for module, entry in entries:
        try:
            documented.add(id(_resolve(module, entry)))
        except (ImportError, AttributeError):
            raise AssertionError(f"docs/api.rst lists {module}.{entry}, which does not exist")
    modules = public_modules()
    # The modules the reference is organized around are among those checked.
    assert {"hardsample", "hardsample.samplers", "hardsample.generators", "hardsample.datasets",
            "hardsample.nets", "hardsample.journal"} <= {m.__name__ for m in modules}
    missing = sorted(f"{m.__name__}.{name}" for m in modules for name in getattr(m, "__all__", [])
                     if not name.startswith("__") and id(getattr(m, name)) not in documented)
    assert not missing, f"public names missing from docs/api.rst: {missing}"
