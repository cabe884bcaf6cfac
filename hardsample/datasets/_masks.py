"""Validation and cleaning of (possibly soft and noisy) vessel-wall masks.

Private helpers of :mod:`hardsample.datasets.vessels`.  A mask is turned into
a wall that a one-element-per-pixel finite-element mesh can use:

* one 4-connected wall component;
* no two wall (or two background) pixels touching only at a corner, which
  would make a mesh node a hinge between two otherwise separate elements;
* no one-pixel spurs or notches (staircase defects of a soft decoder output);
* exactly one enclosed background region, the lumen.
"""

import numpy as np
from scipy import ndimage

__all__ = ["MaskError", "check_masks", "check_lipid", "clean_wall"]

_CROSS = ndimage.generate_binary_structure(2, 1)
_FOUR_NEIGHBOURS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.int8)

# An enclosed background region smaller than this many pixels, or than this
# fraction of the largest enclosed region, is a speck of noise, not a lumen.
MIN_LUMEN_PIXELS = 4
SPECK_FRACTION = 0.1
_MAX_REPAIR_PASSES = 50


class MaskError(ValueError):
    """A vessel mask that cannot be meshed (bad values, shape or topology).

    The message names the problem and the index of the offending sample.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.datasets import MaskError, VesselStressSolver
    >>> try:
    ...     VesselStressSolver()(np.zeros((64, 64)))
    ... except MaskError as error:
    ...     print("rejected:", "wall" in str(error))
    rejected: True
    """


def _format_indices(indices, limit=5):
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    if len(indices) > limit:
        shown += f", ... ({len(indices)} in all)"
    return shown


def check_masks(masks, name="masks"):
    """Validate a stack of soft masks with values in [0, 1].

    Parameters
    ----------
    masks : array-like of shape (size, size) or (n_samples, size, size)
        Numeric (or boolean) values in [0, 1].
    name : str, default="masks"
        Name used in error messages.

    Returns
    -------
    masks : ndarray of shape (n_samples, size, size), dtype float64
        A 2-D input is returned as a stack of one sample.
    single : bool
        Whether the input was a single 2-D mask.

    Raises
    ------
    TypeError
        If the values are not real numbers.
    MaskError
        If the array has the wrong dimensions, is not square, holds NaN or
        infinite values, or values outside [0, 1].
    """
    if masks is None:
        raise TypeError(f"{name} is None; expected an array of numbers.")
    try:
        array = np.asarray(masks)
    except (TypeError, ValueError) as exc:
        raise MaskError(f"{name} could not be converted to an array: {exc}") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (or booleans), got dtype {array.dtype}."
        )
    if array.ndim == 2:
        single = True
        array = array[np.newaxis]
    elif array.ndim == 3:
        single = False
    elif array.ndim == 4 and array.shape[1] == 1:  # one channel, as conv nets take them
        single = False
        array = array[:, 0]
    else:
        raise MaskError(
            f"{name} must be 2-D (size, size), 3-D (n_samples, size, size) or 4-D with one "
            f"channel (n_samples, 1, size, size), got an array of shape {array.shape}."
        )
    n_samples, height, width = array.shape
    if n_samples < 1:
        raise MaskError(f"{name} holds no samples (shape {array.shape}).")
    if height != width or height < 4:
        raise MaskError(
            f"each sample of {name} must be a square image of at least 4x4 pixels, "
            f"got {height}x{width}."
        )
    array = array.astype(np.float64, copy=False)
    finite = np.isfinite(array).all(axis=(1, 2))
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise MaskError(f"{name}: sample(s) {_format_indices(bad)} contain NaN or infinite values.")
    in_range = ((array >= 0.0) & (array <= 1.0)).all(axis=(1, 2))
    if not in_range.all():
        bad = np.flatnonzero(~in_range)
        first = array[bad[0]]
        raise MaskError(
            f"{name}: sample(s) {_format_indices(bad)} have values outside [0, 1] "
            f"(sample {bad[0]} spans [{first.min():.4g}, {first.max():.4g}])."
        )
    return array, single


def check_lipid(lipid, shape, single, name="lipid"):
    """Validate a lipid map against the (stacked) shape of the masks.

    Parameters
    ----------
    lipid : array-like or None
        Lipid maps with the same shape as the masks given to the solver.
    shape : tuple of int
        Shape ``(n_samples, size, size)`` of the validated masks.
    single : bool
        Whether the masks were given as one 2-D mask.
    name : str, default="lipid"
        Name used in error messages.

    Returns
    -------
    lipid : ndarray of shape ``shape``, dtype float64, or None
    """
    if lipid is None:
        return None
    lipid, lipid_single = check_masks(lipid, name=name)
    if lipid.shape != tuple(shape) or lipid_single != single:
        expected = tuple(shape[1:]) if single else tuple(shape)
        got = lipid.shape[1:] if lipid_single else lipid.shape
        raise MaskError(f"{name} must have the shape of the masks {expected}, got {got}.")
    return lipid


def _neighbour_count(binary):
    return ndimage.convolve(binary.astype(np.int8), _FOUR_NEIGHBOURS, mode="constant", cval=0)


def _fill_diagonal_contacts(wall):
    """Fill both empty pixels of every 2x2 checkerboard block.

    Two wall pixels meeting only at a corner would share a single mesh node (a
    hinge); filling the block is symmetric under rotations and flips.
    """
    wall = wall.copy()
    while True:
        a, b = wall[:-1, :-1], wall[:-1, 1:]
        c, d = wall[1:, :-1], wall[1:, 1:]
        main = a & d & ~b & ~c
        anti = b & c & ~a & ~d
        if not (main.any() or anti.any()):
            return wall
        block = main | anti
        grown = np.zeros_like(wall)
        grown[:-1, :-1] |= block
        grown[:-1, 1:] |= block
        grown[1:, :-1] |= block
        grown[1:, 1:] |= block
        wall |= grown


def _repair_pixel_defects(wall):
    """Fill one-pixel notches, remove one-pixel spurs, until nothing changes.

    A background pixel with at least three wall 4-neighbours is a notch (or a
    one-pixel hole); a wall pixel with at most one wall 4-neighbour is a spur.
    This is a targeted binary closing/opening that never breaks a thin but
    continuous wall, which a plain opening would do.
    """
    for _ in range(_MAX_REPAIR_PASSES):
        previous = wall
        wall = _fill_diagonal_contacts(wall)
        wall = wall | (~wall & (_neighbour_count(wall) >= 3))
        wall = wall & (_neighbour_count(wall) >= 2)
        wall = _fill_diagonal_contacts(wall)
        if np.array_equal(wall, previous):
            break
    return wall


def _largest_component(binary):
    labels, n_labels = ndimage.label(binary, structure=_CROSS)
    if n_labels <= 1:
        return binary
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (np.argmax(sizes) + 1)


def _enclosed_regions(wall):
    """Label the background regions that do not touch the image border."""
    labels, n_labels = ndimage.label(~wall, structure=_CROSS)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = np.setdiff1d(np.arange(1, n_labels + 1), border)
    sizes = np.bincount(labels.ravel(), minlength=n_labels + 1)[enclosed]
    return labels, enclosed, sizes


def clean_wall(mask, index=0, name="masks"):
    """Threshold and repair one soft mask; return the wall and its lumen.

    Parameters
    ----------
    mask : ndarray of shape (size, size)
        Validated values in [0, 1]; the wall is where ``mask > 0.5``.
    index : int, default=0
        Sample index, used in error messages.
    name : str, default="masks"
        Name used in error messages.

    Returns
    -------
    wall : ndarray of bool, shape (size, size)
        One 4-connected component without diagonal-only contacts, one-pixel
        spurs or notches, and without enclosed holes other than the lumen.
    lumen : ndarray of bool, shape (size, size)
        The single enclosed background region.

    Raises
    ------
    MaskError
        If the wall is empty, encloses no lumen or more than one lumen.
    """
    wall = np.asarray(mask) > 0.5
    if not wall.any():
        raise MaskError(f"{name}: sample {index} has an empty wall (no pixel above 0.5).")
    for _ in range(_MAX_REPAIR_PASSES):
        previous = wall
        wall = _largest_component(_repair_pixel_defects(wall))
        labels, enclosed, sizes = _enclosed_regions(wall)
        if len(enclosed):
            speck = sizes < max(MIN_LUMEN_PIXELS, SPECK_FRACTION * sizes.max())
            wall = wall | np.isin(labels, enclosed[speck])
        if np.array_equal(wall, previous):
            break
    if not wall.any():
        raise MaskError(f"{name}: sample {index} has an empty wall after removing specks.")
    labels, enclosed, sizes = _enclosed_regions(wall)
    if len(enclosed) == 0:
        raise MaskError(
            f"{name}: sample {index} has no enclosed lumen (the wall does not close "
            f"around a background region of at least {MIN_LUMEN_PIXELS} pixels)."
        )
    if len(enclosed) > 1:
        raise MaskError(
            f"{name}: sample {index} has more than one lumen ({len(enclosed)} enclosed "
            f"background regions of {', '.join(str(int(s)) for s in sorted(sizes)[::-1])} "
            "pixels after cleaning)."
        )
    return wall, labels == enclosed[0]
