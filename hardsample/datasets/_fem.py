"""Plane-strain finite-element mechanics of a pixel-meshed vessel wall.

Private helpers of :mod:`hardsample.datasets.vessels`, built on scikit-fem.

Discretisation
--------------
One bilinear quadrilateral (``ElementQuad1``) per wall pixel, nodes at the pixel
corners; the boundary nodes are then smoothed (Taubin) towards a smooth contour
to limit staircase artefacts.  Coordinates are in pixels: with a hyperelastic
or linear material and a pressure load, stresses do not depend on the length
scale, so no pixel size is needed.

Near incompressibility
----------------------
Full-integration Q1 locks when the bulk modulus is much larger than the shear
modulus.  The default ``"q1p0"`` formulation is the mixed Q1/P0 (three-field
Hu-Washizu with an element-constant pressure and dilatation, condensed at the
element level, i.e. the *mean-dilatation* method of Nagtegaal et al. and Simo,
Taylor & Pister 1985): the volumetric energy of element ``e`` is
``V_e U(theta_e)`` with ``theta_e = v_e / V_e`` its current over reference area.
The condensed pressure enters the tangent as ``B diag(U''(theta) / V) B^T`` with
``B`` the ``ElementQuad0``-by-``ElementQuad1`` coupling matrix
``int q cof(F) : grad(v)``.  ``"q1"`` is plain full-integration Q1 (kept to show
the locking it suffers).

Loading
-------
The lumen pressure is a follower load acting on the deformed lumen border.
Because the border is a closed curve and, in two dimensions, ``cof(F)`` is
linear in ``F``, the load is conservative and exactly linear in the nodal
displacements: ``f(u) = -p (f0 + Kp u)`` where ``f0 = int N . v`` and
``Kp = int cof(grad w) N . v`` are assembled once on a ``FacetBasis``.  The
Newton tangent therefore contains the exact (consistent) load stiffness and
the problem is the minimisation of a total potential energy, which the line
search uses.

Rigid-body modes are removed by pinning one node fully and a second, far away
node in the direction of rotation about the first; the pressure resultant
and moment on a closed curve vanish, so the reactions (and the stress) are
unaffected.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from skfem import (
    Basis,
    BilinearForm,
    ElementQuad0,
    ElementQuad1,
    ElementVector,
    FacetBasis,
    LinearForm,
    MeshQuad1,
    condense,
    solve,
)
from skfem.helpers import ddot, div, dot, grad, sym_grad, trace

__all__ = [
    "SolverError",
    "PixelMesh",
    "build_pixel_mesh",
    "WallProblem",
    "solve_linear",
    "solve_hyperelastic",
]

_IDENTITY = np.eye(2)[:, :, None, None]
# d cof(F)_{iJ} / d F_{kL} for 2x2 F, where cof(F) = [[F11, -F10], [-F01, F00]].
_DCOF = np.zeros((2, 2, 2, 2, 1, 1))
_DCOF[0, 0, 1, 1] = _DCOF[1, 1, 0, 0] = 1.0
_DCOF[0, 1, 1, 0] = _DCOF[1, 0, 0, 1] = -1.0
_DELTA4 = np.einsum("ik,jl->ijkl", np.eye(2), np.eye(2))[..., None, None]
_ARMIJO = 1e-4
_MAX_BACKTRACKS = 10


class SolverError(RuntimeError):
    """The finite-element solve failed (no convergence, inverted elements, NaN).

    The solver never returns a partial or NaN map: it raises this instead, and a
    :class:`~hardsample.LabelingToolOracle` records the sample as failed.

    Examples
    --------
    >>> from hardsample.datasets import SolverError
    >>> issubclass(SolverError, RuntimeError)
    True
    """


# ----------------------------------------------------------------------------- mesh


class PixelMesh(NamedTuple):
    """A quad mesh with one element per wall pixel.

    Attributes
    ----------
    mesh : skfem.MeshQuad1
        Nodes in pixel units, ``x`` = column and ``y`` = row (of pixel corners).
    rows, cols : ndarray of int, shape (n_elements,)
        The pixel each element sits on.
    lumen_facets : ndarray of int
        Indices of the boundary facets that border the lumen.
    """

    mesh: MeshQuad1
    rows: np.ndarray
    cols: np.ndarray
    lumen_facets: np.ndarray


def _lookup(image, rows, cols):
    """Image values at (rows, cols), False outside the image."""
    size = image.shape[0]
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    out = np.zeros(rows.shape, dtype=bool)
    out[inside] = image[rows[inside], cols[inside]]
    return out


def _lumen_facet_mask(edges, grid_points, wall, lumen):
    """Which boundary edges (node pairs on the pixel grid) separate wall from lumen."""
    x0, y0 = grid_points[:, edges[0]]
    x1, y1 = grid_points[:, edges[1]]
    horizontal = y0 == y1
    row = np.where(horizontal, y0, np.minimum(y0, y1)).astype(int)
    col = np.where(horizontal, np.minimum(x0, x1), x0).astype(int)
    # The two pixels on either side of the edge: above/below or left/right.
    row_a = np.where(horizontal, row - 1, row)
    col_a = np.where(horizontal, col, col - 1)
    a_is_wall = _lookup(wall, row_a, col_a)
    row_bg = np.where(a_is_wall, row, row_a)
    col_bg = np.where(a_is_wall, col, col_a)
    return _lookup(lumen, row_bg, col_bg)


def _gauss_point_jacobians(points, t):
    """Jacobian determinants of the bilinear map at the 2x2 Gauss points.

    The Jacobian of a bilinear quad is linear in each reference coordinate, so
    its Gauss-point values follow from the corner values ``j_c`` as
    ``mean + (j_c - mean) / sqrt(3)``.  Shape (4, n_elements); 1 for a pixel.
    """
    corners = points[:, t]
    forward = np.roll(corners, -1, axis=1) - corners
    backward = np.roll(corners, 1, axis=1) - corners
    at_corners = forward[0] * backward[1] - forward[1] * backward[0]
    mean = at_corners.mean(axis=0)
    return mean + (at_corners - mean) / np.sqrt(3.0)


def _boundary_neighbours(edges, n_points):
    """The two loop neighbours of every boundary node."""
    nodes = np.unique(edges)
    local = np.full(n_points, -1)
    local[nodes] = np.arange(nodes.size)
    ends = np.concatenate([local[edges], local[edges[::-1]]], axis=1)
    order = np.argsort(ends[0], kind="stable")
    counts = np.bincount(ends[0], minlength=nodes.size)
    if np.any(counts != 2):
        raise SolverError("the boundary of the wall is not a set of simple closed loops.")
    return nodes, local, ends[1, order].reshape(nodes.size, 2)


def _smooth_boundary(points, t, edges, n_iter, max_shift=0.7, min_jacobian=0.2):
    """Taubin-smooth the boundary loops of a pixel mesh.

    Every boundary node of a pixel mesh without diagonal-only contacts has
    exactly two boundary neighbours, so the boundary is a set of closed loops;
    Taubin's lambda|mu smoothing removes the staircase without shrinking them.
    The shift of each node is capped at ``max_shift`` pixels, and the shifts of
    elements whose Gauss-point Jacobian would fall below ``min_jacobian`` (of
    a pixel's) are scaled back, so corners and thin parts do not collapse.
    """
    nodes, local, neighbours = _boundary_neighbours(edges, points.shape[1])
    start = points[:, nodes]
    x = start.copy()
    for _ in range(n_iter):
        for factor in (0.5, -0.53):
            x += factor * (0.5 * (x[:, neighbours[:, 0]] + x[:, neighbours[:, 1]]) - x)
    shift = x - start
    shift *= np.minimum(1.0, max_shift / np.maximum(np.hypot(*shift), 1e-12))

    smoothed = points.copy()
    for attempt in range(12):
        smoothed[:, nodes] = start + shift
        bad = _gauss_point_jacobians(smoothed, t).min(axis=0) < min_jacobian
        if not bad.any():
            return smoothed
        bad_nodes = local[np.unique(t[:, bad])]
        shift[:, bad_nodes[bad_nodes >= 0]] *= 0.5 if attempt < 8 else 0.0
    return points.copy()  # keep the staircase rather than a tangled mesh


def build_pixel_mesh(wall, lumen, smoothing_iterations=30):
    """Mesh the wall pixels with one quadrilateral each.

    Parameters
    ----------
    wall, lumen : ndarray of bool, shape (size, size)
        A cleaned wall (no diagonal-only contacts) and its lumen.
    smoothing_iterations : int, default=30
        Taubin iterations on the boundary nodes; 0 keeps the staircase.

    Returns
    -------
    PixelMesh
    """
    size = wall.shape[0]
    rows, cols = np.nonzero(wall)
    # Pixel (r, c) has corners (r, c), (r, c+1), (r+1, c+1), (r+1, c): counter-
    # clockwise in the (x, y) = (column, row) frame used for the mesh.
    corner_rows = np.stack([rows, rows, rows + 1, rows + 1])
    corner_cols = np.stack([cols, cols + 1, cols + 1, cols])
    used = np.zeros((size + 1, size + 1), dtype=bool)
    used[corner_rows, corner_cols] = True
    node_id = np.full(used.shape, -1)
    node_id[used] = np.arange(used.sum())
    node_rows, node_cols = np.nonzero(used)
    grid_points = np.vstack([node_cols, node_rows]).astype(np.float64)
    t = node_id[corner_rows, corner_cols]

    mesh = MeshQuad1(grid_points, t)
    boundary = mesh.boundary_facets()
    edges = mesh.facets[:, boundary]
    lumen_facets = boundary[_lumen_facet_mask(edges, grid_points, wall, lumen)]
    if smoothing_iterations > 0:
        points = _smooth_boundary(grid_points, t, edges, smoothing_iterations)
        mesh = MeshQuad1(points, t)  # same t, so the same facet numbering
    return PixelMesh(mesh, rows, cols, lumen_facets)


# ------------------------------------------------------------------------ forms


@BilinearForm
def _tangent_form(u, v, w):
    return np.einsum("ijkl...,ij...,kl...->...", w.A, grad(v), grad(u))


@LinearForm
def _stress_form(v, w):
    return ddot(w.P, grad(v))


@BilinearForm
def _dilatation_form(q, v, w):
    # Couples the element-constant pressure (ElementQuad0) to the displacement.
    return q * ddot(w.C, grad(v))


@BilinearForm
def _deviatoric_form(u, v, w):
    eu, ev = sym_grad(u), sym_grad(v)
    # 3-D deviator of a plane strain (eps_zz = 0): dev(e):dev(f) = e:f - tr e tr f / 3.
    return 2.0 * w.mu * (ddot(eu, ev) - trace(eu) * trace(ev) / 3.0)


@BilinearForm
def _bulk_form(u, v, w):
    return w.kappa * div(u) * div(v)


@LinearForm
def _normal_load(v, w):
    return dot(w.n, v)


@BilinearForm
def _follower_form(u, v, w):
    # cof(grad u) N . v, the change of the area-weighted normal cof(F) N.
    g, n = grad(u), w.n
    return v[0] * (g[1, 1] * n[0] - g[1, 0] * n[1]) + v[1] * (g[0, 0] * n[1] - g[0, 1] * n[0])


# -------------------------------------------------------------------- materials


def _outer(a, b):
    return np.einsum("ij...,kl...->ijkl...", a, b)


def _cofactor(F):
    return np.array([[F[1, 1], -F[1, 0]], [-F[0, 1], F[0, 0]]])


def _volumetric(J, kappa):
    """U(J) = kappa/4 (J^2 - 1 - 2 ln J) and its first two derivatives."""
    energy = 0.25 * kappa * (J**2 - 1.0 - 2.0 * np.log(J))
    first = 0.5 * kappa * (J - 1.0 / J)
    second = 0.5 * kappa * (1.0 + 1.0 / J**2)
    return energy, first, second


def _mooney_rivlin(F, J, c1, d1, d2, order=0):
    """Isochoric modified Mooney-Rivlin energy, first Piola stress and tangent.

    ``W = c1 (I1bar - 3) + d1 (exp(d2 (I1bar - 3)) - 1)`` with
    ``I1bar = J^(-2/3) (F:F + 1)`` (plane strain, ``F_zz = 1``).
    ``order`` 0 returns W, 1 returns (W, P), 2 returns (W, P, A) where
    ``A_iJkL = d P_iJ / d F_kL``.
    """
    scale = J ** (-2.0 / 3.0)
    i1 = np.einsum("ij...,ij...->...", F, F) + 1.0
    i1_bar = scale * i1
    with np.errstate(over="ignore", invalid="ignore"):
        expo = np.exp(d2 * (i1_bar - 3.0))
    energy = c1 * (i1_bar - 3.0) + d1 * (expo - 1.0)
    if order == 0:
        return energy
    w1 = c1 + d1 * d2 * expo
    G = _cofactor(F) / J  # F^{-T}
    g = scale * (2.0 * F - (2.0 / 3.0) * i1 * G)  # d I1bar / dF
    stress = w1 * g
    if order == 1:
        return energy, stress
    w2 = d1 * d2**2 * expo
    bracket = (
        2.0 * _DELTA4
        - (4.0 / 3.0) * (_outer(F, G) + _outer(G, F))
        + (4.0 / 9.0) * i1 * _outer(G, G)
        + (2.0 / 3.0) * i1 * np.einsum("il...,kj...->ijkl...", G, G)
    )
    tangent = w2 * _outer(g, g) + (w1 * scale) * bracket
    return energy, stress, tangent


def _von_mises(s_xx, s_yy, s_zz, s_xy):
    return np.sqrt(1.5 * (s_xx**2 + s_yy**2 + s_zz**2 + 2.0 * s_xy**2))


def _von_mises_mooney_rivlin(F, J, c1, d1, d2):
    """Von Mises of the Cauchy stress; the hydrostatic part does not contribute."""
    scale = J ** (-2.0 / 3.0)
    i1 = np.einsum("ij...,ij...->...", F, F) + 1.0
    w1 = c1 + d1 * d2 * np.exp(d2 * (scale * i1 - 3.0))
    factor = 2.0 * w1 * scale / J  # sigma_dev = (2/J) W1 dev(J^(-2/3) F F^T)
    b_xx = F[0, 0] ** 2 + F[0, 1] ** 2
    b_yy = F[1, 0] ** 2 + F[1, 1] ** 2
    b_xy = F[0, 0] * F[1, 0] + F[0, 1] * F[1, 1]
    third = i1 / 3.0
    return _von_mises(
        factor * (b_xx - third), factor * (b_yy - third), factor * (1.0 - third), factor * b_xy
    )


def _von_mises_linear(grad_u, mu):
    e_xx, e_yy = grad_u[0, 0], grad_u[1, 1]
    e_xy = 0.5 * (grad_u[0, 1] + grad_u[1, 0])
    third = (e_xx + e_yy) / 3.0
    return _von_mises(
        2.0 * mu * (e_xx - third), 2.0 * mu * (e_yy - third), -2.0 * mu * third, 2.0 * mu * e_xy
    )


# ---------------------------------------------------------------------- problem


def _symmetric_direct_solver(matrix, rhs, **_):
    """Sparse LU with a symmetric fill-reducing ordering and no pivoting.

    The stiffness matrices are symmetric (tangents of a potential), for which
    this is about twice as fast as SuperLU's default; fall back to partial
    pivoting if a pivot vanishes.
    """
    matrix = matrix.tocsc()
    try:
        factor = splu(
            matrix,
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
    except RuntimeError:
        try:
            factor = splu(matrix)
        except RuntimeError as exc:
            raise SolverError(f"singular stiffness matrix ({exc}).") from exc
    return factor.solve(rhs)


class WallProblem:
    """Bases, load operators and constraints of one pixel mesh.

    Parameters
    ----------
    pixel_mesh : PixelMesh
    formulation : {"q1p0", "q1"}
        Mixed Q1/P0 (mean dilatation) or plain full-integration Q1.
    """

    def __init__(self, pixel_mesh, formulation="q1p0"):
        self.pixel_mesh = pixel_mesh
        self.formulation = formulation
        mesh = pixel_mesh.mesh
        element = ElementVector(ElementQuad1())
        self.basis = Basis(mesh, element, intorder=2)
        self.dx = self.basis.dx
        self.volume = self.dx.sum(axis=1)
        if formulation == "q1p0":
            self.pressure_basis = self.basis.with_element(ElementQuad0())
        facet_basis = FacetBasis(mesh, element, facets=pixel_mesh.lumen_facets, intorder=2)
        self.f0 = _normal_load.assemble(facet_basis)
        follower = _follower_form.assemble(facet_basis)
        # Exactly symmetric on a closed loop (the Hessian of the enclosed area).
        self.kp = (0.5 * (follower + follower.T)).tocsr()
        self.fixed = self._pinned_dofs(mesh.p)
        self.free = np.setdiff1d(np.arange(self.basis.N), self.fixed)

    @staticmethod
    def _pinned_dofs(points):
        first = 0
        far = int(np.argmax(np.hypot(*(points - points[:, [first]]))))
        dx, dy = np.abs(points[:, far] - points[:, first])
        # A rotation about `first` moves `far` mostly along x when they are
        # vertically apart, so fix that component.
        return np.array([2 * first, 2 * first + 1, 2 * far + (0 if dy >= dx else 1)])

    def element_mean(self, field):
        return (field * self.dx).sum(axis=1) / self.volume

    def deformation(self, u):
        F = _IDENTITY + self.basis.interpolate(u).grad
        return F, F[0, 0] * F[1, 1] - F[0, 1] * F[1, 0]

    def solve_linear_system(self, matrix, rhs):
        """Solve ``matrix x = rhs`` with the pinned degrees of freedom at 0."""
        return solve(*condense(matrix, rhs, D=self.fixed), solver=_symmetric_direct_solver)

    def element_field(self, values):
        """Broadcast per-element values to the quadrature points."""
        return np.broadcast_to(np.asarray(values, dtype=np.float64)[:, None], self.dx.shape).copy()


# ---------------------------------------------------------------------- linear


def solve_linear(problem, mu, kappa, pressure):
    """Small-strain plane-strain elasticity under a lumen pressure.

    Parameters
    ----------
    problem : WallProblem
    mu, kappa : ndarray of shape (n_elements,)
        Shear and bulk moduli (kPa) of each element.
    pressure : float
        Lumen pressure (kPa).

    Returns
    -------
    von_mises : ndarray of shape (n_elements,)
        Element mean of the von Mises stress (kPa), including sigma_zz.
    """
    basis = problem.basis
    mu_q = problem.element_field(mu)
    stiffness = _deviatoric_form.assemble(basis, mu=mu_q)
    if problem.formulation == "q1p0":
        identity = np.broadcast_to(_IDENTITY, (2, 2) + problem.dx.shape).copy()
        coupling = _dilatation_form.assemble(problem.pressure_basis, basis, C=identity)
        stiffness = stiffness + coupling @ sp.diags(kappa / problem.volume) @ coupling.T
    else:
        stiffness = stiffness + _bulk_form.assemble(basis, kappa=problem.element_field(kappa))
    u = problem.solve_linear_system(stiffness.tocsr(), -pressure * problem.f0)
    grad_u = basis.interpolate(u).grad
    von_mises = problem.element_mean(_von_mises_linear(grad_u, mu_q))
    if not np.all(np.isfinite(von_mises)):
        raise SolverError("the linear solve produced non-finite stresses (singular stiffness?).")
    return von_mises


# ----------------------------------------------------------------- hyperelastic


class _HyperelasticModel:
    """Total potential energy, residual and tangent of the Mooney-Rivlin wall."""

    def __init__(self, problem, c1, d1, d2, kappa, pressure):
        self.problem = problem
        self.c1, self.d1, self.d2 = (np.asarray(c)[:, None] for c in (c1, d1, d2))
        self.kappa = np.asarray(kappa, dtype=np.float64)
        self.kappa_q = self.kappa[:, None]
        self.pressure = pressure

    def _material(self, u, order):
        F, J = self.problem.deformation(u)
        if not np.all(J > 0.0):
            return None
        return F, J, _mooney_rivlin(F, J, self.c1, self.d1, self.d2, order=order)

    def _dilatation(self, J):
        return (J * self.problem.dx).sum(axis=1) / self.problem.volume

    def energy(self, u, load):
        """Total potential energy, +inf for an inverted or non-finite state."""
        problem = self.problem
        state = self._material(u, order=0)
        if state is None:
            return np.inf
        _, J, w_iso = state
        total = np.sum(w_iso * problem.dx)
        if problem.formulation == "q1p0":
            theta = self._dilatation(J)
            if not np.all(theta > 0.0):
                return np.inf
            total += np.sum(problem.volume * _volumetric(theta, self.kappa)[0])
        else:
            total += np.sum(_volumetric(J, self.kappa_q)[0] * problem.dx)
        total += load * self.pressure * (problem.f0 @ u + 0.5 * u @ (problem.kp @ u))
        return total if np.isfinite(total) else np.inf

    def residual(self, u, load, with_tangent=False):
        """Residual vector (and tangent matrix); None for an inverted state."""
        problem = self.problem
        state = self._material(u, order=2 if with_tangent else 1)
        if state is None:
            return None
        F, J, (_, stress, *tangent) = state
        cof = _cofactor(F)
        extra = None
        if problem.formulation == "q1p0":
            theta = self._dilatation(J)
            if not np.all(theta > 0.0):
                return None
            _, p, dp = _volumetric(theta, self.kappa)
            stress = stress + p[:, None] * cof
            if with_tangent:
                tangent[0] = tangent[0] + p[:, None] * _DCOF
                coupling = _dilatation_form.assemble(problem.pressure_basis, problem.basis, C=cof)
                extra = coupling @ sp.diags(dp / problem.volume) @ coupling.T
        else:
            _, p, dp = _volumetric(J, self.kappa_q)
            stress = stress + p * cof
            if with_tangent:
                tangent[0] = tangent[0] + dp * _outer(cof, cof) + p * _DCOF
        load_factor = load * self.pressure
        residual = _stress_form.assemble(problem.basis, P=stress)
        residual += load_factor * (problem.f0 + problem.kp @ u)
        if not with_tangent:
            return residual
        matrix = _tangent_form.assemble(problem.basis, A=tangent[0]) + load_factor * problem.kp
        if extra is not None:
            matrix = matrix + extra
        return residual, matrix.tocsr()

    def von_mises(self, u):
        F, J = self.problem.deformation(u)
        return self.problem.element_mean(_von_mises_mooney_rivlin(F, J, self.c1, self.d1, self.d2))


def _line_search(model, u, du, load, residual_free, free):
    """Backtracking (Armijo) on the total potential energy.

    Returns ``(u_new, None)`` or ``(None, reason)``.
    """
    energy = model.energy(u, load)
    slope = residual_free @ du[free]
    # Energies near convergence differ by round-off only: allow for it.
    slack = 1e-10 * max(abs(energy), 1.0)
    alpha, any_valid = 1.0, False
    for _ in range(_MAX_BACKTRACKS):
        trial = u + alpha * du
        trial_energy = model.energy(trial, load)
        any_valid |= np.isfinite(trial_energy)
        if trial_energy <= energy + _ARMIJO * alpha * min(slope, 0.0) + slack:
            return trial, None
        alpha *= 0.5
    if not any_valid:
        return None, "line search failed: every step inverts elements"
    return None, "line search failed: no decrease of the energy"


def _newton(model, u, load, max_iter, tol):
    """Newton iterations at one load level; returns (u, n_iter, reason or None)."""
    problem = model.problem
    free = problem.free
    reference = np.linalg.norm(load * model.pressure * problem.f0[free])
    reference = max(reference, np.finfo(float).tiny)
    for iteration in range(max_iter + 1):
        evaluated = model.residual(u, load, with_tangent=iteration < max_iter)
        if evaluated is None:
            return u, iteration, "inverted elements"
        residual, matrix = evaluated if iteration < max_iter else (evaluated, None)
        residual_free = residual[free]
        norm = np.linalg.norm(residual_free)
        if not np.isfinite(norm):
            return u, iteration, "non-finite residual"
        if norm <= tol * reference:
            return u, iteration, None
        if matrix is None:
            break
        du = problem.solve_linear_system(matrix, -residual)
        if not np.all(np.isfinite(du)):
            return u, iteration, "singular tangent"
        trial, failure = _line_search(model, u, du, load, residual_free, free)
        if trial is None:
            return u, iteration, failure
        u = trial
    return u, max_iter, (
        f"not converged in {max_iter} iteration(s), relative residual {norm / reference:.2e}"
    )


def solve_hyperelastic(
    problem, c1, d1, d2, kappa, pressure, n_load_steps=1, max_iter=25, tol=1e-8, max_step_cuts=5
):
    """Nearly incompressible Mooney-Rivlin wall under a follower lumen pressure.

    Newton iterations with an energy line search; the pressure is applied in
    ``n_load_steps`` increments; an increment that fails is halved (at most
    ``max_step_cuts`` times in all) and grows back after each success.

    Parameters
    ----------
    problem : WallProblem
    c1, d1, d2, kappa : ndarray of shape (n_elements,)
        Material constants of each element (kPa, kPa, -, kPa).
    pressure : float
        Lumen pressure (kPa).

    Returns
    -------
    von_mises : ndarray of shape (n_elements,)
        Element mean of the Cauchy von Mises stress (kPa), including sigma_zz.
    info : dict
        ``n_iter`` (Newton iterations in all) and ``n_steps`` (load steps).

    Raises
    ------
    SolverError
        If Newton does not converge or the solution is not finite.
    """
    model = _HyperelasticModel(problem, c1, d1, d2, kappa, pressure)
    u = np.zeros(problem.basis.N)
    initial_step = 1.0 / n_load_steps
    load, step, cuts, n_iter, n_steps = 0.0, initial_step, 0, 0, 0
    while load < 1.0:
        target = min(1.0, load + step)
        u_new, iterations, failure = _newton(model, u, target, max_iter, tol)
        n_iter += iterations
        if failure is None:
            u, load, n_steps = u_new, target, n_steps + 1
            step = min(2.0 * step, initial_step)  # grow back after a cut
            continue
        cuts += 1
        if cuts > max_step_cuts:
            raise SolverError(
                f"Newton did not converge at {target * pressure:.4g} kPa ({failure}) "
                f"after {max_step_cuts} load-step cuts."
            )
        step *= 0.5
    von_mises = model.von_mises(u)
    if not np.all(np.isfinite(von_mises)):
        raise SolverError("the hyperelastic solve produced non-finite stresses.")
    return von_mises, {"n_iter": n_iter, "n_steps": n_steps}
