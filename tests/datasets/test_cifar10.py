"""load_cifar10: the local file, its preference order, the offline error, the download path."""

import os
from pathlib import Path

import numpy as np
import pytest

from hardsample.datasets import load_cifar10
from hardsample.datasets.images import DATA_ENV

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture
def cifar_home():
    """Folder holding cifar10_subset.npz (or cifar10.npz); skips where there is none."""
    for folder in (os.environ.get(DATA_ENV), str(SHARED_DATA)):
        if folder and any((Path(folder) / name).is_file()
                          for name in ("cifar10.npz", "cifar10_subset.npz")):
            return folder
    pytest.skip("cifar10_subset.npz not found: set HARDSAMPLE_DATA to the folder holding it")


def _fake_file(path, n_train=4, n_test=2):
    rng = np.random.RandomState(0)
    np.savez(path, X_train=rng.randint(0, 256, (n_train, 32, 32, 3)).astype(np.uint8),
             y_train=np.arange(n_train, dtype=np.int64) % 10,
             X_test=rng.randint(0, 256, (n_test, 32, 32, 3)).astype(np.uint8),
             y_test=np.arange(n_test, dtype=np.int64))


def test_load_cifar10_from_data_home(cifar_home):
    cifar = load_cifar10(cifar_home, download=False)
    assert cifar.X_train.ndim == 4 and cifar.X_train.shape[1:] == (32, 32, 3)
    assert cifar.X_train.dtype == np.uint8 and cifar.y_train.dtype == np.int64
    assert cifar.X_test.shape == (10000, 32, 32, 3)
    assert set(np.unique(cifar.y_test)) == set(range(10))
    assert cifar.classes[6] == "frog" and len(cifar.classes) == 10
    if cifar.path.endswith("cifar10_subset.npz"):
        assert cifar.X_train.shape[0] == 20000
        assert cifar.y_train[0] == 6  # official training image 0 is a frog
    X = cifar.X_train[:4].transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # documented
    assert X.shape == (4, 3, 32, 32) and 0.0 <= X.min() and X.max() <= 1.0


def test_load_cifar10_from_environment(cifar_home, monkeypatch):
    monkeypatch.setenv(DATA_ENV, cifar_home)
    assert load_cifar10(download=False).X_test.shape == (10000, 32, 32, 3)


def test_full_file_preferred_over_subset(tmp_path):
    _fake_file(tmp_path / "cifar10_subset.npz", n_train=4)
    assert load_cifar10(tmp_path, download=False).X_train.shape[0] == 4
    _fake_file(tmp_path / "cifar10.npz", n_train=6)
    data = load_cifar10(tmp_path, download=False)
    assert data.X_train.shape[0] == 6 and data.path.endswith("cifar10.npz")


def test_offline_error_names_files_folder_and_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "nowhere"))
    import sklearn.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    assert "cifar10.npz" in message and "cifar10_subset.npz" in message
    assert str(tmp_path) in message and DATA_ENV in message
    assert "network is unreachable" in message
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_cifar10(tmp_path, download=False)


def test_download_path_converts_openml_layout(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    import sklearn.datasets

    n = 50002
    X = np.zeros((n, 3072), dtype=np.uint8)
    X[0, :1024] = 255  # first image: all red (OpenML rows are channel-major)
    y = np.array([str(i % 10) for i in range(n)], dtype=object)
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", lambda *a, **k: (X, y))
    data = load_cifar10(tmp_path)
    assert data.path == "openml"
    assert data.X_train.shape == (50000, 32, 32, 3) and data.X_test.shape == (2, 32, 32, 3)
    assert data.X_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert (data.X_train[0, :, :, 0] == 255).all() and (data.X_train[0, :, :, 1:] == 0).all()


def test_file_with_missing_keys(tmp_path):
    np.savez(tmp_path / "cifar10.npz", X_train=np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="lacks the arrays"):
        load_cifar10(tmp_path, download=False)


def test_cifar10_benchmark_smoke(cifar_home, tmp_path, monkeypatch):
    from hardsample.cli import main

    monkeypatch.setenv("HARDSAMPLE_CACHE", str(tmp_path / "cache"))

    argv = ["bench", "cifar10", "--data-home", cifar_home, "--pool-size", "100",
            "--test-size", "50", "--gan-channels", "4", "--gan-epochs", "1",
            "--vgg-width", "0.125", "--rounds", "2", "--initial-size", "10",
            "--round-size", "10", "--epochs", "1", "--seeds", "0", "--strategies",
            "nearest", "random", "--output-dir", str(tmp_path), "--tag", "smoke",
            "--no-progress"]
    assert main(argv) == 0
    for suffix in (".md", ".json", ".png", "_gan.png", "_records.csv"):
        assert (tmp_path / f"smoke{suffix}").is_file()
    text = (tmp_path / "smoke.md").read_text()
    assert "| nearest |" in text and "reconstruction MSE" in text
    # the α-GAN is cached in the per-user cache folder, without pickle
    assert len(list((tmp_path / "cache").glob("cifar10_alphagan_*_e1.pt"))) == 1
    assert not list(tmp_path.glob("*.pkl"))
