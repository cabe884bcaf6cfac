"""How a pool sample is shown on the labeling page: a PNG image or a row of values."""

import io
import math

import numpy as np


def _check_image_shape(image_shape):
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or min(shape) < 1 or (len(shape) == 3 and shape[2] not in (1, 3)):
        raise ValueError(f"image_shape must be (height, width) or (height, width, 1|3), "
                         f"got {image_shape!r}")
    return shape


def image_layout(sample_shape, image_shape=None):
    """How to turn one pool sample into an image, or ``None`` for a tabular pool.

    Parameters
    ----------
    sample_shape : tuple of int
        Shape of one pool sample (the pool's shape without its first axis).
    image_shape : tuple of int, optional
        ``(height, width)`` or ``(height, width, channels)`` to reshape each sample to;
        its size must equal the sample's. Without it, samples of shape ``(H, W)``,
        ``(1|3, H, W)`` (channels first) or ``(H, W, 1|3)`` are images and samples of
        shape ``(n_features,)`` are rows of a table.

    Returns
    -------
    tuple or None
        ``(reshape_to, channels_first)``: each sample is reshaped to ``reshape_to``, then
        moved to channels last when ``channels_first``. ``None`` for a table.

    Raises
    ------
    ValueError
        When ``image_shape`` does not match the sample's size, or a sample is neither an
        image nor a row and no ``image_shape`` is given.
    """
    sample_shape = tuple(int(s) for s in sample_shape)
    if image_shape is not None:
        shape = _check_image_shape(image_shape)
        if math.prod(shape) != math.prod(sample_shape):
            raise ValueError(f"image_shape {shape} holds {math.prod(shape)} values, but a "
                             f"pool sample of shape {sample_shape} holds "
                             f"{math.prod(sample_shape)}")
        return shape, False
    if len(sample_shape) == 1:
        return None
    if len(sample_shape) == 2:
        return sample_shape, False
    if len(sample_shape) == 3 and sample_shape[0] in (1, 3):
        return sample_shape, True
    if len(sample_shape) == 3 and sample_shape[2] in (1, 3):
        return sample_shape, False
    raise ValueError(f"pool samples of shape {sample_shape} are neither images ((H, W), "
                     "(1|3, H, W), (H, W, 1|3)) nor table rows ((n_features,)): give "
                     "image_shape")


def sample_png(sample, layout):
    """PNG bytes of one sample, drawn with matplotlib's ``imsave``.

    Parameters
    ----------
    sample : array-like
        One pool sample.
    layout : tuple
        What :func:`image_layout` returned for the pool.

    Returns
    -------
    bytes
        The PNG file. Gray levels span the sample's own range; colour images are scaled
        to [0, 1] when their values lie outside it.
    """
    # matplotlib.image.imsave is what pyplot.imsave calls; it needs no figure and no
    # GUI backend, so it is safe in the server's worker threads.
    from matplotlib.image import imsave

    shape, channels_first = layout
    image = np.asarray(sample, dtype=np.float64).reshape(shape)
    if channels_first:
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    image = np.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0)
    buffer = io.BytesIO()
    if image.ndim == 2:
        imsave(buffer, image, cmap="gray", format="png")
    else:
        low, high = image.min(), image.max()
        if low < 0 or high > 1:
            image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        imsave(buffer, image, format="png")
    return buffer.getvalue()


def sample_values(sample):
    """A tabular sample's values as short strings (NaN and infinities included)."""
    return [format(float(v), ".6g") for v in np.asarray(sample).ravel()]
