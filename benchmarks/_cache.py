"""Caches shared by the benchmark scripts: fitted models keyed by their settings and code.

Caches live in a per-user folder (:func:`cache_dir`: ``$HARDSAMPLE_CACHE``, else
``$XDG_CACHE_HOME/hardsample/benchmarks``, else ``~/.cache/hardsample/benchmarks``,
created with mode 0o700), never in a shared, predictable path. A cached model is
reused only when both its settings and the code that fits it are the same: the key
includes :func:`code_version` (hardsample's version and a hash of the sources of the
subpackage that fits it), so editing a generator invalidates its caches.

Models are stored without pickle (:func:`save_model`, :func:`load_model`): a
``torch.save`` file of tensors and plain data (the fitted attributes; every torch module
as its ``state_dict``), read back with ``torch.load(weights_only=True)``, which runs no
code from the file. Loading rebuilds the modules' architecture from the estimator's
own code: the template is fitted for zero epochs on a few rows stored with the state,
then every fitted attribute is overwritten from the file.
"""

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

PACKAGE = Path(__file__).resolve().parents[1] / "hardsample"
#: Format of the files :func:`save_model` writes (a file of another format is refitted).
FORMAT = "hardsample-benchmarks-model/1"
#: Rows of the training data kept with a model, to rebuild its architecture.
SKELETON_ROWS = 32


def cache_dir():
    """The per-user cache folder, created (mode 0o700) if needed.

    ``$HARDSAMPLE_CACHE`` if set, else ``$XDG_CACHE_HOME/hardsample/benchmarks``, else
    ``~/.cache/hardsample/benchmarks``. A folder owned by another user, or that others
    may write to, is refused: a cache there could be swapped under us.
    """
    if os.environ.get("HARDSAMPLE_CACHE"):
        folder = Path(os.environ["HARDSAMPLE_CACHE"]).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(base).expanduser() / "hardsample" / "benchmarks"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        raise PermissionError(
            f"the cache folder {folder} belongs to another user or others may write to it; "
            "set HARDSAMPLE_CACHE to a folder of your own")
    return folder


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


def _fitted_names(estimator):
    return sorted(k for k in vars(estimator) if k.endswith("_") and not k.startswith("_"))


def _encode(value):
    """``value`` as tensors and plain data (``torch.load(weights_only=True)`` reads them)."""
    import torch
    from sklearn.base import BaseEstimator

    if isinstance(value, torch.nn.Module):
        return {"module": repr(value), "state": value.state_dict()}
    if isinstance(value, torch.Tensor):
        return {"tensor": value.detach().cpu(), "parameter": isinstance(value, torch.nn.Parameter)}
    if isinstance(value, np.ndarray) and value.dtype != object:
        return {"ndarray": torch.from_numpy(np.ascontiguousarray(value)),
                "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if isinstance(value, BaseEstimator):
        return {"estimator": type(value).__name__,
                "fitted": {k: _encode(getattr(value, k)) for k in _fitted_names(value)}}
    if isinstance(value, (list, tuple)):
        return type(value)(_encode(v) for v in value)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"no plain format for a fitted attribute of type {type(value).__name__}")


def _decode(stored, current):
    """The value ``stored`` describes; modules and estimators are restored into
    ``current`` (the skeleton's), after checking they have the same architecture."""
    import torch

    if isinstance(stored, (list, tuple)):
        same = isinstance(current, (list, tuple)) and len(current) == len(stored)
        return type(stored)(_decode(s, c) for s, c in zip(
            stored, current if same else [None] * len(stored)))
    if not isinstance(stored, dict):
        return stored
    if "module" in stored:
        if repr(current) != stored["module"]:
            raise ValueError("the cached module's architecture differs from the rebuilt one")
        current.load_state_dict(stored["state"])
        return current
    if "tensor" in stored:
        tensor = stored["tensor"]
        return torch.nn.Parameter(tensor, requires_grad=False) if stored["parameter"] else tensor
    if "ndarray" in stored:
        return stored["ndarray"].numpy().astype(np.dtype(stored["dtype"]), copy=False)
    if "device" in stored:
        return torch.device(stored["device"])
    if "estimator" in stored:
        _restore(current, stored)
        return current
    return {k: _decode(v, (current or {}).get(k) if isinstance(current, dict) else None)
            for k, v in stored["dict"].items()}


def _restore(estimator, stored):
    if type(estimator).__name__ != stored["estimator"] or \
            set(_fitted_names(estimator)) != set(stored["fitted"]):
        raise ValueError(f"the cached {stored['estimator']} has other fitted attributes")
    for name, value in stored["fitted"].items():
        setattr(estimator, name, _decode(value, getattr(estimator, name)))


def _skeleton_rows(X):
    """A few rows of ``X`` with its minimum and maximum value (a generator may choose its
    likelihood from the data's range), enough to rebuild the fitted architecture."""
    flat = X.reshape(len(X), -1)
    rows = np.unique(np.r_[np.arange(min(len(X), SKELETON_ROWS - 2)),
                           np.argmin(flat.min(1)), np.argmax(flat.max(1))])
    return np.ascontiguousarray(X[rows])


def _zero_epochs(template):
    """``template`` set to train for no epoch (0, or 1 where 0 is not allowed)."""
    from sklearn.base import clone

    skeleton = clone(template)
    names = [k for k in skeleton.get_params() if k.split("__")[-1] == "max_epochs"]
    return skeleton.set_params(**dict.fromkeys(names, 0)), names


def save_model(path, model, X, settings):
    """Write ``model`` (fitted on ``X``) to ``path`` as tensors and plain data.

    Parameters
    ----------
    path : path
    model : estimator
        A fitted scikit-learn-style estimator whose fitted attributes are torch
        modules, tensors, NumPy arrays, nested estimators and plain data.
    X : ndarray
        Its training data (a few rows are kept to rebuild the architecture).
    settings : dict
        JSON-serialisable settings; :func:`load_model` refuses a file with others.
    """
    import torch

    state = {"format": FORMAT, "settings": json.dumps(settings, sort_keys=True),
             "skeleton": torch.from_numpy(_skeleton_rows(np.asarray(X))),
             "model": _encode(model)}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_model(path, template, settings):
    """The model :func:`save_model` wrote at ``path``, rebuilt from ``template``.

    The file is read with ``torch.load(weights_only=True)``: tensors and plain data
    only, nothing in it runs. ``template`` (the unfitted estimator the model was fitted
    from) is fitted for zero epochs on the stored rows, which builds the same
    architecture; then every fitted attribute is set from the file.

    Raises
    ------
    ValueError
        If the file is not such a model, was written with other ``settings``, or does
        not fit the rebuilt architecture.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (not a zip), EOFError, ...
        raise ValueError(f"{path} is not a model file torch.load(weights_only=True) reads: "
                         f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a model file of format {FORMAT}")
    if state["settings"] != json.dumps(settings, sort_keys=True):
        raise ValueError(f"{path} was written with other settings")
    skeleton, epochs = _zero_epochs(template)
    try:
        skeleton.fit(state["skeleton"].numpy())
    except ValueError:  # an estimator that trains at least one epoch
        skeleton.set_params(**dict.fromkeys(epochs, 1)).fit(state["skeleton"].numpy())
    skeleton.set_params(**{k: v for k, v in template.get_params().items() if k in epochs})
    try:
        _restore(skeleton, state["model"])
    except (KeyError, TypeError, RuntimeError) as exc:  # e.g. state_dict keys or shapes
        raise ValueError(f"{path} does not fit the rebuilt model: {exc}") from exc
    return skeleton


def cached_fit(path, template, X, settings=None):
    """The model cached at ``path``, or ``clone(template).fit(X)``, cached there first.

    Parameters
    ----------
    path : path
        A file in :func:`cache_dir`.
    template : estimator
        Unfitted; cloned before fitting.
    X : ndarray
    settings : dict, default=None
        What the file must have been written with (``repr(template)`` by default).

    Returns
    -------
    model : estimator
    seconds : float
        Time spent in ``fit`` (0.0 when the model came from the cache).
    """
    from sklearn.base import clone

    settings = {"template": repr(template)} if settings is None else settings
    if Path(path).is_file():
        try:
            return load_model(path, template, settings), 0.0
        except ValueError as exc:
            print(f"cache {path} not used ({exc}); fitting again", flush=True)
    start = time.perf_counter()
    model = clone(template).fit(X)
    seconds = time.perf_counter() - start
    save_model(path, model, X, settings)
    return model, seconds
