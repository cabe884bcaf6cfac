"""The generator contract of stage 1.

A generator is a scikit-learn transformer fitted on *unlabeled* samples. Once fitted
it exposes

- ``transform(X) -> Z``: latent codes (posterior means), ``(n, latent_dim)``;
- ``inverse_transform(Z) -> X``: decoded samples in the input's sample shape;
- ``decoder_``: a differentiable ``torch.nn.Module`` mapping codes to samples, through
  which the samplers back-propagate the target net's loss;
- ``encoder_``: a ``torch.nn.Module`` mapping samples to latent means;
- ``sample_codes(n_samples, random_state)``: latent codes drawn from the prior, by
  default N(0, I); with ``prior="aggregate"`` (a parameter of the generators that
  have it) from a Gaussian fitted to the training codes at fit;
- ``sample(n_samples, random_state)``: decodes codes from ``sample_codes``.
"""

import numpy as np
import torch
from scipy import linalg
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

    **Prior.** A subclass with a ``prior`` parameter chooses where
    :meth:`sample_codes` (and so :meth:`sample`) draws codes from: ``"standard"``
    (default, also for subclasses without the parameter) is ``N(0, I)``;
    ``"aggregate"`` is the Gaussian ``N(mean, cov)`` of the training codes
    (``transform(X)`` at fit), the aggregate posterior of an auto-encoder whose
    codes are not standard normal. The aggregate draws use the same standard normal
    numbers, ``mean + eps @ L.T`` with ``L`` the Cholesky factor of ``cov``.

    **Capability.** ``has_decoder = True`` declares, before fitting, that a fitted
    instance has a differentiable ``decoder_``; the samplers that back-propagate
    through it (e.g. ``"nearest"``) check it before any label is paid for. A
    generator class of your own that is not a subclass declares it the same way;
    a plain scikit-learn transformer (or Pipeline) declares nothing and counts as
    an encoder only.
    """

    has_decoder = True

    def fit(self, X, y=None):
        """Fit the generator on unlabeled samples ``X`` (``y`` is ignored)."""
        X = check_samples(X, ensure_min_samples=2)
        self._check_prior()
        self.sample_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = X.shape[1]
        self.device_ = resolve_device(getattr(self, "device", None))
        self._fit(X)
        self._fit_prior(X)
        return self

    def _check_prior(self):
        prior = getattr(self, "prior", "standard")
        if prior not in ("standard", "aggregate"):
            raise ValueError(f"prior must be 'standard' or 'aggregate', got {prior!r}.")
        return prior

    def _fit_prior(self, X):
        """Set ``prior_mean_`` and ``prior_scale_`` (Cholesky factor) of the code prior."""
        dim = int(self.latent_dim_)
        if self._check_prior() == "standard":
            self.prior_mean_ = np.zeros(dim, dtype=np.float32)
            self.prior_scale_ = np.eye(dim, dtype=np.float32)
            return
        Z = np.asarray(self.transform(X), dtype=np.float64)
        cov = np.cov(Z, rowvar=False).reshape(dim, dim)
        cov += 1e-6 * max(float(np.trace(cov)) / dim, 1e-12) * np.eye(dim)
        self.prior_mean_ = Z.mean(axis=0).astype(np.float32)
        self.prior_scale_ = linalg.cholesky(cov, lower=True).astype(np.float32)

    def sample_codes(self, n_samples, random_state=None):
        """Draw ``n_samples`` latent codes from the prior (see the class docstring).

        With the standard prior this is exactly
        ``random_state.standard_normal((n_samples, latent_dim_)).astype(np.float32)``.

        Parameters
        ----------
        n_samples : int
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim), float32

        Examples
        --------
        >>> import numpy as np
        >>> from hardsample.generators import PCAGenerator
        >>> X = np.random.RandomState(0).rand(50, 6)
        >>> gen = PCAGenerator(2, whiten=False, prior="aggregate").fit(X)
        >>> Z = gen.sample_codes(20000, random_state=0)
        >>> bool(np.allclose(Z.std(axis=0), gen.transform(X).std(axis=0), rtol=0.05))
        True
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
            raise ValueError(f"n_samples must be a non-negative int, got {n_samples!r}.")
        rng = check_random_state(random_state)
        eps = rng.standard_normal((int(n_samples), self.latent_dim_)).astype(np.float32)
        mean = getattr(self, "prior_mean_", None)
        if mean is None or self._check_prior() == "standard":
            return eps
        return (mean + eps @ self.prior_scale_.T).astype(np.float32)

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
        X : ndarray of shape (n_samples, ...), float32
        """
        Z = self._check_codes(Z)
        return batched_apply(
            self.decoder_, Z, batch_size=self._inference_batch_size(),
            device=self.device_, out_shape=self.sample_shape_,
        )

    def sample(self, n_samples, random_state=None):
        """Decode ``n_samples`` codes drawn from the prior (:meth:`sample_codes`).

        Returns
        -------
        X : ndarray of shape (n_samples, ...)
        """
        return self.inverse_transform(self.sample_codes(n_samples, random_state))

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
