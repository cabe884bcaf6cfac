"""PCAGenerator: scikit-learn's PCA behind the generator contract."""

import numbers

import numpy as np
import torch
from sklearn.decomposition import PCA

from .._validation import check_int
from ._base import BaseGenerator, Reshape


class PCAGenerator(BaseGenerator):
    """Principal component analysis as a linear, differentiable generator.

    A fast stand-in for a VAE: encoding is the PCA projection and decoding the
    linear reconstruction, both as torch modules so that losses can be
    back-propagated to the codes. With ``whiten=True`` (the default) the codes have
    unit variance, so :meth:`sample` draws from the data's Gaussian approximation.

    Parameters
    ----------
    n_components : int, default=3
        Size of the latent space.
    whiten : bool, default=True
        Scale the codes to unit variance.
    device : str or torch.device, default="cpu"
        Where the torch encoder and decoder live.
    random_state : int, RandomState instance or None, default=None
        Passed to PCA (randomised solvers).
    clip : bool, default=True
        Clip the samples ``inverse_transform`` returns to the range of the training
        data ``[data_min_, data_max_]``: a linear decoder extrapolates beyond the
        values any sample had (e.g. masks or images in [0, 1]), which a labeling
        tool may rightly reject. ``decoder_`` stays linear (unclipped), so the
        gradients the samplers back-propagate through it do not vanish.
    prior : {"standard", "aggregate"}, default="standard"
        Distribution of :meth:`sample_codes`: ``N(0, I)`` or a Gaussian fitted to
        the training codes (see :class:`~hardsample.generators.BaseGenerator`).

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
        The fitted PCA on flattened samples.
    encoder_, decoder_ : torch.nn.Module
        Linear maps from samples to codes and back.
    data_min_, data_max_ : float
        Range of the training data (the clipping range).
    latent_dim_ : int
    sample_shape_ : tuple of int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from hardsample.generators import PCAGenerator
    >>> X = load_digits().data / 16.0
    >>> gen = PCAGenerator(n_components=3).fit(X)
    >>> gen.transform(X[:2]).shape
    (2, 3)
    >>> gen.inverse_transform(gen.transform(X[:2])).shape
    (2, 64)
    """

    def __init__(self, n_components=3, *, whiten=True, device="cpu", random_state=None,
                 clip=True, prior="standard"):
        self.n_components = n_components
        self.whiten = whiten
        self.device = device
        self.random_state = random_state
        self.clip = clip
        self.prior = prior

    def _fit(self, X):
        if isinstance(self.n_components, numbers.Integral):
            check_int(self.n_components, "n_components")
        if not isinstance(self.clip, (bool, np.bool_)):
            raise TypeError(f"clip must be a bool, got {type(self.clip).__name__}.")
        flat = X.reshape(len(X), -1)
        self.data_min_, self.data_max_ = float(flat.min()), float(flat.max())
        self.pca_ = PCA(
            n_components=self.n_components, whiten=self.whiten, random_state=self.random_state
        ).fit(flat)
        self.latent_dim_ = self.pca_.n_components_
        # PCA.transform: (x - mean) @ components.T / scale; inverse: z * scale @ components + mean
        scale = (
            np.sqrt(self.pca_.explained_variance_) if self.whiten
            else np.ones(self.latent_dim_)
        ).astype(np.float32)
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        components = self.pca_.components_.astype(np.float32)
        mean = self.pca_.mean_.astype(np.float32)

        # skip_init: the weights are set below, so do not draw (and consume) random ones.
        encoder = torch.nn.utils.skip_init(torch.nn.Linear, flat.shape[1], self.latent_dim_)
        decoder = torch.nn.utils.skip_init(torch.nn.Linear, self.latent_dim_, flat.shape[1])
        with torch.no_grad():
            encoder.weight.copy_(torch.from_numpy(components / scale[:, None]))
            encoder.bias.copy_(torch.from_numpy(-(components @ mean) / scale))
            decoder.weight.copy_(torch.from_numpy((components * scale[:, None]).T))
            decoder.bias.copy_(torch.from_numpy(mean))
        self.encoder_ = torch.nn.Sequential(torch.nn.Flatten(), encoder).to(self.device_)
        self.decoder_ = torch.nn.Sequential(decoder, Reshape(self.sample_shape_)).to(self.device_)
        for module in (self.encoder_, self.decoder_):
            module.eval().requires_grad_(False)
        return self

    def inverse_transform(self, Z):
        """Decode codes linearly; clipped to ``[data_min_, data_max_]`` when ``clip``.

        Returns
        -------
        X : ndarray of shape (n_samples, ...), float32
        """
        X = super().inverse_transform(Z)
        if self.clip:
            np.clip(X, self.data_min_, self.data_max_, out=X)
        return X
