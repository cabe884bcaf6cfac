"""Image data sets from local ``.npz`` files, with a download fallback.

Files hold four arrays: ``X_train``, ``y_train``, ``X_test``, ``y_test`` (images as
uint8, labels as int64). They are looked up in ``data_home``, else in the folder named
by the ``HARDSAMPLE_DATA`` environment variable.
"""

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

DATA_ENV = "HARDSAMPLE_DATA"
KEYS = ("X_train", "y_train", "X_test", "y_test")


def find_data_file(names, data_home=None):
    """First existing file among ``names`` in ``data_home`` or ``$HARDSAMPLE_DATA``.

    Returns
    -------
    path : pathlib.Path or None
    searched : list of pathlib.Path
        Every path looked at, for error messages.
    """
    folders = [Path(data_home).expanduser()] if data_home is not None else []
    if os.environ.get(DATA_ENV):
        folders.append(Path(os.environ[DATA_ENV]).expanduser())
    searched = [folder / name for folder in folders for name in names]
    for path in searched:
        if path.is_file():
            return path, searched
    return None, searched


def read_npz(path):
    """Read the four arrays of a data-set file, checking keys and lengths."""
    with np.load(path) as archive:
        missing = [key for key in KEYS if key not in archive.files]
        if missing:
            raise ValueError(f"{path} lacks the arrays {missing}; expected keys {list(KEYS)}.")
        data = {key: archive[key] for key in KEYS}
    for split in ("train", "test"):
        if len(data[f"X_{split}"]) != len(data[f"y_{split}"]):
            raise ValueError(f"{path}: X_{split} and y_{split} have different lengths.")
    return Bunch(**data, path=str(path))


def _missing_file_error(names, data_home, searched, cause):
    looked = ", ".join(str(p) for p in searched) or "nowhere (no data_home, HARDSAMPLE_DATA unset)"
    return FileNotFoundError(
        f"Could not find {' or '.join(names)} (looked in: {looked}; data_home={data_home!r}, "
        f"${DATA_ENV}={os.environ.get(DATA_ENV)!r}) and the download failed: {cause}. "
        f"Put the file in a folder and pass data_home=<folder> or set {DATA_ENV}=<folder>."
    )


def load_mnist(data_home=None, *, download=True):
    """Load MNIST: 60,000 training and 10,000 test images of 28x28 digits.

    Reads ``mnist.npz`` from ``data_home`` or ``$HARDSAMPLE_DATA``; otherwise downloads
    MNIST with :func:`sklearn.datasets.fetch_openml` (first 60,000 rows = training
    set, as in the original files).

    Parameters
    ----------
    data_home : str or path-like, default=None
    download : bool, default=True
        Try the download when no file is found.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train`` (60000, 28, 28) uint8, ``y_train`` (60000,) int64, ``X_test``,
        ``y_test``, and ``path`` (the file read, or "openml").

    Raises
    ------
    FileNotFoundError
        No file and no download; the message names the file, ``data_home`` and
        ``HARDSAMPLE_DATA``.

    Examples
    --------
    >>> from hardsample.datasets import load_mnist
    >>> mnist = load_mnist()  # doctest: +SKIP
    >>> mnist.X_train.shape  # doctest: +SKIP
    (60000, 28, 28)
    """
    names = ("mnist.npz",)
    path, searched = find_data_file(names, data_home)
    if path is not None:
        return read_npz(path)
    if not download:
        raise _missing_file_error(names, data_home, searched, "download=False")
    try:
        from sklearn.datasets import fetch_openml

        X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False,
                            data_home=data_home)
    except Exception as exc:  # noqa: BLE001 - any network/IO failure becomes one clear error
        raise _missing_file_error(names, data_home, searched, f"{type(exc).__name__}: {exc}") from exc
    X = np.asarray(X, dtype=np.uint8).reshape(-1, 28, 28)
    y = np.asarray(y).astype(np.int64)
    return Bunch(X_train=X[:60000], y_train=y[:60000], X_test=X[60000:], y_test=y[60000:],
                 path="openml")
