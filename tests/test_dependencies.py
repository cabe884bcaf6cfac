"""Every third-party module the project imports is declared in pyproject.toml.

The same rules as the development tool ``check-deps``; where a module is imported
decides where it must be declared:

- ``hardsample/``: ``[project] dependencies``, or any extra when the import is lazy
  (inside a function or a ``try`` block);
- ``tests/`` and ``conftest.py``: the dependencies or the ``test`` extra;
- ``docs/``: the dependencies or the ``docs`` extra;
- ``examples/``: the dependencies, the ``docs`` or the ``test`` extra;
- ``benchmarks/``: the dependencies or any extra.

Module names are mapped to distributions through the packages installed where the
test runs (``importlib.metadata.packages_distributions``); a module that is not
installed is mapped by a short table of known names, else by its own name.
"""
import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("hardsample", "tests", "docs", "examples", "benchmarks")
# Distribution of a module that is not installed here, where it differs from its name.
KNOWN = {"sklearn": "scikit-learn", "skfem": "scikit-fem", "PIL": "pillow", "yaml": "pyyaml",
         "skactiveml": "scikit-activeml", "cv2": "opencv-python", "skimage": "scikit-image",
         "dateutil": "python-dateutil", "faiss": "faiss-cpu", "numpydoc": "numpydoc"}


def _norm(requirement):
    """Normalized distribution name of a requirement string ("dask[distributed]>=1" -> "dask")."""
    name = re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    base = {_norm(d) for d in project.get("dependencies", [])}
    extras = {k: {_norm(d) for d in v}
              for k, v in project.get("optional-dependencies", {}).items()}
    return base, extras


def _allowed(rel, lazy, base, extras):
    """Distributions an import in file ``rel`` (relative to the root) may come from."""
    any_extra = set().union(*extras.values())
    top = rel.parts[0]
    if top == "hardsample":
        return base | (any_extra if lazy else set())
    if top == "tests" or rel.name == "conftest.py":
        return base | extras.get("test", set())
    if top == "docs":
        return base | extras.get("docs", set())
    if top == "examples":
        return base | extras.get("docs", set()) | extras.get("test", set())
    return base | any_extra


def _imports(tree):
    """(top-level module, lazy) for every absolute import in a parsed file."""
    lazy_nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Try)):
            lazy_nodes |= {id(n) for n in ast.walk(node) if n is not node}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            yield name.split(".")[0], id(node) in lazy_nodes


def undeclared_imports(root, distributions):
    """Map "module (distribution)" to the files that import it without a declaration.

    Parameters
    ----------
    root : Path
        Project root holding ``pyproject.toml``.
    distributions : dict
        Module name -> iterable of distribution names, as
        ``importlib.metadata.packages_distributions()`` returns.

    Returns
    -------
    dict of str to set of str
        Empty when every third-party import is declared where it is used.
    """
    base, extras = _declared(root)
    dists = {m: {_norm(d) for d in ds} for m, ds in distributions.items()}
    local = ({p.stem for p in root.iterdir() if p.suffix == ".py"}
             | {p.name for p in root.iterdir() if p.is_dir()} | {"conftest", "_report", "_cache"})
    missing = {}
    # Walk only the scanned folders: a virtual environment in the root (.ci-venv) is large.
    paths = list(root.glob("conftest.py"))
    for folder in SCANNED:
        paths += (root / folder).rglob("*.py")
    for path in sorted(paths):
        rel = path.relative_to(root)
        if "_build" in rel.parts:
            continue
        siblings = {q.stem for q in path.parent.glob("*.py")} | {
            q.name for q in path.parent.iterdir() if q.is_dir()}
        for mod, lazy in _imports(ast.parse(path.read_text(), str(rel))):
            if (mod in sys.stdlib_module_names or mod in local or mod in siblings
                    or mod == "hardsample"):
                continue
            ok = _allowed(rel, lazy, base, extras)
            have = dists.get(mod) or {_norm(KNOWN.get(mod, mod))}
            if not have & ok:
                missing.setdefault(f"{mod} ({'/'.join(sorted(have))})", set()).add(str(rel))
    return missing


def test_every_import_is_declared_where_it_is_used():
    missing = undeclared_imports(ROOT, packages_distributions())
    report = "\n".join(f"- {mod}: {', '.join(sorted(files))}" for mod, files in sorted(missing.items()))
    assert not missing, f"imported but not declared in pyproject.toml:\n{report}"


def _write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_rules_on_a_tiny_project(tmp_path):
    _write(tmp_path, "pyproject.toml", """
[project]
name = "tiny"
dependencies = ["numpy>=1.24", "scikit-learn"]
[project.optional-dependencies]
test = ["pytest>=7", "dask[distributed]>=2023.1"]
docs = ["sphinx>=7"]
faiss = ["faiss-cpu>=1.7"]
bench = ["psutil"]
""")
    _write(tmp_path, "hardsample/__init__.py", "import os\nimport numpy\nimport sklearn.base\n")
    _write(tmp_path, "hardsample/lazy.py",
           "def index():\n    import faiss\n    return faiss\n"
           "try:\n    import psutil\nexcept ImportError:\n    psutil = None\n")
    _write(tmp_path, "hardsample/eager.py", "import faiss\n")
    _write(tmp_path, "tests/test_a.py",
           "import pytest\nimport dask\nfrom hardsample import lazy\nimport pandas\n")
    _write(tmp_path, "tests/test_b.py", "def test():\n    import psutil\n")
    _write(tmp_path, "docs/conf.py", "import sphinx\n")
    _write(tmp_path, "examples/plot_x.py", "import pytest\nimport sphinx\nimport psutil\n")
    _write(tmp_path, "benchmarks/_helpers.py", "")
    _write(tmp_path, "benchmarks/run.py", "import psutil\nimport faiss\nimport _helpers\n")
    _write(tmp_path, "scripts/other.py", "import undeclared_anywhere\n")
    distributions = {"numpy": ["numpy"], "sklearn": ["scikit-learn"], "pytest": ["pytest"],
                     "dask": ["dask"], "sphinx": ["Sphinx"], "faiss": ["faiss_cpu"],
                     "psutil": ["psutil"], "pandas": ["pandas"]}

    missing = undeclared_imports(tmp_path, distributions)

    assert missing == {
        "faiss (faiss-cpu)": {"hardsample/eager.py"},   # eager import in the package
        "pandas (pandas)": {"tests/test_a.py"},          # declared nowhere
        "psutil (psutil)": {"tests/test_b.py", "examples/plot_x.py"},  # only in "bench"
    }
    # A module that is not installed is mapped by its known distribution name.
    del distributions["sklearn"], distributions["faiss"]
    assert set(undeclared_imports(tmp_path, distributions)) == set(missing)
    # Declaring pandas for the tests and psutil for everyone silences the check.
    text = (tmp_path / "pyproject.toml").read_text()
    text = text.replace('"scikit-learn"]', '"scikit-learn", "psutil"]')
    text = text.replace('"pytest>=7",', '"pytest>=7", "pandas",')
    (tmp_path / "pyproject.toml").write_text(text)
    assert undeclared_imports(tmp_path, distributions) == {"faiss (faiss-cpu)": {"hardsample/eager.py"}}
