"""Tests of the synthetic vessel masks and the finite-element stress solver."""

import numpy as np
import pytest
from scipy import ndimage
from sklearn.base import clone

from hardsample.datasets.vessels import (
    MaskError,
    SolverError,
    VesselStressSolver,
    make_vessel_masks,
)

CROSS = ndimage.generate_binary_structure(2, 1)


def ring(size=64, inner=10.0, outer=20.0):
    """Pixels whose centre lies at a radius in [inner, outer] from the image centre."""
    y, x = np.mgrid[:size, :size] + 0.5
    radius = np.hypot(x - size / 2, y - size / 2)
    return ((radius >= inner) & (radius <= outer)).astype(np.float32), radius


def lame_von_mises(radius, inner, outer, pressure, nu):
    """Plane-strain von Mises stress of Lame's thick-walled cylinder (sigma_zz = nu tr)."""
    a = pressure * inner**2 / (outer**2 - inner**2)
    b = a * outer**2
    # s_rr - s_tt = -2b/r^2, s_tt - s_zz = a (1 - 2 nu) + b/r^2, s_zz - s_rr = b/r^2 - a (1 - 2 nu)
    return np.sqrt(3.0 * b**2 / radius**4 + (a * (1.0 - 2.0 * nu)) ** 2)


def lumen_of(mask):
    labels, _ = ndimage.label(mask < 0.5, structure=CROSS)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return ~np.isin(labels, border) & (mask < 0.5)


@pytest.fixture(scope="module")
def vessels():
    return make_vessel_masks(3, random_state=7)


@pytest.fixture(scope="module")
def hyperelastic_maps(vessels):
    masks, lipid = vessels
    solver = VesselStressSolver()
    return solver(masks, lipid), solver(masks)


# ------------------------------------------------------------- make_vessel_masks


def test_make_vessel_masks_shapes_dtype_and_encoding():
    masks, lipid = make_vessel_masks(12, random_state=0)
    assert masks.shape == lipid.shape == (12, 64, 64)
    assert masks.dtype == lipid.dtype == np.float32
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert set(np.unique(lipid)) <= {0.0, 1.0}
    assert np.all(lipid <= masks)  # lipid is part of the wall
    assert lipid.sum(axis=(1, 2)).max() > 0
    wall_pixels = masks.sum(axis=(1, 2))
    assert np.all((wall_pixels >= 800) & (wall_pixels <= 2200))
    for mask in masks:
        _, n_walls = ndimage.label(mask > 0.5, structure=CROSS)
        assert n_walls == 1
        _, n_regions = ndimage.label(mask < 0.5, structure=CROSS)
        # One outside region plus exactly one enclosed lumen.
        assert n_regions == 2
        assert lumen_of(mask).sum() > 20


def test_make_vessel_masks_reproducible_and_seed_dependent():
    first = make_vessel_masks(4, random_state=3)
    second = make_vessel_masks(4, random_state=np.random.RandomState(3))
    other = make_vessel_masks(4, random_state=4)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


def test_make_vessel_masks_without_lipid_and_other_sizes():
    masks, lipid = make_vessel_masks(3, size=32, lipid=False, random_state=1)
    assert masks.shape == (3, 32, 32)
    assert not lipid.any()
    small, _ = make_vessel_masks(2, size=16, random_state=1)
    assert small.shape == (2, 16, 16) and small.sum() > 0


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"n_samples": 0}, ValueError),
        ({"n_samples": 2.5}, TypeError),
        ({"n_samples": True}, TypeError),
        ({"n_samples": 2, "size": 8}, ValueError),
        ({"n_samples": 2, "size": 64.0}, TypeError),
        ({"n_samples": 2, "lipid": "yes"}, TypeError),
    ],
)
def test_make_vessel_masks_validates_arguments(kwargs, error):
    with pytest.raises(error):
        make_vessel_masks(**kwargs)


# ------------------------------------------------------------------ accuracy


@pytest.mark.parametrize("nu", [0.49, 0.4999])
def test_linear_ring_matches_lame(nu):
    # All wall pixels count, the staircase boundary rows included.
    mask, radius = ring()
    solver = VesselStressSolver(pressure_kpa=1.0, material="linear", poisson_ratio=nu)
    stress = solver(mask)
    wall = mask > 0
    expected = lame_von_mises(radius[wall], 10.0, 20.0, 1.0, nu)
    relative_error = np.abs(stress[wall] - expected) / expected
    assert np.median(relative_error) < 0.04


def test_plain_q1_locks_near_incompressibility():
    mask, radius = ring()
    wall = mask > 0
    expected = lame_von_mises(radius[wall], 10.0, 20.0, 1.0, 0.4999)
    errors = {}
    for formulation in ("q1p0", "q1"):
        solver = VesselStressSolver(
            pressure_kpa=1.0, material="linear", poisson_ratio=0.4999, formulation=formulation
        )
        errors[formulation] = np.median(np.abs(solver(mask)[wall] - expected) / expected)
    assert errors["q1p0"] < 0.04
    assert errors["q1"] > 0.2


def test_hyperelastic_agrees_with_linear_at_low_pressure():
    mask, _ = ring()
    wall = mask > 0
    hyper = VesselStressSolver(pressure_kpa=0.2)(mask)[wall]
    linear = VesselStressSolver(pressure_kpa=0.2, material="linear")(mask)[wall]
    assert np.median(np.abs(hyper - linear) / linear) < 0.01


def test_peak_stress_sits_at_lumen_border(vessels, hyperelastic_maps):
    masks, _ = vessels
    ring_mask, _ = ring()
    ring_stress = VesselStressSolver(pressure_kpa=1.0, material="linear")(ring_mask)
    maps = list(hyperelastic_maps[0]) + list(hyperelastic_maps[1]) + [ring_stress]
    for mask, stress in zip(list(masks) * 2 + [ring_mask], maps):
        peak = np.unravel_index(np.argmax(stress), stress.shape)
        touches_lumen = ndimage.binary_dilation(lumen_of(mask), structure=np.ones((3, 3)))
        assert mask[peak] == 1 and touches_lumen[peak]


def test_rotation_and_flip_equivariance(vessels):
    masks, lipid = vessels
    mask, pool = masks[0], lipid[0]
    solver = VesselStressSolver()
    reference = solver(mask, pool)
    scale = reference.max()
    for transform in (np.rot90, np.fliplr, np.flipud, lambda a: np.rot90(a, 3)):
        rotated = solver(transform(mask), transform(pool))
        np.testing.assert_allclose(rotated, transform(reference), atol=1e-4 * scale)


# --------------------------------------------------------------- hyperelastic


def test_hyperelastic_maps_are_finite_positive_and_zero_outside(vessels, hyperelastic_maps):
    masks, lipid = vessels
    with_lipid, without_lipid = hyperelastic_maps
    for stress in (with_lipid, without_lipid):
        assert stress.shape == masks.shape and stress.dtype == np.float32
        assert np.all(np.isfinite(stress)) and np.all(stress >= 0)
        assert np.all(stress[masks == 0] == 0)
        assert np.all(stress[masks == 1] > 0)
        # Plausible magnitudes at 16 kPa: tens of kPa, peaks below a few hundred.
        assert 5.0 < np.median(stress[masks == 1]) < 100.0
        assert stress.max() < 500.0
    # The soft lipid changes the map, and carries little stress itself.
    assert np.abs(with_lipid - without_lipid).max() > 1.0
    pool = lipid == 1
    assert with_lipid[pool].mean() < 0.5 * without_lipid[pool].mean()


def test_single_mask_matches_batch(vessels, hyperelastic_maps):
    masks, lipid = vessels
    single = VesselStressSolver()(masks[1], lipid[1])
    assert single.shape == (64, 64)
    np.testing.assert_allclose(single, hyperelastic_maps[0][1], rtol=1e-5, atol=1e-4)


def test_zero_pressure_gives_zero_stress(vessels):
    masks, _ = vessels
    assert not VesselStressSolver(pressure_kpa=0.0)(masks[0]).any()


def test_tangent_is_consistent_with_residual_and_energy(vessels):
    from hardsample.datasets import _fem
    from hardsample.datasets._masks import clean_wall

    wall, lumen = clean_wall(make_vessel_masks(1, size=24, random_state=0)[0][0])
    pixel_mesh = _fem.build_pixel_mesh(wall, lumen)
    rng = np.random.default_rng(0)
    for formulation in ("q1p0", "q1"):
        problem = _fem.WallProblem(pixel_mesh, formulation)
        n = pixel_mesh.mesh.nelements
        model = _fem._HyperelasticModel(
            problem, np.full(n, 92.0), np.full(n, 36.0), np.full(n, 2.0), np.full(n, 1e4), 16.0
        )
        u = rng.normal(0.0, 0.03, problem.basis.N)
        direction = rng.normal(size=problem.basis.N)
        residual, tangent = model.residual(u, 1.0, with_tangent=True)
        h = 1e-6
        plus, minus = u + h * direction, u - h * direction
        numeric = (model.residual(plus, 1.0) - model.residual(minus, 1.0)) / (2 * h)
        np.testing.assert_allclose(
            numeric, tangent @ direction, rtol=1e-5, atol=1e-6 * np.abs(numeric).max()
        )
        slope = (model.energy(plus, 1.0) - model.energy(minus, 1.0)) / (2 * h)
        np.testing.assert_allclose(slope, residual @ direction, rtol=1e-6)


# -------------------------------------------------------------- soft input


def test_soft_noisy_masks_are_cleaned(vessels):
    masks, _ = vessels
    rng = np.random.default_rng(0)
    mask = masks[2]
    soft = np.clip(ndimage.gaussian_filter(mask, 0.7) + rng.normal(0.0, 0.2, mask.shape), 0, 1)
    soft[lumen_of(mask) & (np.arange(64)[None, :] == 32)] = 0.9  # a speck line in the lumen
    soft[0, 0] = 1.0  # a detached speck outside
    stress = VesselStressSolver()(soft)
    assert np.all(np.isfinite(stress)) and stress[0, 0] == 0
    wall = stress > 0
    assert abs(int(wall.sum()) - int(mask.sum())) < 0.1 * mask.sum()


def test_diagonal_contacts_and_one_pixel_defects_are_repaired():
    from hardsample.datasets._masks import clean_wall

    mask, _ = ring()
    # Cut the right-hand wall and rejoin it by a bridge of pixels meeting only at
    # corners (hinges): as it is, the lumen would leak out through the bridge.
    mask[31:34, 40:56] = 0
    mask[31, 45] = mask[32, 46] = mask[33, 47] = 1
    mask[17, 32] = 0  # a one-pixel hole inside the wall
    mask[32, 12:14] = 0  # a one-pixel-wide notch in the outer border
    mask[1, 1] = 1  # a detached speck
    cleaned, lumen = clean_wall(mask)
    blocks = cleaned[:-1, :-1] & cleaned[1:, 1:] & ~cleaned[:-1, 1:] & ~cleaned[1:, :-1]
    anti = cleaned[:-1, 1:] & cleaned[1:, :-1] & ~cleaned[:-1, :-1] & ~cleaned[1:, 1:]
    assert not blocks.any() and not anti.any()
    assert cleaned[17, 32] and cleaned[32, 12] and not cleaned[1, 1]
    stress = VesselStressSolver(pressure_kpa=1.0, material="linear")(mask)
    assert np.all(np.isfinite(stress)) and stress[17, 32] > 0 and stress[1, 1] == 0


# ------------------------------------------------------------------- errors


def _two_lumens():
    mask, _ = ring(inner=0.0, outer=22.0)
    y, x = np.mgrid[:64, :64] + 0.5
    for cx in (24.0, 40.0):
        mask[np.hypot(x - cx, y - 32) < 5] = 0
    return mask


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda m: np.where(np.arange(64)[None, :] == 3, np.nan, m), "NaN or infinite"),
        (lambda m: np.where(np.arange(64)[None, :] == 3, np.inf, m), "NaN or infinite"),
        (lambda m: m * 1.5, "outside \\[0, 1\\]"),
        (lambda m: m - 0.5, "outside \\[0, 1\\]"),
        (lambda m: np.zeros_like(m), "empty wall"),
        (lambda m: ring(inner=0.0)[0], "no enclosed lumen"),
        (lambda m: _two_lumens(), "more than one lumen"),
    ],
)
def test_mask_errors_name_problem_and_sample(make, message):
    mask, _ = ring()
    batch = np.stack([mask, make(mask.copy())])
    with pytest.raises(MaskError, match=message) as info:
        VesselStressSolver()(batch)
    assert "sample 1" in str(info.value) or "sample(s) 1" in str(info.value)


@pytest.mark.parametrize(
    "masks",
    [np.zeros(64), np.zeros((2, 2, 64, 64)), np.zeros((64, 32)), np.zeros((3, 64, 63))],
)
def test_mask_errors_on_shape(masks):
    with pytest.raises(MaskError, match="square|2-D"):
        VesselStressSolver()(masks)


def test_lipid_shape_mismatch_is_a_mask_error(vessels):
    masks, lipid = vessels
    with pytest.raises(MaskError, match="lipid"):
        VesselStressSolver()(masks, lipid[:2])


@pytest.mark.parametrize("masks", [np.full((64, 64), "a"), np.zeros((64, 64), dtype=complex), None])
def test_non_numeric_masks_raise_type_error(masks):
    with pytest.raises(TypeError):
        VesselStressSolver()(masks)


def test_mask_error_is_a_value_error():
    assert issubclass(MaskError, ValueError) and issubclass(SolverError, RuntimeError)


@pytest.mark.parametrize(
    "params", [{"max_iter": 1}, {"pressure_kpa": 1e5, "max_step_cuts": 1}]
)
def test_solver_error_when_newton_fails(vessels, params):
    masks, _ = vessels
    with pytest.raises(SolverError, match="sample 0: Newton did not converge"):
        VesselStressSolver(**params)(masks[:1])


@pytest.mark.parametrize(
    "params, error",
    [
        ({"material": "steel"}, ValueError),
        ({"formulation": "p2"}, ValueError),
        ({"poisson_ratio": 0.5}, ValueError),
        ({"pressure_kpa": -1.0}, ValueError),
        ({"pressure_kpa": "high"}, TypeError),
        ({"max_iter": 0}, ValueError),
        ({"c1": 0.0}, ValueError),
    ],
)
def test_invalid_parameters(params, error):
    mask, _ = ring()
    with pytest.raises(error):
        VesselStressSolver(**params)(mask)


def test_sklearn_style_parameters():
    solver = VesselStressSolver(pressure_kpa=12.0, material="linear", poisson_ratio=0.45)
    params = clone(solver).get_params()
    assert params["pressure_kpa"] == 12.0 and params["material"] == "linear"
    assert params["c1"] == 92.0


# ------------------------------------------------------------------ canonicalize
def _soft_versions(masks, seed=0):
    rng = np.random.default_rng(seed)
    blurred = np.stack([ndimage.gaussian_filter(m, 0.7) for m in masks])
    return np.clip(blurred + rng.normal(0.0, 0.2, masks.shape), 0, 1)


def test_canonicalize_is_binary_idempotent_and_keeps_the_shape(vessels):
    masks, _ = vessels
    solver = VesselStressSolver()
    soft = _soft_versions(masks)
    walls = solver.canonicalize(soft)
    assert walls.shape == soft.shape and walls.dtype == np.float32
    assert set(np.unique(walls)) == {0.0, 1.0}
    np.testing.assert_array_equal(solver.canonicalize(walls), walls)
    np.testing.assert_array_equal(solver.canonicalize(soft[0]), walls[0])  # one 2-D mask
    np.testing.assert_array_equal(solver.canonicalize(masks), masks)  # clean masks unchanged


def test_canonical_masks_give_back_their_stored_targets(vessels):
    from hardsample.oracles import LabelingToolOracle

    masks, _ = vessels
    solver = VesselStressSolver(smoothing_iterations=5)
    soft = _soft_versions(masks[:2], seed=1)
    result = LabelingToolOracle(solver).label(soft)  # uses solver.canonicalize
    assert not result.errors
    assert set(np.unique(result.inputs)) == {0.0, 1.0}
    again = solver(result.inputs)
    for stored, relabeled in zip(result.labels, again):
        np.testing.assert_array_equal(relabeled, stored)
    np.testing.assert_array_equal(result.labels, solver(soft))  # the same as the soft masks


def test_canonicalize_rejects_bad_masks_with_mask_errors():
    solver = VesselStressSolver()
    with pytest.raises(MaskError, match="empty wall"):
        solver.canonicalize(np.zeros((1, 64, 64)))
    with pytest.raises(MaskError, match="outside"):
        solver.canonicalize(np.full((64, 64), 1.5))
