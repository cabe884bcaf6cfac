"""VAETransformer: the paper's MLP variational auto-encoder (appendix A.3)."""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn
from tqdm.auto import tqdm

from .._torch import seed_from, torch_seeded
from .._validation import check_int
from ._base import BaseGenerator, Reshape


def _mlp(sizes):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


class GaussianEncoder(nn.Module):
    """MLP encoder of a Gaussian posterior: ``x -> (mean, log_variance)``."""

    def __init__(self, n_features, hidden_sizes, latent_dim):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), _mlp((n_features, *hidden_sizes)))
        width = hidden_sizes[-1] if hidden_sizes else n_features
        self.mean = nn.Linear(width, latent_dim)
        self.log_var = nn.Linear(width, latent_dim)

    def forward(self, x):
        h = self.body(x)
        return self.mean(h), self.log_var(h)


class PosteriorMean(nn.Module):
    """``x -> mean`` view of a :class:`GaussianEncoder` (what ``transform`` returns)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        return self.encoder(x)[0]


class VAETransformer(BaseGenerator):
    """The paper's MLP variational auto-encoder as a scikit-learn transformer.

    Encoder ``n_features -> 400 -> 400 -> (mean, log-variance)`` with a latent space of
    3 dimensions by default, the decoder mirrors it; trained on unlabeled samples
    with the reparameterisation trick to maximise the evidence lower bound.

    Parameters
    ----------
    latent_dim : int, default=3
        Size of the latent space.
    hidden_sizes : tuple of int, default=(400, 400)
        Widths of the encoder's hidden layers (the decoder uses them reversed).
    likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        Bernoulli (binary cross-entropy; decoder ends in a sigmoid) needs samples in
        [0, 1]; Gaussian uses a learned global variance. ``"auto"`` picks Bernoulli
        when all training values lie in [0, 1].
    beta : float, default=1.0
        Weight of the KL term.
    max_epochs : int, default=20
    batch_size : int, default=128
    lr : float, default=1e-3
        Adam learning rate.
    device : str or torch.device, default="cpu"
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and the reparameterisation noise.
    prior : {"standard", "aggregate"}, default="standard"
        Distribution of :meth:`sample_codes`: ``N(0, I)`` or a Gaussian fitted to
        the training codes (posterior means) at fit, for when they are not standard
        normal (see :class:`~hardsample.generators.BaseGenerator`).
    verbose : int, default=0
        Show a progress bar over epochs when > 0.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        Maps samples to posterior means.
    decoder_ : torch.nn.Module
        Differentiable map from codes to decoded samples (means of the likelihood).
    loss_curve_ : list of float
        Negative ELBO per sample after each epoch.
    likelihood_ : str
    latent_dim_ : int
    sample_shape_ : tuple of int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from hardsample.generators import VAETransformer
    >>> X = load_digits().data / 16.0
    >>> vae = VAETransformer(latent_dim=2, hidden_sizes=(32,), max_epochs=2,
    ...                      random_state=0).fit(X)
    >>> vae.transform(X[:5]).shape
    (5, 2)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    """

    def __init__(
        self,
        latent_dim=3,
        hidden_sizes=(400, 400),
        *,
        likelihood="auto",
        beta=1.0,
        max_epochs=20,
        batch_size=128,
        lr=1e-3,
        device="cpu",
        random_state=None,
        verbose=0,
        prior="standard",
    ):
        self.latent_dim = latent_dim
        self.hidden_sizes = hidden_sizes
        self.likelihood = likelihood
        self.beta = beta
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.prior = prior

    def _check_params(self, X):
        check_int(self.latent_dim, "latent_dim")
        check_int(self.batch_size, "batch_size")
        check_int(self.max_epochs, "max_epochs", min_value=0)
        if isinstance(self.hidden_sizes, str) or not all(
                isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
                for h in np.atleast_1d(np.asarray(self.hidden_sizes, dtype=object))):
            raise ValueError(
                f"hidden_sizes must be a sequence of positive ints, got {self.hidden_sizes!r}.")
        if not (isinstance(self.lr, numbers.Real) and np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        if self.likelihood not in ("auto", "bernoulli", "gaussian"):
            raise ValueError(
                f"likelihood must be 'auto', 'bernoulli' or 'gaussian', got {self.likelihood!r}."
            )
        in_unit_range = X.min() >= 0.0 and X.max() <= 1.0
        if self.likelihood == "bernoulli" and not in_unit_range:
            raise ValueError(
                "likelihood='bernoulli' needs samples in [0, 1]; got values in "
                f"[{X.min():.3g}, {X.max():.3g}]. Scale X or use likelihood='gaussian'."
            )
        if self.likelihood == "auto":
            return "bernoulli" if in_unit_range else "gaussian"
        return self.likelihood

    def _fit(self, X):
        self.likelihood_ = self._check_params(X)
        self.latent_dim_ = int(self.latent_dim)
        n_features = int(np.prod(self.sample_shape_))
        hidden = tuple(int(h) for h in self.hidden_sizes)
        rng = check_random_state(self.random_state)
        with torch_seeded(seed_from(rng), self.device_):
            encoder = GaussianEncoder(n_features, hidden, self.latent_dim_)
            decoder_body = nn.Sequential(
                _mlp((self.latent_dim_, *hidden[::-1])),
                nn.Linear(hidden[0] if hidden else self.latent_dim_, n_features),
            )
            self.log_scale_ = nn.Parameter(torch.zeros(()))
            encoder.to(self.device_)
            decoder_body.to(self.device_)
            self.log_scale_.data = self.log_scale_.data.to(self.device_)
            self.loss_curve_ = self._train(encoder, decoder_body, X)

        output = [decoder_body]
        if self.likelihood_ == "bernoulli":
            output.append(nn.Sigmoid())
        self.encoder_ = PosteriorMean(encoder).eval()
        self.decoder_ = nn.Sequential(*output, Reshape(self.sample_shape_)).eval()
        for module in (self.encoder_, self.decoder_):
            module.requires_grad_(False)
        return self

    def _negative_elbo(self, x, logits, mean, log_var):
        if self.likelihood_ == "bernoulli":
            reconstruction = nn.functional.binary_cross_entropy_with_logits(
                logits, x, reduction="none").sum(1)
        else:
            log_var_x = 2 * self.log_scale_
            reconstruction = 0.5 * (((x - logits) ** 2) / log_var_x.exp() + log_var_x).sum(1)
        kl = -0.5 * (1 + log_var - mean ** 2 - log_var.exp()).sum(1)
        return (reconstruction + self.beta * kl).mean()

    def _train(self, encoder, decoder_body, X):
        flat = torch.from_numpy(X.reshape(len(X), -1))
        params = [*encoder.parameters(), *decoder_body.parameters()]
        if self.likelihood_ == "gaussian":
            params.append(self.log_scale_)
        optimizer = torch.optim.Adam(params, lr=self.lr)
        batch_size = int(self.batch_size)
        curve = []
        epochs = tqdm(range(int(self.max_epochs)), desc="VAE", disable=not self.verbose)
        for _ in epochs:
            encoder.train()
            decoder_body.train()
            total = 0.0
            for batch_idx in torch.randperm(len(flat)).split(batch_size):
                x = flat[batch_idx].to(self.device_)
                mean, log_var = encoder(x)
                z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
                loss = self._negative_elbo(x, decoder_body(z), mean, log_var)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch_idx)
            curve.append(total / len(flat))
            if not np.isfinite(curve[-1]):
                raise ValueError(
                    f"VAE training diverged (loss {curve[-1]} at epoch {len(curve)}): scale X "
                    "(e.g. to [0, 1] or to unit variance) or lower lr."
                )
            epochs.set_postfix(loss=f"{curve[-1]:.2f}")
        return curve
