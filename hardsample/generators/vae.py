"""VAETransformer: the paper's MLP variational auto-encoder (appendix A.3), or a conv one.

``architecture="mlp"`` (default) is the paper's fully connected VAE;
``architecture="conv"`` is a convolutional VAE for images (e.g. 64x64 masks): a
stride-2 conv encoder with GroupNorm and a transposed-conv decoder around the same
fully connected bottleneck, trained with the same loss and loop.
"""

import math
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, \
    validate_parameter_constraints
from torch import nn
from tqdm.auto import tqdm

from .._torch import seed_from, torch_seeded
from ._base import BaseGenerator, Reshape


def _mlp(sizes):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


def _group_norm(channels):
    """GroupNorm with up to 8 groups (a divisor of ``channels``): no batch statistics."""
    return nn.GroupNorm(math.gcd(int(channels), 8), channels)


def conv_trunk(in_channels, channels):
    """Stride-2 conv levels ``conv4/2 - GroupNorm - ReLU``, one per width in ``channels``.

    Each level halves the height and width: ``(n, in_channels, h, w) -> (n,
    channels[-1], h / 2**L, w / 2**L)`` with ``L = len(channels)``.
    """
    layers, c_in = [], in_channels
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), _group_norm(c), nn.ReLU()]
        c_in = c
    return nn.Sequential(*layers)


def deconv_head(channels, out_channels):
    """The mirror of :func:`conv_trunk`: ``convT4/2 - GroupNorm - ReLU`` per level, then conv3.

    ``(n, channels[-1], h, w) -> (n, out_channels, h * 2**L, w * 2**L)`` (no output
    activation: logits or Gaussian means).
    """
    layers, widths = [], list(channels[::-1])
    for c_in, c_out in zip(widths, widths[1:] + widths[-1:]):
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), _group_norm(c_out),
                   nn.ReLU()]
    layers.append(nn.Conv2d(widths[-1], out_channels, 3, padding=1))
    return nn.Sequential(*layers)


class GaussianEncoder(nn.Module):
    """Encoder of a Gaussian posterior: ``x -> (mean, log_variance)``.

    ``trunk`` (default: flatten) maps a sample to ``n_features`` values, followed by
    the MLP ``hidden_sizes`` and the two linear heads.
    """

    def __init__(self, n_features, hidden_sizes, latent_dim, trunk=None):
        super().__init__()
        trunk = nn.Flatten() if trunk is None else trunk
        self.body = nn.Sequential(trunk, _mlp((n_features, *hidden_sizes)))
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
    """The paper's variational auto-encoder (MLP, or convolutional for images).

    With ``architecture="mlp"`` (the paper's model): encoder ``n_features -> 400 ->
    400 -> (mean, log-variance)`` with a latent space of 3 dimensions by default, the
    decoder mirrors it. With ``architecture="conv"``, for images ``(n, channels,
    height, width)`` (e.g. 64x64 masks): one stride-2 convolution level per entry of
    ``channels`` (``conv4/2 - GroupNorm - ReLU``), then the same fully connected
    layers ``hidden_sizes`` to the code; the decoder mirrors it with transposed
    convolutions (``convT4/2 - GroupNorm - ReLU``) and a final ``conv3``. GroupNorm
    keeps no batch statistics, so the model behaves the same in training and in
    evaluation and for any batch size. Both are trained on unlabeled samples with
    the reparameterisation trick to maximise the evidence lower bound.

    Parameters
    ----------
    latent_dim : int, default=3
        Size of the latent space.
    hidden_sizes : tuple of int, default=(400, 400)
        Widths of the encoder's fully connected hidden layers (the decoder uses them
        reversed); with ``architecture="conv"`` they sit between the flattened conv
        features and the code (``()`` maps the features straight to the code).
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
    architecture : {"mlp", "conv"}, default="mlp"
        ``"mlp"`` flattens samples of any shape. ``"conv"`` needs images: the last
        two sample axes are height and width, both divisible by
        ``2 ** len(channels)``; any axes before them (e.g. ``(n, 1, 64, 64)``, or the
        two maps of :class:`~hardsample.generators.SDFGenerator` with
        ``holes=True``) are stacked as input channels; ``(n, h, w)`` is one channel.
    channels : tuple of int, default=(32, 32, 64, 64)
        Output widths of the conv levels (``architecture="conv"`` only; each level
        halves height and width). The default takes 64x64 images to 64 maps of 4x4.

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

    The convolutional VAE on 8x8 images with one channel (two levels: 8 -> 4 -> 2):

    >>> images = X.reshape(-1, 1, 8, 8)
    >>> conv = VAETransformer(latent_dim=2, hidden_sizes=(32,), architecture="conv",
    ...                       channels=(8, 16), max_epochs=2, random_state=0).fit(images)
    >>> conv.transform(images[:5]).shape, conv.sample(3, random_state=0).shape
    ((5, 2), (3, 1, 8, 8))
    """

    _parameter_constraints = {
        "latent_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_sizes": ["array-like"],  # entries checked in _check_params
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "device": [None, str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "prior": [StrOptions({"standard", "aggregate"})],
        "architecture": [StrOptions({"mlp", "conv"})],
        "channels": ["array-like"],  # entries checked in _check_params
    }

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
        architecture="mlp",
        channels=(32, 32, 64, 64),
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
        self.architecture = architecture
        self.channels = channels

    @staticmethod
    def _check_widths(value, name):
        if isinstance(value, str) or not all(
                isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
                for h in np.atleast_1d(np.asarray(value, dtype=object))):
            raise ValueError(f"{name} must be a sequence of positive ints, got {value!r}.")
        return tuple(int(h) for h in np.atleast_1d(np.asarray(value, dtype=object)))

    def _check_params(self, X):
        for name in ("latent_dim", "batch_size", "max_epochs"):
            if isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be an int, got {getattr(self, name)!r}.")
        validate_parameter_constraints(self._parameter_constraints,
                                       self.get_params(deep=False),
                                       caller_name=type(self).__name__)
        self._check_widths(self.hidden_sizes, "hidden_sizes")
        if not np.isfinite(self.lr):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        if self.architecture == "conv":
            self._check_images(X)
        in_unit_range = X.min() >= 0.0 and X.max() <= 1.0
        if self.likelihood == "bernoulli" and not in_unit_range:
            raise ValueError(
                "likelihood='bernoulli' needs samples in [0, 1]; got values in "
                f"[{X.min():.3g}, {X.max():.3g}]. Scale X or use likelihood='gaussian'."
            )
        if self.likelihood == "auto":
            return "bernoulli" if in_unit_range else "gaussian"
        return self.likelihood

    def _check_images(self, X):
        """``(in_channels, height, width)`` of images for the conv VAE, or a ValueError."""
        channels = self._check_widths(self.channels, "channels")
        if len(channels) == 0:
            raise ValueError("channels must hold at least one width, got ().")
        if X.ndim < 3:
            raise ValueError(
                "architecture='conv' needs images, X of shape (n_samples, [channels, ...,] "
                f"height, width); got X of shape {X.shape}. Reshape flat samples to images "
                "(e.g. X.reshape(-1, 1, 64, 64)) or use architecture='mlp'.")
        height, width = X.shape[-2:]
        factor = 2 ** len(channels)
        if height % factor or width % factor:
            raise ValueError(
                f"architecture='conv' with {len(channels)} levels (channels={channels}) needs "
                f"a height and width divisible by 2**{len(channels)} = {factor}; got images "
                f"of {height}x{width} (X of shape {X.shape}; channels first, the last two "
                "axes are the image). Use fewer levels or pad the images.")
        return int(np.prod(X.shape[1:-2], dtype=int)), int(height), int(width)

    def _build(self, X, hidden):
        """The encoder and the decoder body (codes -> flat logits or means)."""
        n_features = int(np.prod(self.sample_shape_))
        if self.architecture == "mlp":
            encoder = GaussianEncoder(n_features, hidden, self.latent_dim_)
            return encoder, nn.Sequential(
                _mlp((self.latent_dim_, *hidden[::-1])),
                nn.Linear(hidden[0] if hidden else self.latent_dim_, n_features),
            )
        in_channels, height, width = self._check_images(X)
        channels = self._check_widths(self.channels, "channels")
        coarse = (channels[-1], height >> len(channels), width >> len(channels))
        n_coarse = int(np.prod(coarse))
        trunk = nn.Sequential(Reshape((in_channels, height, width)),
                              conv_trunk(in_channels, channels), nn.Flatten())
        encoder = GaussianEncoder(n_coarse, hidden, self.latent_dim_, trunk=trunk)
        decoder_body = nn.Sequential(
            _mlp((self.latent_dim_, *hidden[::-1])),
            nn.Linear(hidden[0] if hidden else self.latent_dim_, n_coarse), nn.ReLU(),
            Reshape(coarse), deconv_head(channels, in_channels), nn.Flatten(),
        )
        return encoder, decoder_body

    def _fit(self, X):
        self.likelihood_ = self._check_params(X)
        self.latent_dim_ = int(self.latent_dim)
        hidden = self._check_widths(self.hidden_sizes, "hidden_sizes")
        rng = check_random_state(self.random_state)
        with torch_seeded(seed_from(rng), self.device_):
            encoder, decoder_body = self._build(X, hidden)
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
