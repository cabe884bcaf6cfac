"""Binary masks as signed distance maps, and generators that model masks through them.

A linear combination (or a decoder's blend) of binary masks is a grey, blurry mask
whose 0.5 level set may tear or leak; the same blend of *signed distance maps*
(SDFs) is a smooth function whose zero level set is a closed curve. Modelling the
SDFs and thresholding a decoded SDF at 0 gives binary masks with closed walls:

- :class:`SignedDistanceTransformer`: masks <-> scaled signed distance maps;
- :class:`SDFGenerator`: any generator (PCA, VAE, ...) fitted on the SDFs of the
  masks, behind the generator contract; ``inverse_transform`` returns binary masks
  and ``decoder_`` a differentiable soft mask ``sigmoid(-sdf / tau)``.
"""

import numbers

import numpy as np
import torch
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._validation import check_samples
from ._base import BaseGenerator


def _check_positive(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a positive number{' or None' if allow_none else ''}, "
                         f"got {value!r}.")
    return float(value)


def _as_images(X, name="X"):
    """View samples as a stack of 2-D images (the last two axes); returns (images, shape)."""
    X = np.asarray(X)
    if X.ndim < 3:
        raise ValueError(f"{name} must be a batch of images (n_samples, ..., height, width), "
                         f"got an array of shape {X.shape}.")
    return X.reshape((-1,) + X.shape[-2:]), X.shape


def signed_distance(mask):
    """Signed distance (pixels) of one binary mask: < 0 inside, > 0 outside.

    The distance between pixel centres minus half a pixel, so that the zero level
    lies on the pixel edges between the mask and its complement, and
    ``signed_distance(mask) < 0`` gives back ``mask`` exactly. A mask without any
    pixel set (or without any unset pixel) has no boundary: its distance is taken
    to the image border.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.generators.sdf import signed_distance
    >>> mask = np.zeros((5, 5), bool)
    >>> mask[1:4, 1:4] = True
    >>> signed_distance(mask)[2]
    array([ 0.5, -0.5, -1.5, -0.5,  0.5])
    >>> bool(np.array_equal(signed_distance(mask) < 0, mask))
    True
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any() or mask.all():
        padded = np.pad(mask, 1, constant_values=not mask.any())
        return signed_distance(padded)[1:-1, 1:-1]
    inside = ndimage.distance_transform_edt(mask)
    outside = ndimage.distance_transform_edt(~mask)
    return np.where(mask, -(inside - 0.5), outside - 0.5)


class SignedDistanceTransformer(TransformerMixin, BaseEstimator):
    """Binary masks <-> scaled signed distance maps (``scipy.ndimage``).

    ``transform`` thresholds masks at ``threshold`` and returns their signed
    distance (< 0 on the mask, > 0 off it) divided by ``scale`` pixels, optionally
    truncated at ``+-truncate`` pixels; ``inverse_transform`` returns the binary
    mask ``sdf < 0`` (exact round trip), or with ``soft=True`` the smooth mask
    ``sigmoid(-sdf * scale / tau)``. The last two axes of a sample are the image;
    any leading sample axes (e.g. a channel) are kept.

    Parameters
    ----------
    scale : float, default=8.0
        Pixels per unit of the returned maps (the SDF is divided by it).
    truncate : float or None, default=None
        Clip distances to ``[-truncate, truncate]`` pixels before scaling (a
        truncated SDF); None keeps the full distance.
    threshold : float, default=0.5
        Mask pixels with values above it are inside.
    tau : float, default=0.5
        Width (pixels) of the soft edge of ``inverse_transform(..., soft=True)``.
    holes : bool, default=False
        Represent a mask by two maps, stacked on a new axis before the image axes:
        the SDF of the mask with its holes filled and the SDF of the holes (the
        enclosed background, e.g. a vessel's lumen); the mask is ``filled and not
        hole``. A blend of wall SDFs can close a small hole (a decoded ring without
        a lumen); a blend of hole SDFs keeps a hole wherever its minimum is
        negative.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.generators import SignedDistanceTransformer
    >>> masks = np.zeros((1, 8, 8), np.float32)
    >>> masks[0, 2:6, 2:6] = 1
    >>> sdt = SignedDistanceTransformer(scale=1.0).fit(masks)
    >>> sdf = sdt.transform(masks)
    >>> float(sdf[0, 3, 3]), float(sdf[0, 0, 0]) > 0
    (-1.5, True)
    >>> bool(np.array_equal(sdt.inverse_transform(sdf), masks))
    True
    """

    def __init__(self, scale=8.0, *, truncate=None, threshold=0.5, tau=0.5, holes=False):
        self.scale = scale
        self.truncate = truncate
        self.threshold = threshold
        self.tau = tau
        self.holes = holes

    def _check_params(self):
        _check_positive(self.scale, "scale")
        _check_positive(self.truncate, "truncate", allow_none=True)
        _check_positive(self.tau, "tau")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, numbers.Real) \
                or not np.isfinite(self.threshold):
            raise ValueError(f"threshold must be a finite number, got {self.threshold!r}.")
        if not isinstance(self.holes, (bool, np.bool_)):
            raise TypeError(f"holes must be a bool, got {type(self.holes).__name__}.")

    def fit(self, X, y=None):
        """Check the parameters and record the sample shape (``y`` is ignored)."""
        self._check_params()
        X = check_samples(X, ensure_min_samples=1)
        _as_images(X)
        self.sample_shape_ = tuple(X.shape[1:])
        self.sdf_shape_ = (self.sample_shape_[:-2] + (2,) + self.sample_shape_[-2:]
                           if self.holes else self.sample_shape_)
        self.n_features_in_ = X.shape[1]
        return self

    def _check_shape(self, X, name, shape):
        check_is_fitted(self)
        X = check_samples(X, name=name, ensure_min_samples=0)
        if tuple(X.shape[1:]) != shape:
            raise ValueError(f"{name} has sample shape {tuple(X.shape[1:])}, but "
                             f"{type(self).__name__} expects {shape}.")
        return X

    def _maps(self, image):
        mask = image > self.threshold
        if not self.holes:
            return signed_distance(mask)
        filled = ndimage.binary_fill_holes(mask)
        return np.stack([signed_distance(filled), signed_distance(filled & ~mask)])

    def transform(self, X):
        """Scaled signed distance maps of the masks, float32, of shape ``sdf_shape_``."""
        X = self._check_shape(X, "X", self.sample_shape_)
        images, _ = _as_images(X)
        sdf = np.stack([self._maps(image) for image in images]) if len(images) \
            else np.empty((0,) + self.sdf_shape_[-3 if self.holes else -2:])
        if self.truncate is not None:
            sdf = np.clip(sdf, -self.truncate, self.truncate)
        return (sdf / self.scale).astype(np.float32).reshape((len(X),) + self.sdf_shape_)

    def inverse_transform(self, X, soft=False):
        """Masks of signed distance maps: binary (``sdf < 0``), or soft with ``soft=True``.

        The soft mask is ``sigmoid(-sdf * scale / tau)`` (times
        ``sigmoid(hole_sdf * scale / tau)`` with ``holes=True``).
        """
        X = self._check_shape(X, "X", self.sdf_shape_)
        if not self.holes:
            if soft:
                return (1.0 / (1.0 + np.exp(X * (self.scale / self.tau)))).astype(np.float32)
            return (X < 0).astype(np.float32)
        filled, hole = X[..., 0, :, :], X[..., 1, :, :]
        if soft:
            gain = self.scale / self.tau
            return (1.0 / (1.0 + np.exp(filled * gain)) / (1.0 + np.exp(-hole * gain))
                    ).astype(np.float32)
        return ((filled < 0) & (hole >= 0)).astype(np.float32)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "sample_shape_")


class SoftMask(torch.nn.Module):
    """``sdf -> sigmoid(-sdf * scale / tau)``: a smooth, differentiable mask of an SDF.

    With ``holes=True`` the input has a (filled, hole) axis before the image axes and
    the mask is ``sigmoid(-filled * gain) * sigmoid(hole * gain)``.
    """

    def __init__(self, scale, tau, holes=False):
        super().__init__()
        self.gain = float(scale) / float(tau)
        self.holes = bool(holes)

    def forward(self, sdf):
        if not self.holes:
            return torch.sigmoid(-sdf * self.gain)
        filled, hole = sdf[..., 0, :, :], sdf[..., 1, :, :]
        return torch.sigmoid(-filled * self.gain) * torch.sigmoid(hole * self.gain)


class _SignedDistanceModule(torch.nn.Module):
    """Non-differentiable ``mask -> sdf`` (numpy inside) so that ``encoder_`` is a Module."""

    def __init__(self, transformer):
        super().__init__()
        self.transformer = transformer

    def forward(self, x):
        sdf = self.transformer.transform(x.detach().cpu().numpy())
        return torch.as_tensor(sdf, device=x.device)


class SDFGenerator(BaseGenerator):
    """Model masks through their signed distance maps with any generator.

    Fits ``generator`` (e.g. :class:`~hardsample.generators.PCAGenerator` or
    :class:`~hardsample.generators.VAETransformer`) on the scaled SDFs of the masks.
    Codes are the base generator's codes of the SDFs; a decoded SDF is turned back
    into a mask:

    - ``inverse_transform`` (what samplers send to a labeling tool) returns binary
      masks, ``decoded SDF < 0``: values are 0 or 1, and a smooth SDF's zero level
      set is a closed curve, so walls close;
    - ``decoder_`` (what samplers back-propagate through) is the base decoder
      followed by :class:`SoftMask`, ``sigmoid(-sdf * scale / tau)``, a
      differentiable relaxation of the same mask.

    Parameters
    ----------
    generator : generator estimator
        The base generator (cloned at fit), fitted on the SDFs.
    scale : float, default=8.0
        Pixels per SDF unit (see :class:`SignedDistanceTransformer`).
    truncate : float or None, default=None
        Truncation (pixels) of the SDFs.
    tau : float, default=0.5
        Soft edge width (pixels) of ``decoder_``.
    threshold : float, default=0.5
        Input mask pixels above it are inside.
    holes : bool, default=False
        Model the filled mask and its holes (e.g. a vessel's lumen) as two SDFs
        (see :class:`SignedDistanceTransformer`); decoded holes then close less
        often.
    prior : {"standard", "aggregate"}, default="standard"
        Distribution of :meth:`sample_codes` (see
        :class:`~hardsample.generators.BaseGenerator`).

    Attributes
    ----------
    generator_ : generator estimator
        The fitted base generator.
    sdf_ : SignedDistanceTransformer
    encoder_, decoder_ : torch.nn.Module
        ``mask -> code`` (the SDF step is not differentiable) and the
        differentiable ``code -> soft mask``.
    latent_dim_ : int
    sample_shape_ : tuple of int

    Examples
    --------
    >>> from hardsample.datasets import make_vessel_masks
    >>> from hardsample.generators import PCAGenerator, SDFGenerator
    >>> masks, _ = make_vessel_masks(30, random_state=0)
    >>> gen = SDFGenerator(PCAGenerator(3)).fit(masks)
    >>> Z = gen.transform(masks[:2])
    >>> decoded = gen.inverse_transform(Z)
    >>> Z.shape, decoded.shape, sorted(np.unique(decoded).tolist())
    ((2, 3), (2, 64, 64), [0.0, 1.0])
    >>> soft = gen.decoder_(torch.as_tensor(Z))
    >>> bool(soft.min() >= 0 and soft.max() <= 1)
    True
    """

    def __init__(self, generator, *, scale=8.0, truncate=None, tau=0.5, threshold=0.5,
                 holes=False, prior="standard"):
        self.generator = generator
        self.scale = scale
        self.truncate = truncate
        self.tau = tau
        self.threshold = threshold
        self.holes = holes
        self.prior = prior

    def _fit(self, X):
        if not callable(getattr(self.generator, "fit", None)):
            raise TypeError("generator must be a generator estimator with fit/transform/"
                            f"inverse_transform/decoder_, got {type(self.generator).__name__}.")
        self.sdf_ = SignedDistanceTransformer(
            self.scale, truncate=self.truncate, threshold=self.threshold, tau=self.tau,
            holes=self.holes).fit(X)
        self.generator_ = clone(self.generator).fit(self.sdf_.transform(X))
        self.latent_dim_ = int(self.generator_.latent_dim_)
        self.encoder_ = torch.nn.Sequential(_SignedDistanceModule(self.sdf_),
                                            self.generator_.encoder_)
        self.decoder_ = torch.nn.Sequential(self.generator_.decoder_,
                                            SoftMask(self.sdf_.scale, self.sdf_.tau,
                                                     self.sdf_.holes))
        self.decoder_.eval().requires_grad_(False)
        return self

    def transform(self, X):
        """Codes of the masks' signed distance maps (the base generator's codes)."""
        X = self._check_samples(X)
        return np.asarray(self.generator_.transform(self.sdf_.transform(X)), dtype=np.float32)

    def decode_sdf(self, Z):
        """The decoded (scaled) signed distance maps of codes ``Z``."""
        Z = self._check_codes(Z)
        return np.asarray(self.generator_.inverse_transform(Z), dtype=np.float32)

    def inverse_transform(self, Z):
        """Binary masks ``decoded SDF < 0`` of codes ``Z``, float32 0/1."""
        return self.sdf_.inverse_transform(self.decode_sdf(Z))


__all__ = ["SDFGenerator", "SignedDistanceTransformer", "SoftMask", "signed_distance"]
