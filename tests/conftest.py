import importlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from sklearn.datasets import load_digits

from hardsample.nets import MLP

torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_classifier_net(**kwargs):
    params = dict(criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=1e-2,
                  max_epochs=5, verbose=0)
    params.update(kwargs)
    return NeuralNetClassifier(MLP, **params)


def make_regressor_net(**kwargs):
    params = dict(optimizer=torch.optim.Adam, lr=1e-2, max_epochs=5, verbose=0)
    params.update(kwargs)
    return NeuralNetRegressor(MLP, **params)


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture
def data_home():
    """Folder with the real data files; skips where this checkout has none."""
    folder = os.environ.get("HARDSAMPLE_DATA") or (str(SHARED_DATA) if SHARED_DATA.is_dir() else None)
    if folder is None or not (Path(folder) / "mnist.npz").is_file():
        pytest.skip("mnist.npz not found: set HARDSAMPLE_DATA to the folder holding it")
    return folder


def require_or_skip(condition, reason):
    """Skip the calling test when ``condition`` is false, but fail it under ``CI=true``.

    For tests that need something outside Python (a browser, a driver): a developer's
    machine may lack it and skips with ``reason``, while CI installs it, so a missing
    requirement there is a broken CI set-up and must not pass as a skip.
    """
    if condition:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true: CI must provide it)", pytrace=False)
    pytest.skip(reason)
def importorskip_unless_ci(name, reason=None):
    """Import a test-extra module; skip where it is missing, but fail under ``CI=true``.

    A CI job installs the ``test`` extra, so a missing module there is a broken
    environment that would otherwise turn tests into silent skips. Data files (MNIST,
    CIFAR-10) are not test extras and keep their plain skips.

    Parameters
    ----------
    name : str
        Module to import (e.g. ``"faiss"``, ``"dask.array"``).
    reason : str, optional
        Why the test needs it, shown in the skip or the failure.

    Returns
    -------
    module
    """
    if os.environ.get("CI", "").strip().lower() != "true":
        return pytest.importorskip(name, reason=reason)
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        pytest.fail(f"CI=true but {name!r} cannot be imported ({exc}); install the test extra "
                    f"(pip install -e '.[test]'){': ' + reason if reason else ''}.",
                    pytrace=False)
