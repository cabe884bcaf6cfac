"""Signed distance maps of masks and the SDFGenerator around PCA and VAE generators."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from hardsample.datasets import VesselStressSolver, make_vessel_masks
from hardsample.generators import PCAGenerator, SDFGenerator, SignedDistanceTransformer, \
    VAETransformer
from hardsample.generators.sdf import signed_distance


@pytest.fixture(scope="module")
def masks():
    return make_vessel_masks(60, random_state=0)[0].reshape(-1, 1, 64, 64)


def test_signed_distance_sign_and_exact_round_trip(masks):
    mask = masks[0, 0] > 0.5
    sdf = signed_distance(mask)
    np.testing.assert_array_equal(sdf < 0, mask)
    assert np.abs(sdf).min() == 0.5  # the zero level lies on pixel edges
    # |gradient| is about 1 away from the medial axes (a distance map)
    grad = np.hypot(*np.gradient(sdf))
    assert np.median(grad) == pytest.approx(1.0, abs=0.05)
    assert (signed_distance(np.zeros((4, 4))) > 0).all()
    assert (signed_distance(np.ones((4, 4))) < 0).all()


def test_transformer_round_trip_scale_and_soft(masks):
    sdt = SignedDistanceTransformer(scale=4.0, truncate=6.0).fit(masks)
    sdf = sdt.transform(masks)
    assert sdf.shape == masks.shape and sdf.dtype == np.float32
    assert np.abs(sdf).max() == pytest.approx(1.5)  # truncated at 6 px, divided by 4
    np.testing.assert_array_equal(sdt.inverse_transform(sdf), masks)
    soft = sdt.inverse_transform(sdf, soft=True)
    assert ((soft > 0.5) == (masks > 0.5)).all() and 0 < soft.min() and soft.max() < 1
    with pytest.raises(ValueError, match="sample shape"):
        sdt.transform(masks[:, 0, :32, :32])
    with pytest.raises(ValueError, match="scale must be a positive number"):
        SignedDistanceTransformer(scale=0).fit(masks)
    with pytest.raises(ValueError, match="batch of images"):
        SignedDistanceTransformer().fit(np.zeros((3, 5)))


def _sdf_vae():
    return SDFGenerator(VAETransformer(latent_dim=3, hidden_sizes=(64,), max_epochs=5,
                                       random_state=0))


def _sdf_conv_vae():
    return SDFGenerator(VAETransformer(latent_dim=3, architecture="conv", channels=(4, 8, 8),
                                       hidden_sizes=(16,), max_epochs=3, random_state=0),
                        prior="aggregate")


@pytest.mark.parametrize("make", [lambda: SDFGenerator(PCAGenerator(3, random_state=0)), _sdf_vae,
                                  _sdf_conv_vae], ids=["pca", "vae", "conv-vae"])
def test_sdf_generator_contract(make, masks):
    gen = make().fit(masks)
    Z = gen.transform(masks[:5])
    assert Z.shape == (5, 3) and Z.dtype == np.float32
    decoded = gen.inverse_transform(Z)
    assert decoded.shape == (5, 1, 64, 64) and set(np.unique(decoded)) <= {0.0, 1.0}
    z = torch.as_tensor(Z).requires_grad_(True)
    soft = gen.decoder_(z)
    soft.sum().backward()
    assert z.grad.abs().sum() > 0 and torch.isfinite(z.grad).all()
    # the soft decoder is a relaxation of the binary decode: same 0.5 level set
    np.testing.assert_array_equal(soft.detach().numpy() > 0.5, decoded > 0.5)
    np.testing.assert_allclose(gen.encoder_(torch.as_tensor(masks[:5])).numpy(), Z, atol=1e-4)
    assert gen.sample(4, random_state=0).shape == (4, 1, 64, 64)
    np.testing.assert_array_equal(clone(make()).fit(masks).transform(masks[:5]), Z)


def _accepted(solver, X):
    return solver.accepts(X.reshape(len(X), 64, 64)).mean()


def test_sdf_pca_decodes_are_accepted_by_the_solver():
    """The point of SDFs: binary decodes with closed walls the solver meshes."""
    masks = make_vessel_masks(300, random_state=0)[0].reshape(-1, 1, 64, 64)
    held_out = make_vessel_masks(40, random_state=1)[0].reshape(-1, 1, 64, 64)
    solver = VesselStressSolver()
    gen = SDFGenerator(PCAGenerator(3, random_state=0)).fit(masks)
    rec = gen.inverse_transform(gen.transform(held_out))
    assert _accepted(solver, rec) == 1.0
    walls = solver.canonicalize(rec[:, 0])
    inter = (walls * held_out[:, 0]).sum((1, 2))
    union = np.maximum(walls, held_out[:, 0]).sum((1, 2))
    assert np.mean(inter / union) > 0.8
    assert _accepted(solver, gen.sample(100, random_state=0)) >= 0.97
    # the same PCA on the raw masks, unclipped, decodes values outside [0, 1]
    raw = PCAGenerator(3, random_state=0, clip=False).fit(masks)
    assert _accepted(solver, raw.sample(20, random_state=0)) == 0.0


def test_sdf_generator_rejects_a_non_generator(masks):
    with pytest.raises(TypeError, match="generator must be a generator estimator"):
        SDFGenerator("pca").fit(masks)


def test_holes_representation_round_trips_and_decodes_a_lumen(masks):
    sdt = SignedDistanceTransformer(holes=True).fit(masks)
    sdf = sdt.transform(masks)
    assert sdf.shape == (len(masks), 1, 2, 64, 64)
    assert (sdf[:, 0, 1] < 0).any(axis=(1, 2)).all()  # every vessel has a hole (its lumen)
    np.testing.assert_array_equal(sdt.inverse_transform(sdf), masks)
    soft = sdt.inverse_transform(sdf, soft=True)
    np.testing.assert_array_equal(soft > 0.5, masks > 0.5)
    gen = SDFGenerator(PCAGenerator(3, random_state=0), holes=True).fit(masks)
    Z = gen.transform(masks[:4])
    soft = gen.decoder_(torch.as_tensor(Z)).numpy()
    np.testing.assert_array_equal(soft > 0.5, gen.inverse_transform(Z) > 0.5)
    assert soft.shape == (4, 1, 64, 64)
