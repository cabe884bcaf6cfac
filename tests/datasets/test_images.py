import numpy as np
import pytest

from hardsample.datasets import load_mnist
from hardsample.datasets.images import DATA_ENV


def test_load_mnist_from_data_home(data_home):
    mnist = load_mnist(data_home)
    assert mnist.X_train.shape == (60000, 28, 28) and mnist.X_train.dtype == np.uint8
    assert mnist.X_test.shape == (10000, 28, 28)
    assert mnist.y_train.dtype == np.int64
    np.testing.assert_array_equal(mnist.y_train[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])


def test_load_mnist_from_environment(data_home, monkeypatch):
    monkeypatch.setenv(DATA_ENV, data_home)
    assert load_mnist().X_test.shape == (10000, 28, 28)


def test_offline_error_names_file_folder_and_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "nowhere"))
    import sklearn.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert "mnist.npz" in message and str(tmp_path) in message
    assert DATA_ENV in message and "network is unreachable" in message
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_mnist(tmp_path, download=False)


def test_file_with_missing_keys(tmp_path):
    np.savez(tmp_path / "mnist.npz", X_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="lacks the arrays"):
        load_mnist(tmp_path)
