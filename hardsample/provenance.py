"""Provenance of a results file: which code, packages, machine and command produced it."""

import os
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

PACKAGES = ("hardsample", "torch", "skorch", "scikit-learn", "numpy")


def _git(root, *args):
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _version(package):
    if package == "hardsample":  # the imported copy, which may not be the installed one
        from . import __version__

        return __version__
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def provenance(argv=None, *, root=None):
    """What produced a result: git commit, dirty flag, package versions, cores, command.

    Parameters
    ----------
    argv : list of str, default=None
        The command's arguments; ``sys.argv`` by default. The command is recorded as
        ``python <script> <args>`` (shell-quoted) so that it can be run again.
    root : path, default=None
        A folder inside the git checkout; the checkout holding this package by default.

    Returns
    -------
    info : dict
        ``commit`` (None outside a git checkout), ``dirty`` (uncommitted changes to
        tracked files), ``packages`` (name -> version or None), ``cpu_count``,
        ``python``, ``command``, ``written`` (local time).

    Examples
    --------
    >>> from hardsample.provenance import provenance
    >>> info = provenance(["benchmarks/mnist.py", "--seeds", "0 1"])
    >>> info["command"]
    "python benchmarks/mnist.py --seeds '0 1'"
    >>> sorted(info["packages"])
    ['hardsample', 'numpy', 'scikit-learn', 'skorch', 'torch']
    """
    argv = list(sys.argv if argv is None else argv)
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "dirty": None if status is None else bool(status),
        "packages": {name: _version(name) for name in PACKAGES},
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "command": " ".join(["python", *map(shlex.quote, argv)]),
        "written": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def provenance_lines(info):
    """Markdown lines stating ``info`` (from :func:`provenance`), for a report's header.

    A results file written before provenance was recorded (``info`` is None) says so;
    one written by an earlier version of :func:`provenance` (package versions under
    ``versions``, no ``written`` time or ``cpu_count``) is stated with what it records.

    Examples
    --------
    >>> from hardsample.provenance import provenance_lines
    >>> info = {"commit": "abc123", "dirty": False, "cpu_count": 2, "python": "3.12.0",
    ...         "packages": {"hardsample": "0.1", "torch": "2.5"},
    ...         "command": "python benchmarks/mnist.py", "written": "2026-01-01 00:00:00"}
    >>> print("\\n".join(provenance_lines(info)))
    Written 2026-01-01 00:00:00 by `python benchmarks/mnist.py` at commit abc123 (clean tree); hardsample 0.1, torch 2.5; Python 3.12.0; 2 cores.
    <BLANKLINE>
    >>> provenance_lines(None)[0]
    'Provenance not recorded: this result was written before its script recorded commit, package versions and command.'
    >>> older = {"commit": "abc123", "dirty": False, "python": "3.12.0",
    ...          "versions": {"hardsample": "0.1"}, "command": "python benchmarks/vessels.py"}
    >>> provenance_lines(older)[0]
    'Written by `python benchmarks/vessels.py` at commit abc123 (clean tree); hardsample 0.1; Python 3.12.0.'
    """
    if not info:
        return ["Provenance not recorded: this result was written before its script "
                "recorded commit, package versions and command.", ""]
    tree = {True: "uncommitted changes", False: "clean tree", None: "tree state unknown"}
    packages = ", ".join(f"{k} {v}" for k, v in info.get("packages", info.get("versions", {}))
                         .items())
    written = f" {info['written']}" if info.get("written") else ""
    cores = f"; {info['cpu_count']} cores" if info.get("cpu_count") else ""
    return [f"Written{written} by `{info['command']}` at commit "
            f"{info['commit'] or 'unknown (not a git checkout)'} ({tree[info['dirty']]}); "
            f"{packages}; Python {info['python']}{cores}.", ""]
