"""AlphaGANTransformer: the paper's α-GAN for colour images (appendix A.3).

The α-GAN (Rosca et al., 2017, arXiv:1706.04987) is an auto-encoder trained with
adversarial terms instead of the VAE's Gaussian likelihood and KL divergence:

- an *encoder* maps an image to a latent code;
- a *generator* (the decoder) maps a code back to an image;
- an *image discriminator* tells real images from reconstructions ``G(E(x))`` and
  from samples of the prior ``G(z)``, ``z ~ N(0, I)``;
- a *code discriminator* tells encoded codes ``E(x)`` from prior draws ``z``.

The encoder and generator minimise ``lambda_rec * |x - G(E(x))|_1`` plus the
(non-saturating) image-adversarial losses on ``G(E(x))`` and ``G(z)`` plus
``lambda_code`` times the code-adversarial loss on ``E(x)``; the discriminators are
trained with the binary cross-entropy. The code-adversarial term pushes the
aggregate posterior towards N(0, I), which is what makes ``sample`` meaningful and
keeps the latent space compact for the latent-space samplers.
"""

import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn
from tqdm.auto import tqdm

from .._torch import seed_from, torch_seeded
from .._validation import fingerprint
from ._base import BaseGenerator, Reshape

_LOSS_NAMES = ("reconstruction", "encoder_generator", "image_discriminator",
               "code_discriminator")


_CHECKPOINT_KEYS = ("settings", "epoch", "nets", "optimizers", "rng", "losses")


def _plain(value):
    """``value`` as plain data that ``torch.load(weights_only=True)`` reads back.

    NumPy scalars become Python numbers; anything else that is not a str, int,
    float, bool or None is recorded by its ``repr`` (compared, never rebuilt).
    """
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if value is None or isinstance(value, (str, int, float)):
        return value
    return repr(value)


def _read_checkpoint(path, device):
    """The state a checkpoint holds, read without running any code from the file.

    ``torch.load(weights_only=True)`` rebuilds tensors and plain containers only; a
    file that asks for anything else (a pickle built to call a function, an object
    of another class) is refused before it is unpickled.
    """
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (not a zip), EOFError, ...
        detail = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(
            f"The checkpoint {path} is not a safe, valid AlphaGANTransformer checkpoint: "
            "torch.load(weights_only=True), which rebuilds tensors and plain data only, "
            f"refused it ({type(exc).__name__}: {detail}). Nothing in it was run. Delete "
            "it, or pass another checkpoint path to train from scratch."
        ) from exc
    if not isinstance(state, dict) or not set(_CHECKPOINT_KEYS) <= set(state):
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"The checkpoint {path} is not an AlphaGANTransformer checkpoint: expected a "
            f"dict with {', '.join(_CHECKPOINT_KEYS)}, found {found}. Delete it, or pass "
            "another checkpoint path to train from scratch."
        )
    return state


class ResidualBlock(nn.Module):
    """``x + (conv3 - BN - LeakyReLU - conv3 - BN - LeakyReLU)(x)``, channels kept."""

    def __init__(self, channels, negative_slope=0.2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
            nn.LeakyReLU(negative_slope),
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
            nn.LeakyReLU(negative_slope),
        )

    def forward(self, x):
        return x + self.body(x)


class _ToSigned(nn.Module):
    """Map images in [0, 1] to [-1, 1] (the range of the generator's tanh)."""

    def forward(self, x):
        return 2.0 * x - 1.0


class _ToUnit(nn.Module):
    """Map the generator's tanh output in [-1, 1] to [0, 1]."""

    def forward(self, x):
        return 0.5 * (x + 1.0)


def _conv_trunk(in_channels, channels, size, n_out):
    """The encoder / image-discriminator trunk of the table, ending in ``FC -> n_out``.

    ``conv5(in -> c) - avgpool2 - ReLU - [residual block - avgpool2] x 2 - residual
    block - FC(c * size/8 * size/8 -> n_out)``.
    """
    side = size // 8
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 5, padding=2), nn.AvgPool2d(2), nn.ReLU(),
        ResidualBlock(channels), nn.AvgPool2d(2),
        ResidualBlock(channels), nn.AvgPool2d(2),
        ResidualBlock(channels),
        nn.Flatten(), nn.Linear(channels * side * side, n_out),
    )


class AlphaGANEncoder(nn.Module):
    """Images in [0, 1], ``(n, c, h, w)`` -> latent codes ``(n, latent_dim)``."""

    def __init__(self, in_channels, size, channels, latent_dim):
        super().__init__()
        self.net = nn.Sequential(_ToSigned(), _conv_trunk(in_channels, channels, size, latent_dim))

    def forward(self, x):
        return self.net(x)


class AlphaGANGenerator(nn.Module):
    """Latent codes -> images in [-1, 1] (tanh).

    ``FC(latent -> c * h * w) - ReLU - residual block x 4 - conv1(c -> out) - tanh``,
    all at the full image resolution.
    """

    def __init__(self, latent_dim, channels, out_channels, size, n_blocks=4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, channels * size * size), nn.ReLU(),
            Reshape((channels, size, size)),
            *[ResidualBlock(channels) for _ in range(n_blocks)],
            nn.Conv2d(channels, out_channels, 1), nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z)


class CodeDiscriminator(nn.Module):
    """``latent -> 700 -> 700 -> 1`` MLP with LeakyReLU; returns a logit.

    The paper's table ends in a sigmoid; here it is folded into the loss
    (``BCEWithLogitsLoss``), which is the same model, numerically safer.
    """

    def __init__(self, latent_dim, hidden=700, negative_slope=0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.LeakyReLU(negative_slope),
            nn.Linear(hidden, hidden), nn.LeakyReLU(negative_slope),
            nn.Linear(hidden, 1),
        )

    def forward(self, z):
        return self.net(z).squeeze(1)


class _ImageDiscriminator(nn.Module):
    """Images in [-1, 1] -> one logit each (the encoder's trunk ending in FC -> 1)."""

    def __init__(self, in_channels, size, channels):
        super().__init__()
        self.net = _conv_trunk(in_channels, channels, size, 1)

    def forward(self, x):
        return self.net(x).squeeze(1)


class AlphaGANTransformer(BaseGenerator):
    """The paper's α-GAN (Rosca et al., 2017) for colour images, as a transformer.

    Fitted on unlabeled images ``(n, channels, h, w)`` with values in [0, 1] (e.g.
    CIFAR-10 as ``X.transpose(0, 3, 1, 2) / 255``); ``h`` and ``w`` must be equal and
    divisible by 8. Follows appendix A.3 of the paper:

    - residual block: ``conv3 - BN - LeakyReLU - conv3 - BN - LeakyReLU`` plus the
      identity;
    - encoder: ``conv5(3 -> C) - avgpool2 - ReLU - residual block - avgpool2 - residual
      block - avgpool2 - residual block - FC -> latent_dim``;
    - generator: ``FC(latent_dim -> C x 32 x 32) - ReLU - 4 residual blocks - conv1(C
      -> 3) - tanh``, mapped to [0, 1] inside ``decoder_``;
    - image discriminator: the encoder's layers ending in ``FC -> 1``;
    - code discriminator: MLP ``latent_dim -> 700 -> 700 -> 1``, LeakyReLU, sigmoid.

    ``C = channels`` (64 in the paper: the generator's FC then has 65,536 outputs).
    Two departures from the table, which is not self-consistent: the table lists
    average poolings between the generator's residual blocks, which would shrink the
    image to 4 x 4, so the generator keeps the full resolution (no pooling); and
    the encoder's FC input is ``C x 4 x 4`` after its three poolings (the table
    says 65,536, the size without pooling).

    After training, one pass over ``X`` recomputes the batch-norm statistics of the
    encoder and generator: the running averages kept during adversarial training
    lag behind the weights, and without this the eval-mode decoder reconstructed
    markedly worse than in training mode (CIFAR-10 test MSE 0.078 against 0.054).

    Parameters
    ----------
    latent_dim : int, default=3
    channels : int, default=64
        Width of the residual stacks (the paper's 64; 8-16 is workable on a CPU).
    max_epochs : int, default=20
    batch_size : int, default=64
    lr : float, default=2e-4
        Adam learning rate of all four nets (betas ``(0.5, 0.9)``).
    lambda_rec : float, default=10.0
        Weight of the L1 reconstruction loss (mean over pixels, images in [-1, 1]).
    lambda_code : float, default=1.0
        Weight of the encoder's code-adversarial loss.
    lambda_adv : float, default=1.0
        Weight of the generator's image-adversarial losses (0 trains a plain
        auto-encoder with a code-adversarial prior).
    device : str or torch.device, default="cpu"
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order and the prior draws. Training draws all
        its randomness from one CPU ``torch.Generator``, so a seed gives the same
        result on every run on the same machine and device.
    verbose : int, default=0
        1: progress bar over epochs; 2: one log line per epoch (skorch style).
    checkpoint : str, path-like or None, default=None
        File where the state (four nets, their optimizers, random generator, epoch,
        loss history) is saved after every epoch. If it already exists when ``fit``
        starts, and was written with the same settings (every parameter except
        ``max_epochs``, ``verbose``, ``device`` and ``checkpoint``) on the same
        ``X``, training resumes after its last epoch: ``fit`` with ``max_epochs=3``
        after a 2-epoch run trains one more epoch and (on the same device) gives
        exactly the weights of an uninterrupted 3-epoch run. The checkpoint holds
        the training state; the batch-norm statistics of the fitted ``encoder_`` and
        ``decoder_`` are recomputed from ``X`` at the end of every ``fit``. A checkpoint with other
        settings, other data or more epochs than ``max_epochs`` raises a
        ``ValueError``; delete it to start over. The file holds tensors and plain
        data only (the settings as str, int, float, bool or None) and is read with
        ``torch.load(weights_only=True)``: a file that would run code when
        unpickled is refused with a ``ValueError`` naming it, and nothing in it runs.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        Images in [0, 1] -> codes (eval mode, frozen).
    decoder_ : torch.nn.Module
        Differentiable map codes -> images in [0, 1] (eval mode, frozen weights).
    image_discriminator_, code_discriminator_ : torch.nn.Module
        The fitted critics (logits), kept for diagnostics.
    loss_curve_ : list of float
        Mean L1 reconstruction error per pixel (images in [0, 1]) of each epoch.
    losses_ : dict of str to list of float
        Per-epoch means of ``reconstruction``, ``encoder_generator``,
        ``image_discriminator`` and ``code_discriminator`` losses.
    epoch_seconds_ : list of float
        Wall time of each epoch trained by this ``fit`` call.
    n_epochs_ : int
        Epochs the model has been trained (including resumed ones).
    latent_dim_ : int
    sample_shape_ : tuple of int

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.generators import AlphaGANTransformer
    >>> X = np.random.RandomState(0).rand(16, 3, 32, 32).astype("float32")
    >>> gan = AlphaGANTransformer(channels=4, max_epochs=1, random_state=0).fit(X)
    >>> gan.transform(X[:2]).shape, gan.sample(2, random_state=0).shape
    ((2, 3), (2, 3, 32, 32))
    """

    def __init__(
        self,
        latent_dim=3,
        channels=64,
        *,
        max_epochs=20,
        batch_size=64,
        lr=2e-4,
        lambda_rec=10.0,
        lambda_code=1.0,
        lambda_adv=1.0,
        device="cpu",
        random_state=None,
        verbose=0,
        checkpoint=None,
    ):
        self.latent_dim = latent_dim
        self.channels = channels
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lambda_rec = lambda_rec
        self.lambda_code = lambda_code
        self.lambda_adv = lambda_adv
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _positive_int(value, name, minimum=1):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
        return int(value)

    def _check_params(self, X):
        self._positive_int(self.latent_dim, "latent_dim")
        self._positive_int(self.channels, "channels")
        self._positive_int(self.max_epochs, "max_epochs", minimum=0)
        self._positive_int(self.batch_size, "batch_size")
        for name in ("lr", "lambda_rec", "lambda_code", "lambda_adv"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                    or value < 0 or (name == "lr" and value == 0):
                kind = "positive" if name == "lr" else "non-negative"
                raise ValueError(f"{name} must be a {kind} number, got {value!r}.")
        if X.ndim != 4:
            raise ValueError(
                "AlphaGANTransformer needs images of shape (n_samples, channels, height, "
                f"width), got X of shape {X.shape}. For HWC uint8 images use "
                "X.transpose(0, 3, 1, 2) / 255.0."
            )
        n_channels, height, width = X.shape[1:]
        if n_channels > 16:
            raise ValueError(
                f"X has {n_channels} channels; expected channels-first images (n, c, h, w). "
                "For HWC images use X.transpose(0, 3, 1, 2)."
            )
        if height != width or height % 8 or height < 8:
            raise ValueError(
                f"AlphaGANTransformer needs square images with a side divisible by 8, got "
                f"{height}x{width}."
            )
        low, high = float(X.min()), float(X.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"AlphaGANTransformer needs pixel values in [0, 1]; got values in "
                f"[{low:.3g}, {high:.3g}]. Divide uint8 images by 255."
            )

    def _settings(self, X):
        params = {k: v for k, v in self.get_params().items()
                  if k not in ("max_epochs", "verbose", "device", "checkpoint")}
        rs = params["random_state"]
        if not (rs is None or isinstance(rs, (int, np.integer))):
            params["random_state"] = "<RandomState>"
        params = {k: _plain(v) for k, v in params.items()}
        return dict(params=params, data=fingerprint(X))

    # ------------------------------------------------------------------ fit
    def _fit(self, X):
        self._check_params(X)
        self.latent_dim_ = int(self.latent_dim)
        n_channels, size = X.shape[1], X.shape[2]
        c = int(self.channels)
        rng = check_random_state(self.random_state)
        seed = seed_from(rng)
        with torch_seeded(seed, self.device_):
            nets = dict(
                encoder=AlphaGANEncoder(n_channels, size, c, self.latent_dim_),
                generator=AlphaGANGenerator(self.latent_dim_, c, n_channels, size),
                image_discriminator=_ImageDiscriminator(n_channels, size, c),
                code_discriminator=CodeDiscriminator(self.latent_dim_),
            )
        for net in nets.values():
            net.to(self.device_)
        betas = (0.5, 0.9)
        optimizers = dict(
            encoder_generator=torch.optim.Adam(
                [*nets["encoder"].parameters(), *nets["generator"].parameters()],
                lr=float(self.lr), betas=betas),
            image_discriminator=torch.optim.Adam(
                nets["image_discriminator"].parameters(), lr=float(self.lr), betas=betas),
            code_discriminator=torch.optim.Adam(
                nets["code_discriminator"].parameters(), lr=float(self.lr), betas=betas),
        )
        generator = torch.Generator().manual_seed(seed + 1)
        losses = {name: [] for name in _LOSS_NAMES}
        start_epoch = 0
        path = None if self.checkpoint is None else Path(self.checkpoint)
        settings = None if path is None else self._settings(X)
        if path is not None and path.is_file():
            start_epoch = self._load_checkpoint(path, settings, nets, optimizers, generator,
                                                losses)
        self.epoch_seconds_ = []
        self._train(X, nets, optimizers, generator, losses, start_epoch, settings, path)
        self._recalibrate_batch_norm(X, nets["encoder"], nets["generator"], seed)

        self.losses_ = losses
        self.loss_curve_ = list(losses["reconstruction"])
        self.n_epochs_ = len(self.loss_curve_)
        self.encoder_ = nets["encoder"].eval()
        self.decoder_ = nn.Sequential(nets["generator"], _ToUnit()).eval()
        self.image_discriminator_ = nets["image_discriminator"].eval()
        self.code_discriminator_ = nets["code_discriminator"].eval()
        for module in (self.encoder_, self.decoder_, self.image_discriminator_,
                       self.code_discriminator_):
            module.requires_grad_(False)
        return self

    def _recalibrate_batch_norm(self, X, encoder, generator_net, seed):
        """Recompute the encoder's and generator's batch-norm statistics after training.

        During adversarial training the weights move faster than the running averages
        of batch norm follow, and the eval-mode networks then reconstruct worse than
        the training-mode ones. One pass over ``X`` with the final weights (the
        generator sees encoded codes and as many prior draws, as in training) sets
        the running statistics to their exact averages.
        """
        norms = [m for net in (encoder, generator_net) for m in net.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the pass
        rng = torch.Generator().manual_seed(seed + 2)
        data = torch.from_numpy(X)
        encoder.train()
        generator_net.train()
        with torch.no_grad():
            for batch in data.split(int(self.batch_size)):
                if len(batch) < 2:
                    continue
                z = encoder(batch.to(self.device_))
                z_prior = torch.randn(len(batch), self.latent_dim_, generator=rng)
                generator_net(torch.cat([z, z_prior.to(self.device_)]))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum

    def _load_checkpoint(self, path, settings, nets, optimizers, generator, losses):
        state = _read_checkpoint(path, self.device_)
        if state.get("settings") != settings:
            raise ValueError(
                f"The checkpoint {path} was written with other settings or data "
                f"({state.get('settings')!r}, now {settings!r}); delete it or pass another "
                "checkpoint path to train from scratch."
            )
        epoch = int(state["epoch"])
        if epoch > int(self.max_epochs):
            raise ValueError(
                f"The checkpoint {path} holds {epoch} epochs, more than max_epochs="
                f"{self.max_epochs}; raise max_epochs or delete the checkpoint."
            )
        for name, net in nets.items():
            net.load_state_dict(state["nets"][name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        generator.set_state(state["rng"].cpu())
        for name in _LOSS_NAMES:
            losses[name][:] = state["losses"][name]
        return epoch

    def _save_checkpoint(self, path, settings, nets, optimizers, generator, losses, epoch):
        state = dict(
            settings=settings, epoch=int(epoch),
            nets={name: net.state_dict() for name, net in nets.items()},
            optimizers={name: opt.state_dict() for name, opt in optimizers.items()},
            rng=generator.get_state(),
            losses={k: [float(x) for x in v] for k, v in losses.items()},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def _train(self, X, nets, optimizers, generator, losses, start_epoch, settings, path):
        device = self.device_
        data = torch.from_numpy(X)
        bce = nn.functional.binary_cross_entropy_with_logits
        enc, gen = nets["encoder"], nets["generator"]
        disc, code_disc = nets["image_discriminator"], nets["code_discriminator"]
        opt_eg = optimizers["encoder_generator"]
        opt_d, opt_c = optimizers["image_discriminator"], optimizers["code_discriminator"]
        batch_size = int(self.batch_size)
        lambda_rec, lambda_code = float(self.lambda_rec), float(self.lambda_code)
        lambda_adv = float(self.lambda_adv)
        epochs = range(start_epoch, int(self.max_epochs))
        bar = tqdm(epochs, desc="alpha-GAN", disable=self.verbose != 1)
        for epoch in bar:
            tic = time.perf_counter()
            for net in nets.values():
                net.train()
            totals = dict.fromkeys(_LOSS_NAMES, 0.0)
            perm = torch.randperm(len(data), generator=generator)
            for batch_idx in perm.split(batch_size):
                if len(batch_idx) < 2:  # batch norm needs two samples
                    continue
                n = len(batch_idx)
                x = data[batch_idx].to(device)
                x_signed = 2.0 * x - 1.0
                z_prior = torch.randn(n, self.latent_dim_, generator=generator).to(device)
                ones = torch.ones(n, device=device)
                zeros = torch.zeros(n, device=device)

                # encoder + generator
                z = enc(x)
                # One generator pass over encoded and prior codes: its batch norm then
                # sees in training the same mixture its running statistics hold.
                x_rec, x_gen = gen(torch.cat([z, z_prior])).split(n)
                rec = (x_rec - x_signed).abs().mean()
                loss_eg = lambda_rec * rec + lambda_code * bce(code_disc(z), ones)
                if lambda_adv:
                    loss_eg = loss_eg + lambda_adv * (bce(disc(x_rec), ones)
                                                      + bce(disc(x_gen), ones))
                opt_eg.zero_grad()
                loss_eg.backward()
                opt_eg.step()

                # image discriminator: real vs reconstructions and prior samples
                loss_d = (bce(disc(x_signed), ones) + 0.5 * bce(disc(x_rec.detach()), zeros)
                          + 0.5 * bce(disc(x_gen.detach()), zeros))
                opt_d.zero_grad()
                loss_d.backward()
                opt_d.step()

                # code discriminator: prior draws (real) vs encoded codes (fake)
                loss_c = bce(code_disc(z_prior), ones) + bce(code_disc(z.detach()), zeros)
                opt_c.zero_grad()
                loss_c.backward()
                opt_c.step()

                for name, value in zip(_LOSS_NAMES, (rec, loss_eg, loss_d, loss_c)):
                    totals[name] += value.item() * n
            n_seen = max(1, sum(len(b) for b in perm.split(batch_size) if len(b) >= 2))
            for name in _LOSS_NAMES:
                value = totals[name] / n_seen
                # reconstruction in [0, 1] pixel units (the training one is in [-1, 1])
                losses[name].append(value / 2 if name == "reconstruction" else value)
            seconds = time.perf_counter() - tic
            self.epoch_seconds_.append(seconds)
            if path is not None:
                self._save_checkpoint(path, settings, nets, optimizers, generator, losses,
                                      epoch + 1)
            bar.set_postfix(rec=f"{losses['reconstruction'][-1]:.4f}")
            if self.verbose and self.verbose > 1:
                print(f"epoch {epoch + 1:3d}  rec_l1 {losses['reconstruction'][-1]:.4f}  "
                      f"enc_gen {losses['encoder_generator'][-1]:.4f}  "
                      f"img_disc {losses['image_discriminator'][-1]:.4f}  "
                      f"code_disc {losses['code_discriminator'][-1]:.4f}  "
                      f"dur {seconds:.1f}s", flush=True)

    def reconstruction_error(self, X):
        """Mean squared error per pixel of the reconstructions (values in [0, 1]).

        That is ``mean((inverse_transform(transform(X)) - X) ** 2)``.
        """
        X = self._check_samples(X)
        return float(np.mean((self.inverse_transform(self.transform(X)) - X) ** 2))
