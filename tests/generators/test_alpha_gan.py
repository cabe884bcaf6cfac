"""AlphaGANTransformer: the generator contract on colour images, checkpoints, CIFAR-10."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

from hardsample.generators import AlphaGANTransformer

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture
def cifar_home():
    """Folder holding cifar10_subset.npz (or cifar10.npz); skips where there is none."""
    for folder in (os.environ.get("HARDSAMPLE_DATA"), str(SHARED_DATA)):
        if folder and any((Path(folder) / name).is_file()
                          for name in ("cifar10.npz", "cifar10_subset.npz")):
            return folder
    pytest.skip("cifar10_subset.npz not found: set HARDSAMPLE_DATA to the folder holding it")


@pytest.fixture(scope="module")
def images():
    return np.random.RandomState(0).rand(24, 3, 32, 32).astype(np.float32)


def _gan(**kwargs):
    params = dict(latent_dim=3, channels=4, max_epochs=2, batch_size=8, random_state=0)
    params.update(kwargs)
    return AlphaGANTransformer(**params)


@pytest.fixture(scope="module")
def fitted(images):
    return _gan().fit(images)


def test_shapes_ranges_and_history(fitted, images):
    Z = fitted.transform(images)
    assert Z.shape == (len(images), 3) and Z.dtype == np.float32 and np.isfinite(Z).all()
    X_back = fitted.inverse_transform(Z)
    assert X_back.shape == images.shape
    assert X_back.min() >= 0.0 and X_back.max() <= 1.0
    S = fitted.sample(5, random_state=0)
    assert S.shape == (5, 3, 32, 32) and 0.0 <= S.min() and S.max() <= 1.0
    assert fitted.sample_shape_ == (3, 32, 32) and fitted.latent_dim_ == 3
    assert len(fitted.loss_curve_) == 2 == fitted.n_epochs_
    assert set(fitted.losses_) == {"reconstruction", "encoder_generator",
                                   "image_discriminator", "code_discriminator"}
    assert all(len(v) == 2 and np.isfinite(v).all() for v in fitted.losses_.values())
    assert 0.0 < fitted.reconstruction_error(images) < 1.0


def test_decoder_is_differentiable_and_matches_inverse_transform(fitted):
    z = torch.zeros(3, 3, requires_grad=True)
    x = fitted.decoder_(z)
    assert x.shape == (3, 3, 32, 32)
    x.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    np.testing.assert_allclose(x.detach().numpy(), fitted.inverse_transform(np.zeros((3, 3))),
                               atol=1e-6)
    assert not any(p.requires_grad for p in fitted.decoder_.parameters())


def test_reproducible_with_seed(fitted, images):
    again = clone(fitted).fit(images)
    np.testing.assert_array_equal(fitted.transform(images), again.transform(images))
    np.testing.assert_array_equal(fitted.sample(4, random_state=1), again.sample(4, random_state=1))
    other = clone(fitted).set_params(random_state=1).fit(images)
    assert not np.array_equal(fitted.transform(images), other.transform(images))


@pytest.mark.parametrize("bad, match", [
    (lambda X: X * 255.0, r"\[0, 1\]"),
    (lambda X: X - 0.5, r"\[0, 1\]"),
    (lambda X: X.transpose(0, 2, 3, 1), "channels"),
    (lambda X: X.reshape(len(X), -1), "height, width"),
    (lambda X: X[:, :, :, :20], "square"),
    (lambda X: X[:, :, :30, :30], "divisible by 8"),
])
def test_bad_input(images, bad, match):
    with pytest.raises(ValueError, match=match):
        _gan(max_epochs=1).fit(bad(images))


@pytest.mark.parametrize("param", [dict(channels=0), dict(latent_dim=0), dict(lr=0.0),
                                   dict(lambda_rec=-1.0), dict(batch_size=1.5)])
def test_bad_params(images, param):
    with pytest.raises(ValueError):
        _gan(max_epochs=1, **param).fit(images)


def test_transform_checks_sample_shape(fitted, images):
    with pytest.raises(ValueError, match="sample shape"):
        fitted.transform(images[:, :, :16, :16])


def _weights(gan):
    modules = (gan.encoder_, gan.decoder_, gan.image_discriminator_, gan.code_discriminator_)
    return [t for m in modules for t in m.state_dict().values()]


def test_checkpoint_resume_equals_uninterrupted_run(images, tmp_path):
    path = tmp_path / "gan.pt"
    first = _gan(max_epochs=2, checkpoint=path).fit(images)
    assert path.is_file() and first.n_epochs_ == 2 and len(first.epoch_seconds_) == 2
    resumed = _gan(max_epochs=3, checkpoint=path).fit(images)
    assert resumed.n_epochs_ == 3 and len(resumed.epoch_seconds_) == 1  # one more epoch
    straight = _gan(max_epochs=3).fit(images)
    for a, b in zip(_weights(resumed), _weights(straight)):
        assert torch.equal(a, b)
    assert resumed.losses_ == straight.losses_
    # Fitting again on the finished checkpoint trains nothing and loads the same state.
    again = _gan(max_epochs=3, checkpoint=path).fit(images)
    assert again.epoch_seconds_ == [] and again.n_epochs_ == 3
    np.testing.assert_array_equal(again.transform(images), straight.transform(images))


def test_checkpoint_mismatch_raises(images, tmp_path):
    path = tmp_path / "gan.pt"
    _gan(max_epochs=2, checkpoint=path).fit(images)
    with pytest.raises(ValueError, match="other settings"):
        _gan(max_epochs=3, lr=1e-3, checkpoint=path).fit(images)
    with pytest.raises(ValueError, match="other settings"):
        _gan(max_epochs=3, checkpoint=path).fit(images[:20])
    with pytest.raises(ValueError, match="more than max_epochs"):
        _gan(max_epochs=1, checkpoint=path).fit(images)


def test_fits_cifar10_and_mines_two_snn_rounds(cifar_home):
    from skorch import NeuralNetClassifier

    from hardsample import LatentHardMiningClassifier
    from hardsample.datasets import load_cifar10
    from hardsample.nets import VGGNet

    data = load_cifar10(cifar_home, download=False)
    X = (data.X_train[:300].transpose(0, 3, 1, 2) / 255.0).astype(np.float32)
    y = data.y_train[:300]
    gan = _gan(max_epochs=1, batch_size=32)
    net = NeuralNetClassifier(VGGNet, module__width=0.125, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-3, max_epochs=2,
                              batch_size=32, verbose=0)
    clf = LatentHardMiningClassifier(net, gan, sampler="nearest", initial_size=20,
                                     round_size=20, n_rounds=2, retrain="scratch",
                                     random_state=0).fit(X, y)
    assert len(clf.labeled_indices_) == 40 and len(set(clf.labeled_indices_)) == 40
    assert clf.generator_.latent_dim_ == 3 and clf.latent_codes_.shape == (300, 3)
    assert clf.predict(X[:5]).shape == (5,)
    # The score is the accuracy of the net's most probable class, computed here anew.
    predicted = clf.classes_[clf.net_.predict_proba(X[:50]).argmax(axis=1)]
    assert clf.score(X[:50], y[:50]) == pytest.approx(np.mean(predicted == y[:50]))


class _RunsCode:
    """Unpickling this calls ``open(marker, "w")``: a stand-in for any code a file could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_checkpoint_that_runs_code_is_refused_with_no_side_effect(images, tmp_path, how):
    import pickle

    path, marker = tmp_path / "gan.pt", tmp_path / "ran"
    _gan(max_epochs=1, checkpoint=path).fit(images)
    if how == "torch.save":  # a real checkpoint with one object slipped in
        state = torch.load(path, weights_only=True)
        state["settings"] = _RunsCode(marker)
        torch.save(state, path)
    else:  # a bare pickle stream (torch.load's legacy format)
        path.write_bytes(pickle.dumps({"settings": _RunsCode(marker)}, protocol=2))
    with pytest.raises(ValueError, match=r"gan\.pt is not a safe, valid AlphaGANTransformer "
                                         r"checkpoint.*weights_only=True.*Nothing in it was run"):
        _gan(max_epochs=2, checkpoint=path).fit(images)
    assert not marker.exists()


def test_checkpoint_of_another_structure_is_refused(images, tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match=r"other\.pt is not an AlphaGANTransformer checkpoint"):
        _gan(checkpoint=path).fit(images)


def test_checkpoint_settings_are_plain_data(images, tmp_path):
    path = tmp_path / "gan.pt"
    _gan(max_epochs=1, lr=np.float64(2e-4), latent_dim=np.int64(3),
         random_state=np.random.RandomState(0), checkpoint=path).fit(images)
    state = torch.load(path, weights_only=True)  # would raise on anything but plain data
    params = state["settings"]["params"]
    assert type(params["lr"]) is float and type(params["latent_dim"]) is int
    assert params["random_state"] == "<RandomState>"
