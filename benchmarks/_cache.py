"""Caches shared by the benchmark scripts: fitted models keyed by their settings."""

import hashlib
import json
import pickle
import time


def settings_key(settings):
    """A short, stable key of a JSON-serialisable settings dict (for file names)."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


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
