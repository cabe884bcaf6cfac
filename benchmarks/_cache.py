"""Caches shared by the benchmark scripts: fitted models keyed by their settings and code.

A cached model is reused only when both its settings and the code that fits it are the
same: the key includes :func:`code_version` (hardsample's version and a hash of the
sources of the subpackage that fits it), so editing a generator invalidates its caches.
"""

import hashlib
import json
import pickle
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hardsample"


def code_version(*parts):
    """hardsample's version and a hash of the sources under ``hardsample/<part>``.

    ``parts`` are folders or modules of the package (``"generators"``,
    ``"datasets/vessels.py"``); the hash covers every ``.py`` file under them, by
    relative path and content.
    """
    from hardsample import __version__

    digest = hashlib.sha1()
    for part in parts:
        target = PACKAGE / part
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        if not files or not all(f.is_file() for f in files):
            raise FileNotFoundError(f"no hardsample source at {target}")
        for path in files:
            digest.update(str(path.relative_to(PACKAGE)).encode())
            digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def settings_key(settings, code=("generators",)):
    """A short, stable key of a JSON-serialisable settings dict and the code version.

    ``code`` names the parts of the package whose sources the cached object depends on
    (see :func:`code_version`); the key changes when they do.
    """
    keyed = {"settings": settings, "code": code_version(*code)}
    return hashlib.sha1(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:12]


def cached_fit(path, fit):
    """The model pickled at ``path``, or ``fit()``'s result, pickled there first.

    Returns
    -------
    model : object
    seconds : float
        Time spent in ``fit`` (0.0 when the model came from the cache).
    """
    if path.is_file():
        with open(path, "rb") as handle:
            return pickle.load(handle), 0.0
    start = time.perf_counter()
    model = fit()
    seconds = time.perf_counter() - start
    with open(path, "wb") as handle:
        pickle.dump(model, handle)
    return model, seconds
