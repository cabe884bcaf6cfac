"""The generator contract of stage 1.

A generator is a scikit-learn transformer fitted on *unlabeled* samples. Once fitted
it exposes

- ``transform(X) -> Z``: latent codes (posterior means), ``(n, latent_dim)``;
- ``inverse_transform(Z) -> X``: decoded samples in the input's sample shape;
- ``decoder_``: a differentiable ``torch.nn.Module`` mapping codes to samples, through
  which the samplers back-propagate the target net's loss;
- ``encoder_``: a ``torch.nn.Module`` mapping samples to latent means;
- ``sample(n_samples, random_state)``: decodes codes drawn from the prior N(0, I).
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._torch import batched_apply, resolve_device
from .._validation import check_samples


class BaseGenerator(TransformerMixin, BaseEstimator):
    """Base class of the torch-backed generators (not for direct use).

    Subclasses implement ``_fit(X)`` which sets ``encoder_``, ``decoder_`` and any
    other fitted attribute; this class validates input, records the sample shape and
    does batched encoding, decoding and sampling.
    """

    def fit(self, X, y=None):
        """Fit the generator on unlabeled samples ``X`` (``y`` is ignored)."""
        X = check_samples(X, ensure_min_samples=2)
        self.sample_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = X.shape[1]
        self.device_ = resolve_device(getattr(self, "device", None))
        self._fit(X)
        return self

    def _check_samples(self, X):
        check_is_fitted(self)
        X = check_samples(X, ensure_min_samples=0)
        if tuple(X.shape[1:]) != self.sample_shape_:
            raise ValueError(
                f"X has sample shape {tuple(X.shape[1:])}, but {type(self).__name__} "
                f"was fitted on samples of shape {self.sample_shape_}."
            )
        return X

    def _check_codes(self, Z):
        check_is_fitted(self)
        Z = check_samples(Z, name="Z", ensure_min_samples=0)
        if Z.ndim != 2 or Z.shape[1] != self.latent_dim_:
            raise ValueError(
                f"Z must have shape (n_samples, {self.latent_dim_}), got {Z.shape}."
            )
        return Z

    def transform(self, X):
        """Encode samples into latent codes (posterior means), in batches.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim), float32
        """
        X = self._check_samples(X)
        return batched_apply(
            self.encoder_, X, batch_size=self._inference_batch_size(),
            device=self.device_, out_shape=(self.latent_dim_,),
        )

    def inverse_transform(self, Z):
        """Decode latent codes into samples of the fitted sample shape.

        Returns
        -------
        X : ndarray of shape (n_samples, *sample_shape_), float32
        """
        Z = self._check_codes(Z)
        return batched_apply(
            self.decoder_, Z, batch_size=self._inference_batch_size(),
            device=self.device_, out_shape=self.sample_shape_,
        )

    def sample(self, n_samples, random_state=None):
        """Decode ``n_samples`` codes drawn from the prior N(0, I).

        Returns
        -------
        X : ndarray of shape (n_samples, *sample_shape_)
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
            raise ValueError(f"n_samples must be a non-negative int, got {n_samples!r}.")
        rng = check_random_state(random_state)
        Z = rng.standard_normal((int(n_samples), self.latent_dim_)).astype(np.float32)
        return self.inverse_transform(Z)

    def _inference_batch_size(self):
        return max(int(getattr(self, "batch_size", 256) or 256), 256)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "decoder_")


class Reshape(torch.nn.Module):
    """Reshape a batch to ``(n, *shape)``."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.shape)
