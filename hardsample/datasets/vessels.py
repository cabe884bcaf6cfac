"""Synthetic coronary vessel walls and a finite-element stress labelling tool.

The reproduced paper trains a network to replace a (private) finite-element
simulation mapping a segmentation of a coronary vessel wall to its structural
(von Mises) stress at peak blood pressure.  This module provides an open
stand-in:

* :func:`make_vessel_masks` draws realistic synthetic wall masks (eccentric
  plaque, optional lipid pool behind a fibrous cap);
* :class:`VesselStressSolver` is the labelling tool, a callable
  ``solver(masks) -> stress maps`` built on scikit-fem: plane strain, one
  bilinear element per wall pixel, nearly incompressible modified Mooney-Rivlin
  material (or linear elasticity), mixed Q1/P0 against locking, follower lumen
  pressure, Newton iterations.  It accepts the soft, noisy masks a VAE decoder
  produces: they are thresholded and repaired first.
"""

import numbers

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state, check_scalar

from ._fem import SolverError, WallProblem, build_pixel_mesh, solve_hyperelastic, solve_linear
from ._masks import MaskError, check_lipid, check_masks, clean_wall

__all__ = ["MaskError", "SolverError", "VesselStressSolver", "make_vessel_masks"]

_CROSS = ndimage.generate_binary_structure(2, 1)
_MAX_DRAWS = 50


# ----------------------------------------------------------------- validation


def _check_integer(value, name, min_val):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, not bool.")
    return int(check_scalar(value, name, numbers.Integral, min_val=min_val))


def _check_real(value, name, **bounds):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, not bool.")
    value = float(check_scalar(value, name, numbers.Real, **bounds))
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    return value


# ------------------------------------------------------------------ generator


def _fourier_profile(rng, orders, amplitude):
    """Relative radius ``1 + sum_k a_k cos(k angle - phase_k)`` of a smooth closed curve."""
    orders = np.asarray(orders, dtype=np.float64)
    coefficients = rng.uniform(0.0, amplitude, size=orders.size) / orders
    phases = rng.uniform(0.0, 2.0 * np.pi, size=orders.size)

    def profile(angle):
        angle = np.asarray(angle, dtype=np.float64)[..., None]
        return 1.0 + np.sum(coefficients * np.cos(orders * angle - phases), axis=-1)

    return profile


def _polar(points_x, points_y, centre):
    dx, dy = points_x - centre[0], points_y - centre[1]
    return np.hypot(dx, dy), np.arctan2(dy, dx)


def _draw_wall(rng, size):
    """One eccentric vessel wall: (wall, lumen centre, plaque angle, scale)."""
    scale = size / 64.0
    min_thickness = max(2.0, 2.5 * scale)
    y, x = np.mgrid[:size, :size] + 0.5  # pixel centres; x = column, y = row
    angles = np.linspace(0.0, 2.0 * np.pi, 360, endpoint=False)

    centre = size / 2.0 + rng.uniform(-1.5, 1.5, size=2) * scale
    outer_profile = _fourier_profile(rng, (2, 3, 4), 0.10)
    room = np.min([centre[0], centre[1], size - centre[0], size - centre[1]]) - 1.5
    outer_mean = min(rng.uniform(21.0, 26.0) * scale, room / outer_profile(angles).max())
    lumen_profile = _fourier_profile(rng, (2, 3), 0.16)
    lumen_mean = max(2.5, rng.uniform(0.30, 0.52) * outer_mean)

    # Plaque thickening towards `plaque`: shift the lumen away from it so that
    # the opposite wall is `thin` pixels thick.
    plaque = rng.uniform(0.0, 2.0 * np.pi)
    opposite = plaque + np.pi
    free = outer_mean * outer_profile(opposite) - lumen_mean * lumen_profile(opposite)
    thin = rng.uniform(min_thickness, max(min_thickness, 0.7 * free))
    offset = max(0.0, free - thin)
    lumen_centre = centre - offset * np.array([np.cos(plaque), np.sin(plaque)])

    rho, theta = _polar(x, y, centre)
    rho_lumen, theta_lumen = _polar(x, y, lumen_centre)
    inside = rho < outer_mean * outer_profile(theta)
    lumen = rho_lumen < lumen_mean * lumen_profile(theta_lumen)
    return inside & ~lumen, lumen_centre, plaque, scale


def _thinnest_wall(wall, lumen):
    """Distance (pixels) from the lumen border to the outside, at its smallest."""
    to_outside = ndimage.distance_transform_edt(wall | lumen)
    border = wall & ndimage.binary_dilation(lumen, structure=_CROSS)
    return to_outside[border].min()


def _draw_lipid_pool(rng, wall, lumen, lumen_centre, plaque, scale):
    """A lipid pool behind a fibrous cap, in the thick (plaque) side of the wall."""
    size = wall.shape[0]
    y, x = np.mgrid[:size, :size] + 0.5
    _, theta = _polar(x, y, lumen_centre)
    direction = plaque + rng.normal(0.0, 0.2)
    half_width = rng.uniform(0.5, 1.1)
    cap = max(1.0, rng.uniform(1.0, 3.5) * scale)
    depth = rng.uniform(3.0, 9.0) * scale
    backing = max(2.0, rng.uniform(2.0, 3.5) * scale)

    from_lumen = ndimage.distance_transform_edt(~lumen)  # 1 for pixels touching the lumen
    to_outside = ndimage.distance_transform_edt(wall | lumen)
    offset = np.angle(np.exp(1j * (theta - direction)))
    profile = np.sqrt(np.clip(1.0 - (offset / half_width) ** 2, 0.0, None))
    pool = (
        wall
        & (np.abs(offset) < half_width)
        & (from_lumen >= 1.0 + cap)
        & (from_lumen <= 1.0 + cap + depth * profile)
        & (to_outside >= backing)
    )
    labels, n_labels = ndimage.label(pool, structure=_CROSS)
    if n_labels == 0:
        return pool
    largest = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    pool = ndimage.binary_fill_holes(largest) & wall
    return pool if pool.sum() >= 4 else np.zeros_like(pool)


def make_vessel_masks(n_samples, size=64, lipid=True, random_state=None):
    """Draw synthetic cross-sections of diseased coronary vessel walls.

    Each wall lies between a smooth random outer curve and a smooth random lumen
    curve (low-order Fourier perturbations of circles).  The lumen is shifted
    off-centre, which gives an eccentric plaque on one side and a thin wall
    (at least about 2 pixels) on the other.  Optionally, a lipid pool sits in
    the plaque behind a fibrous cap (at least one pixel) that separates it from
    the lumen, with fibrous tissue behind it too.  At ``size=64`` the wall
    covers roughly 1,000 to 1,900 pixels.

    Parameters
    ----------
    n_samples : int
        Number of vessels, at least 1.
    size : int, default=64
        Side of the square images in pixels, at least 16; the geometry scales
        with it (minimum thicknesses stay at about 2 pixels).
    lipid : bool, default=True
        Whether to draw a lipid pool in each vessel (when it fits).
    random_state : int, RandomState instance or None, default=None
        Seed; the same seed gives identical output.

    Returns
    -------
    masks : ndarray of shape (n_samples, size, size), dtype float32
        Wall masks: 1 on the vessel wall (fibrous tissue or lipid), 0 on the
        background (the lumen and the outside of the vessel).  Each wall is one
        4-connected component enclosing exactly one lumen, in the form
        :class:`VesselStressSolver` accepts without modification.
    lipid : ndarray of shape (n_samples, size, size), dtype float32
        1 where the wall is lipid (a subset of ``masks == 1``), 0 elsewhere; all
        zeros when ``lipid=False``.

    Raises
    ------
    TypeError
        If ``n_samples`` or ``size`` is not an int, or ``lipid`` not a bool.
    ValueError
        If ``n_samples < 1`` or ``size < 16``.

    Examples
    --------
    >>> masks, lipid = make_vessel_masks(2, random_state=0)
    >>> masks.shape, masks.dtype
    ((2, 64, 64), dtype('float32'))
    >>> bool(np.all(lipid <= masks))
    True
    """
    n_samples = _check_integer(n_samples, "n_samples", 1)
    size = _check_integer(size, "size", 16)
    if not isinstance(lipid, (bool, np.bool_)):
        raise TypeError(f"lipid must be a bool, got {type(lipid).__name__} ({lipid!r}).")
    rng = check_random_state(random_state)

    masks = np.zeros((n_samples, size, size), dtype=np.float32)
    pools = np.zeros_like(masks)
    for index in range(n_samples):
        for _ in range(_MAX_DRAWS):
            wall, lumen_centre, plaque, scale = _draw_wall(rng, size)
            try:
                wall, lumen = clean_wall(wall, index)
            except MaskError:
                continue
            if _thinnest_wall(wall, lumen) >= 2.0:
                break
        else:  # pragma: no cover - a draw essentially always succeeds
            raise RuntimeError("could not draw a valid vessel wall; this is a bug.")
        masks[index] = wall
        if lipid:
            pools[index] = _draw_lipid_pool(rng, wall, lumen, lumen_centre, plaque, scale)
    return masks, pools


# --------------------------------------------------------------------- solver


def _shear_modulus(c1, d1, d2):
    """Small-strain shear modulus of W = c1 (I1 - 3) + d1 (exp(d2 (I1 - 3)) - 1)."""
    return 2.0 * (c1 + d1 * d2)


def _bulk_modulus(mu, nu):
    return 2.0 * mu * (1.0 + nu) / (3.0 * (1.0 - 2.0 * nu))


class VesselStressSolver(BaseEstimator):
    """Finite-element labelling tool: vessel-wall mask -> von Mises stress map.

    A plane-strain model of the wall cross-section loaded by the lumen (blood)
    pressure, solved with scikit-fem on a mesh with one bilinear quadrilateral
    per wall pixel.  Calling the solver on masks returns, for each wall pixel,
    the von Mises stress of its element (plane strain, so ``sigma_zz`` is
    included) in kPa, and 0 outside the wall.

    **Material.** ``"mooney-rivlin"`` (default) is the nearly incompressible
    modified Mooney-Rivlin model used in image-based plaque studies (Tang et
    al.; Teng et al. 2014)::

        W = c1 (I1bar - 3) + d1 (exp(d2 (I1bar - 3)) - 1) + U(J),
        U(J) = kappa / 4 (J^2 - 1 - 2 ln J),

    with ``I1bar = J^(-2/3) I1``; the bulk modulus ``kappa`` follows from the
    small-strain shear modulus ``mu0 = 2 (c1 + d1 d2)`` and ``poisson_ratio``.
    The default constants (fibrous tissue c1 = 92 kPa, d1 = 36 kPa, d2 = 2;
    lipid c1 = 2 kPa, d1 = 2 kPa, d2 = 1.5) are of the form and magnitude used
    in those studies (lipid about 30 times softer than fibrous tissue); they
    are quoted from memory of that literature, not from a verified table, so
    treat them as representative.  ``"linear"`` is small-strain linear
    elasticity with ``youngs_modulus`` and ``poisson_ratio`` (same geometry,
    load and formulation); by default its moduli are the small-strain moduli of
    the Mooney-Rivlin constants, so both materials agree at low pressure.

    **Formulation.** Full-integration Q1 locks near incompressibility; the
    default ``formulation="q1p0"`` is the mixed Q1/P0 element (element-constant
    pressure and dilatation, condensed: the mean-dilatation method) for both
    materials.  ``"q1"`` is plain Q1, kept for comparison.

    **Load and solution.** The pressure is a follower load on the deformed lumen
    border with its consistent (exact) tangent; on a closed border it is
    conservative, so the problem minimises a total potential energy.  It is
    solved by Newton's method with an energy line search, applying the
    pressure in ``n_load_steps`` increments, halving an increment that fails
    (at most ``max_step_cuts`` times) and growing it back after a success.
    Rigid-body modes are removed by pinning two nodes, which leaves the stress
    unaffected since the pressure on the closed lumen border is
    self-equilibrated.

    **Input cleaning.** Masks may be soft and noisy (e.g. a VAE decoder's
    output): they are thresholded at 0.5, two pixels meeting only at a corner
    are joined (filling their 2x2 block), one-pixel notches are filled and
    one-pixel spurs removed, the largest 4-connected wall component is kept,
    and enclosed background specks (smaller than 4 pixels or than 10 % of the
    largest enclosed region) are filled.  The remaining enclosed background
    region is the lumen; the boundary nodes of the mesh are then smoothed
    (Taubin) to limit staircase artefacts.

    Parameters
    ----------
    pressure_kpa : float, default=16.0
        Lumen pressure in kPa (16 kPa is about 120 mmHg), >= 0.
    material : {"mooney-rivlin", "linear"}, default="mooney-rivlin"
        Constitutive model.
    c1, d1, d2 : float, default=92.0, 36.0, 2.0
        Mooney-Rivlin constants of fibrous tissue (kPa, kPa, dimensionless).
    lipid_c1, lipid_d1, lipid_d2 : float, default=2.0, 2.0, 1.5
        Mooney-Rivlin constants of the lipid pool.
    youngs_modulus, lipid_youngs_modulus : float or None, default=None
        Young's moduli (kPa) for ``material="linear"``; None uses
        ``2 mu0 (1 + poisson_ratio)`` of the corresponding Mooney-Rivlin
        constants (about 977 kPa and 30 kPa).
    poisson_ratio : float, default=0.49
        Small-strain Poisson ratio in (-1, 0.5), for both materials; it sets the
        bulk modulus of the hyperelastic model.
    formulation : {"q1p0", "q1"}, default="q1p0"
        Mixed Q1/P0 (mean dilatation) or plain full-integration Q1.
    n_load_steps : int, default=1
        Initial number of pressure increments (hyperelastic only).
    max_iter : int, default=25
        Maximum Newton iterations per increment.
    tol : float, default=1e-8
        Convergence when the norm of the residual is below ``tol`` times the
        norm of the pressure load.
    max_step_cuts : int, default=5
        How many times a failed increment may be halved before giving up.
    smoothing_iterations : int, default=30
        Taubin smoothing iterations on the mesh boundary; 0 disables.

    See Also
    --------
    make_vessel_masks : Synthetic masks in the encoding this solver expects.

    Notes
    -----
    Accuracy is limited by the pixel geometry: on a ring of radii 10 and 20
    pixels the von Mises stress matches Lame's thick-walled cylinder to about
    2 % (median over all wall pixels, for Poisson ratios up to 0.4999), with
    the largest errors on the boundary pixels.  Plain Q1 is off by 15 % at
    0.499 and 40 % at 0.4999 (``benchmarks/bench_vessel_solver.py``).  A solve
    of a 64x64 mask with about 1,500 wall pixels takes 4 to 5 Newton
    iterations, a few tenths of a second on one core.

    Examples
    --------
    >>> masks, lipid = make_vessel_masks(2, random_state=0)
    >>> stress = VesselStressSolver()(masks, lipid)  # kPa
    >>> stress.shape, stress.dtype
    ((2, 64, 64), dtype('float32'))
    >>> bool(np.all(stress[masks == 0] == 0))
    True
    """

    def __init__(
        self,
        pressure_kpa=16.0,
        material="mooney-rivlin",
        *,
        c1=92.0,
        d1=36.0,
        d2=2.0,
        lipid_c1=2.0,
        lipid_d1=2.0,
        lipid_d2=1.5,
        youngs_modulus=None,
        lipid_youngs_modulus=None,
        poisson_ratio=0.49,
        formulation="q1p0",
        n_load_steps=1,
        max_iter=25,
        tol=1e-8,
        max_step_cuts=5,
        smoothing_iterations=30,
    ):
        self.pressure_kpa = pressure_kpa
        self.material = material
        self.c1 = c1
        self.d1 = d1
        self.d2 = d2
        self.lipid_c1 = lipid_c1
        self.lipid_d1 = lipid_d1
        self.lipid_d2 = lipid_d2
        self.youngs_modulus = youngs_modulus
        self.lipid_youngs_modulus = lipid_youngs_modulus
        self.poisson_ratio = poisson_ratio
        self.formulation = formulation
        self.n_load_steps = n_load_steps
        self.max_iter = max_iter
        self.tol = tol
        self.max_step_cuts = max_step_cuts
        self.smoothing_iterations = smoothing_iterations

    def _check_params(self):
        if self.material not in ("mooney-rivlin", "linear"):
            raise ValueError(
                f"material must be 'mooney-rivlin' or 'linear', got {self.material!r}."
            )
        if self.formulation not in ("q1p0", "q1"):
            raise ValueError(f"formulation must be 'q1p0' or 'q1', got {self.formulation!r}.")
        _check_real(self.pressure_kpa, "pressure_kpa", min_val=0.0)
        for name in ("c1", "lipid_c1"):
            _check_real(getattr(self, name), name, min_val=0.0, include_boundaries="neither")
        for name in ("d1", "d2", "lipid_d1", "lipid_d2"):
            _check_real(getattr(self, name), name, min_val=0.0)
        for name in ("youngs_modulus", "lipid_youngs_modulus"):
            if getattr(self, name) is not None:
                _check_real(getattr(self, name), name, min_val=0.0, include_boundaries="neither")
        _check_real(
            self.poisson_ratio,
            "poisson_ratio",
            min_val=-1.0,
            max_val=0.5,
            include_boundaries="neither",
        )
        _check_real(self.tol, "tol", min_val=0.0, include_boundaries="neither")
        _check_integer(self.n_load_steps, "n_load_steps", 1)
        _check_integer(self.max_iter, "max_iter", 1)
        _check_integer(self.max_step_cuts, "max_step_cuts", 0)
        _check_integer(self.smoothing_iterations, "smoothing_iterations", 0)

    def accepts(self, masks):
        """Whether each mask passes the solver's mask checks (:meth:`canonicalize`).

        Parameters
        ----------
        masks : array-like of shape (n_samples, size, size) or (n_samples, 1, size, size)

        Returns
        -------
        accepted : ndarray of bool of shape (n_samples,)
            False where :meth:`canonicalize` raises :class:`MaskError` (an empty wall,
            no lumen, values outside [0, 1], ...); other errors propagate.

        Examples
        --------
        >>> masks, _ = make_vessel_masks(2, random_state=0)
        >>> VesselStressSolver().accepts(np.stack([masks[0], np.zeros_like(masks[1])])).tolist()
        [True, False]
        """
        accepted = []
        for mask in masks:
            try:
                self.canonicalize(mask)
                accepted.append(True)
            except MaskError:
                accepted.append(False)
        return np.asarray(accepted, dtype=bool)

    def canonicalize(self, masks):
        """The binary walls this solver actually solves on, in the input's shape.

        The cleaning of the class docstring (threshold at 0.5, diagonal contacts
        joined, one-pixel notches filled and spurs removed, largest 4-connected
        component, background specks filled) as a float32 0/1 mask. It is
        idempotent, and solving the canonical mask gives the same stress map as
        solving the original, so a labeling oracle can store the canonical mask
        with its label (see :class:`hardsample.oracles.LabelingToolOracle`).

        Parameters
        ----------
        masks : array-like of shape (n_samples, size, size), (n_samples, 1, size, size) or (size, size)
            Wall masks with values in [0, 1], possibly soft.

        Returns
        -------
        walls : ndarray of the shape of ``masks``, float32
            1 on the cleaned wall, 0 elsewhere.

        Raises
        ------
        TypeError, MaskError
            As :meth:`__call__` for invalid masks (bad values, shape, an empty
            wall, no lumen or more than one lumen).

        Examples
        --------
        >>> masks, _ = make_vessel_masks(1, random_state=0)
        >>> soft = 0.2 + 0.6 * masks  # a soft mask: 0.2 off the wall, 0.8 on it
        >>> solver = VesselStressSolver()
        >>> walls = solver.canonicalize(soft)
        >>> bool(np.array_equal(walls, masks)), walls.dtype
        (True, dtype('float32'))
        >>> bool(np.array_equal(solver.canonicalize(walls), walls))
        True
        """
        shape = np.shape(masks)
        masks, _ = check_masks(masks, name="masks")
        walls = np.stack([clean_wall(mask, index)[0] for index, mask in enumerate(masks)])
        return walls.astype(np.float32).reshape(shape)

    def __call__(self, masks, lipid=None):
        """Compute the von Mises stress maps of vessel-wall masks.

        Parameters
        ----------
        masks : array-like of shape (n_samples, size, size), (n_samples, 1, size, size) or (size, size)
            Wall masks with values in [0, 1] (1 = wall, 0 = lumen and outside),
            possibly soft; thresholded at 0.5 and repaired (see the class
            docstring). A channel axis of one is dropped.
        lipid : array-like of the shape of ``masks`` or None, default=None
            Lipid maps in [0, 1]; wall pixels where ``lipid > 0.5`` get the
            lipid constants.  None means all fibrous tissue.

        Returns
        -------
        stress : ndarray of shape (n_samples, size, size) or (size, size), float32
            Von Mises stress (kPa) on the wall pixels of the cleaned mask, 0
            elsewhere.

        Raises
        ------
        TypeError
            If the masks (or lipid maps) are not numeric.
        MaskError
            If a mask has NaN/inf values, values outside [0, 1], the wrong
            shape, an empty wall, no enclosed lumen or more than one lumen; the
            message names the sample index.
        SolverError
            If the finite-element solve fails (no convergence, inverted
            elements, non-finite values); the message names the sample index.
        """
        self._check_params()
        masks, single = check_masks(masks, name="masks")
        lipid = check_lipid(lipid, masks.shape, single, name="lipid")
        cleaned = [clean_wall(mask, index) for index, mask in enumerate(masks)]
        stress = np.zeros(masks.shape, dtype=np.float32)
        for index, (wall, lumen) in enumerate(cleaned):
            pool = np.zeros_like(wall) if lipid is None else (lipid[index] > 0.5) & wall
            try:
                stress[index] = self._solve_one(wall, lumen, pool)[0]
            except SolverError as exc:
                raise SolverError(f"sample {index}: {exc}") from exc
        return stress[0] if single else stress

    def _solve_one(self, wall, lumen, pool):
        """Stress map of one cleaned wall; returns (map, info)."""
        pixel_mesh = build_pixel_mesh(wall, lumen, self.smoothing_iterations)
        problem = WallProblem(pixel_mesh, self.formulation)
        is_lipid = pool[pixel_mesh.rows, pixel_mesh.cols]
        nu = float(self.poisson_ratio)
        mu_fibrous = _shear_modulus(self.c1, self.d1, self.d2)
        mu_lipid = _shear_modulus(self.lipid_c1, self.lipid_d1, self.lipid_d2)
        if self.material == "linear":
            e_fibrous, e_lipid = self.youngs_modulus, self.lipid_youngs_modulus
            mu_fibrous = mu_fibrous if e_fibrous is None else e_fibrous / (2.0 * (1.0 + nu))
            mu_lipid = mu_lipid if e_lipid is None else e_lipid / (2.0 * (1.0 + nu))
            mu = np.where(is_lipid, mu_lipid, mu_fibrous)
            von_mises = solve_linear(problem, mu, _bulk_modulus(mu, nu), float(self.pressure_kpa))
            info = {"n_iter": 1, "n_steps": 1}
        else:
            c1 = np.where(is_lipid, self.lipid_c1, self.c1)
            d1 = np.where(is_lipid, self.lipid_d1, self.d1)
            d2 = np.where(is_lipid, self.lipid_d2, self.d2)
            kappa = _bulk_modulus(_shear_modulus(c1, d1, d2), nu)
            von_mises, info = solve_hyperelastic(
                problem,
                c1,
                d1,
                d2,
                kappa,
                float(self.pressure_kpa),
                n_load_steps=self.n_load_steps,
                max_iter=self.max_iter,
                tol=self.tol,
                max_step_cuts=self.max_step_cuts,
            )
        stress = np.zeros(wall.shape, dtype=np.float32)
        stress[pixel_mesh.rows, pixel_mesh.cols] = von_mises
        return stress, info
