"""Image data sets (MNIST, CIFAR-10) from local ``.npz`` files, with a download fallback.

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
    return _load_images(("mnist.npz",), data_home, download, openml_name="mnist_784",
                        n_train=60000, to_images=lambda X: X.reshape(-1, 28, 28))


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


def load_cifar10(data_home=None, *, download=True):
    """Load CIFAR-10: 32x32 colour images of 10 classes, height x width x channel uint8.

    Reads ``cifar10.npz`` (the full 50,000 + 10,000 images) or, failing that,
    ``cifar10_subset.npz`` (20,000 training images, 2,000 per class, plus the 10,000
    test images) from ``data_home``, then ``$HARDSAMPLE_DATA``; in each folder the full
    file comes first. Otherwise downloads CIFAR-10 with
    :func:`sklearn.datasets.fetch_openml` (``CIFAR_10``: 60,000 rows of 3,072 values
    in the original batches' channel-major layout, assumed to hold the 50,000
    training images first, as in the original files).

    Images are returned as stored (``(n, 32, 32, 3)`` uint8, HWC). Torch nets and the
    generators want channels-first floats in [0, 1]::

        X = data.X_train.transpose(0, 3, 1, 2).astype("float32") / 255.0  # (n, 3, 32, 32)

    Parameters
    ----------
    data_home : str or path-like, default=None
    download : bool, default=True
        Try the download when no file is found.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train`` (n_train, 32, 32, 3) uint8, ``y_train`` (n_train,) int64,
        ``X_test`` (10000, 32, 32, 3), ``y_test``, ``classes`` (the 10 class names)
        and ``path`` (the file read, or "openml").

    Raises
    ------
    FileNotFoundError
        No file and no download; the message names the files, ``data_home`` and
        ``HARDSAMPLE_DATA``.

    Examples
    --------
    >>> from hardsample.datasets import load_cifar10
    >>> cifar = load_cifar10(download=False)  # doctest: +SKIP
    >>> cifar.X_train.shape  # doctest: +SKIP
    (20000, 32, 32, 3)
    """
    data = _load_images(("cifar10.npz", "cifar10_subset.npz"), data_home, download,
                        openml_name="CIFAR_10", n_train=50000, to_images=_cifar_rows_to_hwc)
    data.classes = list(CIFAR10_CLASSES)
    return data


def _cifar_rows_to_hwc(X):
    # OpenML stores each image as 3072 values, channel-major (all red, green, blue).
    return np.ascontiguousarray(X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _load_images(names, data_home, download, *, openml_name, n_train, to_images):
    """The first of ``names`` found locally, else an OpenML download split at ``n_train``."""
    path, searched = find_data_file(names, data_home)
    if path is not None:
        return read_npz(path)
    if not download:
        raise _missing_file_error(names, data_home, searched, "download=False")
    try:
        from sklearn.datasets import fetch_openml

        X, y = fetch_openml(openml_name, version=1, return_X_y=True, as_frame=False,
                            data_home=data_home)
    except Exception as exc:  # noqa: BLE001 - any network/IO failure becomes one clear error
        cause = f"{type(exc).__name__}: {exc}"
        raise _missing_file_error(names, data_home, searched, cause) from exc
    X = to_images(np.asarray(X, dtype=np.uint8))
    y = np.asarray(y).astype(np.int64)
    return Bunch(X_train=X[:n_train], y_train=y[:n_train], X_test=X[n_train:],
                 y_test=y[n_train:], path="openml")
