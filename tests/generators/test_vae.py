"""VAETransformer(architecture="conv"): the convolutional VAE for images and masks."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from hardsample.datasets import make_vessel_masks
from hardsample.generators import SDFGenerator, VAETransformer


def _conv(**kwargs):
    params = dict(latent_dim=2, hidden_sizes=(32,), architecture="conv", channels=(8, 16),
                  max_epochs=2, batch_size=64, random_state=0)
    params.update(kwargs)
    return VAETransformer(**params)


@pytest.fixture(scope="module")
def images():
    from sklearn.datasets import load_digits

    return (load_digits().data[:300] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)


@pytest.fixture(scope="module")
def vessel_masks():
    return make_vessel_masks(24, size=32, random_state=0)[0].reshape(-1, 1, 32, 32)


@pytest.mark.parametrize("shape", [(1, 8, 8), (8, 8), (2, 8, 8)], ids=["nchw", "nhw", "2ch"])
def test_conv_round_trip_shapes(images, shape):
    X = images if shape[0] != 2 else np.concatenate([images, 1 - images], axis=1)
    X = X.reshape(len(X), *shape)
    vae = _conv().fit(X)
    Z = vae.transform(X)
    assert Z.shape == (len(X), 2) and Z.dtype == np.float32 and np.isfinite(Z).all()
    decoded = vae.inverse_transform(Z)
    assert decoded.shape == X.shape and vae.likelihood_ == "bernoulli"
    assert 0 <= decoded.min() and decoded.max() <= 1
    assert vae.sample(5, random_state=0).shape == (5, *shape)


def test_conv_decoder_is_differentiable_and_matches_inverse_transform(images):
    vae = _conv().fit(images)
    z = torch.as_tensor(vae.transform(images[:3])).requires_grad_(True)
    x = vae.decoder_(z)
    x.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    np.testing.assert_allclose(x.detach().numpy(), vae.inverse_transform(z.detach().numpy()),
                               atol=1e-6)


def test_conv_is_deterministic_given_random_state(images):
    first = _conv().fit(images)
    again = clone(first).fit(images)
    np.testing.assert_array_equal(first.transform(images), again.transform(images))
    assert first.loss_curve_ == again.loss_curve_
    np.testing.assert_array_equal(first.sample(4, random_state=1), again.sample(4, random_state=1))
    other = _conv(random_state=1).fit(images)
    assert not np.array_equal(first.transform(images), other.transform(images))


def test_conv_encoding_does_not_depend_on_the_batch(images):
    """GroupNorm keeps no batch statistics: a sample's code is the same alone or in a batch."""
    vae = _conv().fit(images)
    alone = np.concatenate([vae.transform(images[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(alone, vae.transform(images)[:5], atol=1e-5)


def test_conv_learns(images):
    vae = _conv(latent_dim=3, channels=(16,), max_epochs=25, batch_size=32, lr=3e-3).fit(images)
    assert vae.loss_curve_[-1] < 0.9 * vae.loss_curve_[0]
    reconstruction = vae.inverse_transform(vae.transform(images))
    # better than predicting the mean image
    assert np.mean((reconstruction - images) ** 2) < 0.8 * np.mean((images.mean(0) - images) ** 2)


def test_conv_aggregate_prior_matches_the_codes(images):
    vae = _conv(prior="aggregate").fit(images)
    codes = vae.transform(images)
    np.testing.assert_allclose(vae.prior_mean_, codes.mean(0), atol=1e-4)
    np.testing.assert_allclose(vae.prior_scale_ @ vae.prior_scale_.T, np.cov(codes.T),
                               rtol=1e-3, atol=1e-4)


def test_mlp_stays_the_default(images):
    assert VAETransformer().architecture == "mlp"
    flat = images.reshape(len(images), -1)
    mlp = VAETransformer(latent_dim=2, hidden_sizes=(32,), max_epochs=1, random_state=0)
    explicit = clone(mlp).set_params(architecture="mlp", channels=(3,))  # channels unused
    np.testing.assert_array_equal(mlp.fit(flat).transform(flat),
                                  explicit.fit(flat).transform(flat))


def test_conv_bad_inputs(images):
    flat = images.reshape(len(images), -1)
    with pytest.raises(ValueError, match="architecture='conv' needs images.*shape \\(300, 64\\)"):
        _conv().fit(flat)
    with pytest.raises(ValueError, match="divisible by 2\\*\\*1 = 2; got images of 7x8"):
        _conv(channels=(4,)).fit(images[:, :, :7])
    with pytest.raises(ValueError, match="divisible by 2\\*\\*2 = 4; got images of 10x10"):
        _conv().fit(np.zeros((4, 1, 10, 10), np.float32) + 0.5)
    with pytest.raises(ValueError, match="channels must be a sequence of positive ints"):
        _conv(channels=(8, 0)).fit(images)
    with pytest.raises(ValueError, match="channels must hold at least one width"):
        _conv(channels=()).fit(images)
    with pytest.raises(ValueError, match="'architecture' parameter"):
        _conv(architecture="resnet").fit(images)
    with pytest.raises(ValueError, match="'channels' parameter"):
        _conv(channels="wide").fit(images)
    vae = _conv().fit(images)
    with pytest.raises(ValueError, match="sample shape"):
        vae.transform(images[:, :, :4, :4])


def test_conv_vae_composes_with_sdf_generator(vessel_masks):
    # the generator contract (codes, binary decodes, soft decoder) is in test_sdf.py
    conv = _conv(latent_dim=3, channels=(4, 8, 8), hidden_sizes=(16,), max_epochs=3)
    gen = SDFGenerator(conv, prior="aggregate").fit(vessel_masks)
    assert gen.generator_.likelihood_ == "gaussian"  # SDFs are not in [0, 1]
    # with holes=True the two maps (filled wall, lumen) are the conv VAE's two channels
    holes = SDFGenerator(conv, holes=True).fit(vessel_masks)
    assert holes.generator_.sample_shape_ == (1, 2, 32, 32)
    assert holes.sample(3, random_state=0).shape == (3, 1, 32, 32)
