"""Provenance of a results file: commit, package versions, command, machine."""

import platform
import subprocess
import sys
from pathlib import Path

_PACKAGES = ("hardsample", "numpy", "scipy", "scikit-learn", "torch", "skorch", "scikit-fem")


def _git(*args):
    root = Path(__file__).resolve().parents[1]
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance(argv=None, script=None):
    """A dict with the commit (and whether the tree was dirty), versions and command."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    status = _git("status", "--porcelain", "--untracked-files=no")
    argv = sys.argv[1:] if argv is None else list(argv)
    script = script or Path(sys.argv[0]).name
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "versions": versions,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.system()}",
        "command": f"python benchmarks/{script} " + " ".join(argv),
    }


def provenance_lines(info):
    """Markdown header lines for a results file."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    return [f"- commit: `{info['commit']}`{' (uncommitted changes)' if info['dirty'] else ''}",
            f"- command: `{info['command']}`",
            f"- versions: Python {info['python']}, {versions}"]
