"""The generator contract, shared by PCAGenerator and VAETransformer."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from hardsample.generators import PCAGenerator, VAETransformer


def _vae(**kwargs):
    params = dict(latent_dim=2, hidden_sizes=(32, 16), max_epochs=2, batch_size=64, random_state=0)
    params.update(kwargs)
    return VAETransformer(**params)


GENERATORS = [lambda: PCAGenerator(n_components=2), _vae]


@pytest.fixture(params=["flat", "images", "channels"])
def shaped(request, digits):
    X = digits[0][:300]
    shape = {"flat": (64,), "images": (8, 8), "channels": (1, 8, 8)}[request.param]
    return X.reshape(len(X), *shape)


@pytest.mark.parametrize("make", GENERATORS, ids=["pca", "vae"])
def test_round_trip_shapes(make, shaped):
    gen = make().fit(shaped)
    Z = gen.transform(shaped)
    assert Z.shape == (len(shaped), 2) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    X_back = gen.inverse_transform(Z)
    assert X_back.shape == shaped.shape
    assert gen.sample(5, random_state=0).shape == (5, *shaped.shape[1:])
    assert gen.sample_shape_ == shaped.shape[1:]


@pytest.mark.parametrize("make", GENERATORS, ids=["pca", "vae"])
def test_decoder_is_differentiable_and_matches_inverse_transform(make, digits):
    gen = make().fit(digits[0][:300])
    z = torch.zeros(3, 2, requires_grad=True)
    x = gen.decoder_(z)
    x.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    np.testing.assert_allclose(x.detach().numpy(), gen.inverse_transform(np.zeros((3, 2))), atol=1e-6)


@pytest.mark.parametrize("make", GENERATORS, ids=["pca", "vae"])
def test_reproducible_with_seed(make, digits):
    X = digits[0][:300]
    Z1 = make().fit(X).transform(X)
    Z2 = clone(make()).fit(X).transform(X)
    np.testing.assert_array_equal(Z1, Z2)
    gen = make().fit(X)
    np.testing.assert_array_equal(gen.sample(4, random_state=1), gen.sample(4, random_state=1))


def test_pca_reconstruction_matches_sklearn(digits):
    X = digits[0]
    gen = PCAGenerator(n_components=5, clip=False).fit(X)
    expected = gen.pca_.inverse_transform(gen.pca_.transform(X))
    np.testing.assert_allclose(gen.inverse_transform(gen.transform(X)), expected, atol=1e-4)
    np.testing.assert_allclose(gen.transform(X), gen.pca_.transform(X), atol=1e-4)


def test_vae_learns(digits):
    X = digits[0]
    vae = _vae(latent_dim=3, hidden_sizes=(64,), max_epochs=30, lr=3e-3).fit(X)
    assert vae.likelihood_ == "bernoulli"
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    reconstruction = vae.inverse_transform(vae.transform(X))
    assert reconstruction.min() >= 0 and reconstruction.max() <= 1
    # Better than predicting the mean image.
    assert np.mean((reconstruction - X) ** 2) < np.mean((X.mean(0) - X) ** 2)


def test_vae_gaussian_for_unscaled_data(digits):
    X = digits[0] * 16.0
    vae = _vae().fit(X)
    assert vae.likelihood_ == "gaussian"
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    # No sigmoid on a Gaussian decoder: reconstructions reach the data's scale (0..16).
    assert vae.inverse_transform(vae.transform(X)).max() > 8.0


@pytest.mark.parametrize("make", GENERATORS, ids=["pca", "vae"])
def test_bad_input(make, digits):
    X = digits[0][:100].copy()
    gen = make()
    X_nan = X.copy()
    X_nan[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gen.fit(X_nan)
    with pytest.raises(ValueError):
        gen.fit(X[:1])
    with pytest.raises(TypeError):
        gen.fit(np.array([["a", "b"], ["c", "d"]]))
    gen.fit(X)
    with pytest.raises(ValueError, match="sample shape"):
        gen.transform(X[:, :10])
    with pytest.raises(ValueError, match="shape"):
        gen.inverse_transform(np.zeros((2, 7)))
    with pytest.raises(ValueError):
        gen.sample(-1)


def test_transform_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PCAGenerator().transform(np.zeros((2, 3)))


def test_vae_parameter_errors(digits):
    X = digits[0][:50]
    with pytest.raises(ValueError, match="latent_dim"):
        _vae(latent_dim=0).fit(X)
    with pytest.raises(ValueError, match="likelihood"):
        _vae(likelihood="poisson").fit(X)
    with pytest.raises(ValueError, match="bernoulli"):
        _vae(likelihood="bernoulli").fit(X * 3)
    with pytest.raises(ValueError, match="batch_size"):
        _vae(batch_size=0).fit(X)
    with pytest.raises(ValueError, match="hidden_sizes"):
        _vae(hidden_sizes="ab").fit(X)
    with pytest.raises(ValueError, match="lr"):
        _vae(lr=-1.0).fit(X)


def test_pca_needs_a_latent_dimension(digits):
    with pytest.raises(ValueError, match="n_components"):
        PCAGenerator(n_components=0).fit(digits[0])


def test_pca_clips_decodes_to_the_data_range_but_not_its_decoder(digits):
    X = digits[0]
    raw = PCAGenerator(n_components=5, clip=False).fit(X)
    gen = PCAGenerator(n_components=5).fit(X)
    Z = 3 * gen.sample_codes(50, random_state=0)
    unclipped = raw.inverse_transform(Z)
    assert unclipped.min() < X.min() and unclipped.max() > X.max()  # a linear decoder overshoots
    decoded = gen.inverse_transform(Z)
    assert decoded.min() == X.min() and decoded.max() == X.max()
    np.testing.assert_allclose(decoded, np.clip(unclipped, X.min(), X.max()), atol=1e-6)
    # decoder_ stays linear: gradients do not vanish where the decode is clipped
    z = torch.as_tensor(Z[:1]).requires_grad_(True)
    gen.decoder_(z).sum().backward()
    assert z.grad.abs().sum() > 0
    with pytest.raises(TypeError, match="clip must be a bool"):
        PCAGenerator(clip="yes").fit(X)


@pytest.mark.parametrize("make", GENERATORS, ids=["pca", "vae"])
def test_standard_prior_draws_exactly_the_standard_normal_numbers(make, digits):
    gen = make().fit(digits[0][:300])
    expected = np.random.RandomState(3).standard_normal((7, 2)).astype(np.float32)
    np.testing.assert_array_equal(gen.sample_codes(7, np.random.RandomState(3)), expected)
    np.testing.assert_array_equal(gen.sample(7, random_state=3), gen.inverse_transform(expected))


@pytest.mark.parametrize("make", GENERATORS, ids=["pca", "vae"])
def test_aggregate_prior_matches_the_training_codes(make, digits):
    X = digits[0][:300]
    gen = make().set_params(prior="aggregate").fit(X)
    codes = gen.transform(X)
    np.testing.assert_allclose(gen.prior_mean_, codes.mean(0), atol=1e-4)
    np.testing.assert_allclose(gen.prior_scale_ @ gen.prior_scale_.T, np.cov(codes.T),
                               rtol=1e-3, atol=1e-4)
    Z = gen.sample_codes(20000, random_state=0)
    np.testing.assert_allclose(Z.mean(0), codes.mean(0), atol=0.05 * codes.std(0).max())
    np.testing.assert_allclose(np.cov(Z.T), np.cov(codes.T), rtol=0.1, atol=0.05)
    # the same standard normal numbers, transformed: mean + eps @ L.T
    eps = np.random.RandomState(5).standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(gen.sample_codes(4, np.random.RandomState(5)),
                               gen.prior_mean_ + eps @ gen.prior_scale_.T, rtol=1e-5)


def test_bad_prior(digits):
    with pytest.raises(ValueError, match="prior must be 'standard' or 'aggregate'"):
        PCAGenerator(prior="gaussian").fit(digits[0][:50])
    with pytest.raises(ValueError, match="n_samples must be a non-negative int"):
        PCAGenerator().fit(digits[0][:50]).sample_codes(-1)
