"""Reference target nets (torch modules for skorch), after the paper's appendix A.3.

All modules output raw scores (logits for classifiers): use them with
``criterion=torch.nn.CrossEntropyLoss`` in ``skorch.NeuralNetClassifier``.
"""

import numbers

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler


class MLP(nn.Module):
    """A multi-layer perceptron for samples of any shape (flattened on input).

    The first layer is lazy: it sizes itself to the input at the first batch.

    Parameters
    ----------
    n_classes : int or None, default=None
        Output size for classification (set automatically by
        :class:`~hardsample.LatentHardMiningClassifier` when left unset).
    n_outputs : int or None, default=None
        Output size for regression; used when ``n_classes`` is None. Defaults to 1.
    hidden_sizes : tuple of int, default=(100,)
    dropout : float, default=0.0

    Examples
    --------
    >>> import torch
    >>> from hardsample.nets import MLP
    >>> MLP(n_classes=10)(torch.zeros(2, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_classes=None, n_outputs=None, hidden_sizes=(100,), dropout=0.0):
        super().__init__()
        out = n_classes if n_classes is not None else (n_outputs or 1)
        layers = [nn.Flatten()]
        for i, width in enumerate(hidden_sizes):
            layers += [nn.LazyLinear(width) if i == 0 else nn.Linear(hidden_sizes[i - 1], width),
                       nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden_sizes[-1], out) if hidden_sizes else nn.LazyLinear(out))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def _as_images(x, size):
    """Accept (n, size*size), (n, size, size) or (n, 1, size, size) batches."""
    if x.dim() == 2:
        return x.reshape(len(x), 1, size, size)
    if x.dim() == 3:
        return x.unsqueeze(1)
    return x


class LeNet(nn.Module):
    """The paper's MNIST target net (appendix A.3), a LeNet-5 variant.

    ``conv5(1->20) - ReLU - maxpool2 - conv5(20->50) - ReLU - maxpool2 - fc(800->500)
    - ReLU - fc(500->n_classes)`` on 28x28 images, given as ``(n, 784)``,
    ``(n, 28, 28)`` or ``(n, 1, 28, 28)``.

    Parameters
    ----------
    n_classes : int, default=10

    Examples
    --------
    >>> import torch
    >>> from hardsample.nets import LeNet
    >>> LeNet()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 20, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, n_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(_as_images(x, 28)))


class SmallConvNet(nn.Module):
    """A small CNN for 8x8 digit images (scikit-learn's ``load_digits``), for demos.

    ``conv3(1->16) - ReLU - conv3(16->32) - ReLU - maxpool2 - fc(512->64) - ReLU -
    fc(64->n_classes)``; input ``(n, 64)``, ``(n, 8, 8)`` or ``(n, 1, 8, 8)``.

    Examples
    --------
    >>> import torch
    >>> from hardsample.nets import SmallConvNet
    >>> SmallConvNet()(torch.zeros(2, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, n_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(_as_images(x, 8)))


class StressMapNet(nn.Module):
    """The paper's image-to-image encoder-decoder for stress maps (appendix A.3).

    Maps a 64x64 vessel-wall mask to a 64x64 map of (scaled) structural stress.
    Encoder: four stages ``conv2x2 - batch norm - ReLU - maxpool2`` with
    1 -> 8 -> 16 -> 32 -> 64 channels, then ``conv2x2(64->64) - BN - ReLU``.
    Decoder: four stages ``transposed conv2x2 - BN - ReLU - upsampling`` with
    64 -> 64 -> 32 -> 16 -> 8 channels, then ``transposed conv2x2(8->1)`` and a
    sigmoid. Spatial sizes for a 64x64 input: 64 -> 63 -> 31 -> 30 -> 15 -> 14 -> 7
    -> 6 -> 3 -> 2 in the encoder; 2 -> 3 -> 6 -> 7 -> 14 -> 15 -> 30 -> 31 -> 63 ->
    64 in the decoder.

    The paper's table up-samples by a factor of 2, which ends at 63x63 (31 -> 62 ->
    63). Here each up-sampling (nearest neighbour) restores the size the matching
    encoder stage had before its max-pooling (so the last one goes 31 -> 63
    instead of 62), and the output is exactly the input's size; this is the only
    departure from the table. Other input sizes of at least 47x47 work the same
    way.

    The output lies in [0, 1] (sigmoid): targets must be scaled stress maps, e.g.
    divided by a maximum stress fixed before training (and predictions multiplied
    back). Use it with ``skorch.NeuralNetRegressor`` and the mean squared error
    (skorch's default criterion), as in the paper.

    Parameters
    ----------
    in_channels : int, default=1
    out_channels : int, default=1
    widths : tuple of int, default=(8, 16, 32, 64, 64)
        Channels of the five encoder convolutions (the decoder mirrors them).

    Input ``(n, 64, 64)``, ``(n, 1, 64, 64)`` or ``(n, 4096)`` (flattened square
    images); output ``(n, 64, 64)`` for one output channel (the shape of the
    targets), ``(n, out_channels, 64, 64)`` otherwise.

    Examples
    --------
    >>> import torch
    >>> from hardsample.nets import StressMapNet
    >>> StressMapNet()(torch.zeros(2, 64, 64)).shape
    torch.Size([2, 64, 64])
    """

    def __init__(self, in_channels=1, out_channels=1, widths=(8, 16, 32, 64, 64)):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 5 or min(widths) < 1:
            raise ValueError(f"widths must be 5 positive channel counts, got {widths!r}.")
        self.in_channels = in_channels
        self.out_channels = out_channels

        def block(conv, n_out):
            return nn.Sequential(conv, nn.BatchNorm2d(n_out), nn.ReLU())

        channels = (in_channels, *widths)
        self.down = nn.ModuleList(
            block(nn.Conv2d(channels[i], channels[i + 1], kernel_size=2), channels[i + 1])
            for i in range(4)
        )
        self.pool = nn.MaxPool2d(2)
        self.bottom = block(nn.Conv2d(widths[3], widths[4], kernel_size=2), widths[4])
        up = (widths[4], widths[3], widths[2], widths[1], widths[0])
        self.up = nn.ModuleList(
            block(nn.ConvTranspose2d(up[i], up[i + 1], kernel_size=2), up[i + 1])
            for i in range(4)
        )
        self.head = nn.ConvTranspose2d(widths[0], out_channels, kernel_size=2)

    def _as_input(self, x):
        if x.dim() == 2:
            side = int(round(x.shape[1] ** 0.5))
            if side * side != x.shape[1]:
                raise ValueError(f"Flattened inputs must be square images; got {x.shape[1]} "
                                 "features.")
            return x.reshape(len(x), 1, side, side)
        if x.dim() == 3:
            return x.unsqueeze(1)
        return x

    def forward(self, x):
        x = self._as_input(x)
        if min(x.shape[-2:]) < 47:
            raise ValueError("StressMapNet needs images of at least 47x47, got "
                             f"{tuple(x.shape[-2:])}.")
        sizes = []
        for stage in self.down:
            x = stage(x)
            sizes.append(x.shape[-2:])
            x = self.pool(x)
        x = self.bottom(x)
        for stage, size in zip(self.up, reversed(sizes)):
            x = nn.functional.interpolate(stage(x), size=tuple(size), mode="nearest")
        x = torch.sigmoid(self.head(x))
        return x.squeeze(1) if self.out_channels == 1 else x


def _group_norm(channels, groups):
    """GroupNorm with the largest group count <= ``groups`` that divides ``channels``."""
    groups = max(1, min(int(groups), channels))
    while channels % groups:
        groups -= 1
    return nn.GroupNorm(groups, channels)


class _DoubleConv(nn.Sequential):
    def __init__(self, n_in, n_out, groups, n_convs):
        layers = []
        for i in range(n_convs):
            layers += [nn.Conv2d(n_in if i == 0 else n_out, n_out, 3, padding=1),
                       _group_norm(n_out, groups), nn.ReLU()]
        super().__init__(*layers)


class StressUNet(nn.Module):
    """A small U-Net for image-to-image regression that trains on a handful of samples.

    Built for stress maps learned from tens of labels: normalisation that does not
    depend on batch statistics (GroupNorm, so a batch of 2 trains like a batch of
    64 and evaluation equals training), skip connections that carry the mask's
    geometry to the output, and a linear (or softplus) 1x1 head, so that targets
    are *standardised* values (e.g. stress divided by the lumen pressure) rather
    than squeezed into a sigmoid's [0, 1]. Each level is ``n_convs`` times
    ``conv3x3 - GroupNorm - ReLU``, then a 2x2 max-pooling on the way down and a
    nearest-neighbour up-sampling, concatenation with the skip and the same convs on
    the way up. Any image side divisible by ``2 ** (len(widths) - 1)`` works.

    Parameters
    ----------
    in_channels : int, default=1
    out_channels : int, default=1
    widths : tuple of int, default=(8, 16, 32)
        Channels per level, top to bottom.
    groups : int, default=4
        GroupNorm groups (reduced to a divisor of each width).
    n_convs : int, default=2
        Convolutions per level and direction.
    head : {"linear", "softplus"}, default="linear"
        The output: a linear 1x1 convolution, or its softplus for non-negative
        targets.

    Input ``(n, h, w)``, ``(n, c, h, w)`` or ``(n, h * w)`` (flattened square
    images, one channel); output ``(n, h, w)`` for one output channel.

    Examples
    --------
    >>> import torch
    >>> from hardsample.nets import StressUNet
    >>> net = StressUNet()
    >>> net(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 64, 64])
    >>> any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    False
    """

    def __init__(self, in_channels=1, out_channels=1, widths=(8, 16, 32), groups=4, n_convs=2,
                 head="linear"):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 1 or min(widths) < 1:
            raise ValueError(f"widths must be positive channel counts, got {widths!r}.")
        if head not in ("linear", "softplus"):
            raise ValueError(f"head must be 'linear' or 'softplus', got {head!r}.")
        if isinstance(n_convs, bool) or not isinstance(n_convs, numbers.Integral) or n_convs < 1:
            raise ValueError(f"n_convs must be a positive int, got {n_convs!r}.")
        self.in_channels, self.out_channels, self.head_kind = in_channels, out_channels, head
        self.down = nn.ModuleList()
        n_in = in_channels
        for width in widths:
            self.down.append(_DoubleConv(n_in, width, groups, n_convs))
            n_in = width
        self.up = nn.ModuleList(
            _DoubleConv(widths[i + 1] + widths[i], widths[i], groups, n_convs)
            for i in reversed(range(len(widths) - 1))
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)
        self.factor = 2 ** (len(widths) - 1)

    def forward(self, x):
        if x.dim() == 2:
            side = int(round(x.shape[1] ** 0.5))
            if side * side != x.shape[1]:
                raise ValueError(f"Flattened inputs must be square images; got {x.shape[1]} "
                                 "features.")
            x = x.reshape(len(x), 1, side, side)
        elif x.dim() == 3:
            x = x.unsqueeze(1)
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"StressUNet needs image sides divisible by {self.factor}, got "
                             f"{tuple(x.shape[-2:])}.")
        skips = []
        for i, stage in enumerate(self.down):
            if i:
                x = nn.functional.max_pool2d(x, 2)
            x = stage(x)
            skips.append(x)
        for stage, skip in zip(self.up, reversed(skips[:-1])):
            x = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
            x = stage(torch.cat([x, skip], dim=1))
        x = self.head(x)
        if self.head_kind == "softplus":
            x = nn.functional.softplus(x)
        return x.squeeze(1) if self.out_channels == 1 else x


class FixedStepsLoader(DataLoader):
    """A training loader with a fixed number of batches per epoch, whatever the data size.

    With tens of labels, ``max_epochs`` epochs are a handful of optimiser steps
    (20 labels, batch 8: 3 steps an epoch), and the training effort would grow
    with the label count. This loader draws ``n_steps`` batches an epoch from
    reshuffled passes over the data (without replacement within a pass), so the
    number of steps per fit is ``n_steps * max_epochs`` at every label count. Use
    it as skorch's ``iterator_train`` (``shuffle`` is accepted and ignored: the
    batches are always random, drawn from torch's global generator, which the
    meta-estimators seed).

    Parameters
    ----------
    dataset : torch Dataset
    n_steps : int, default=100
        Batches per epoch.
    batch_size : int, default=8
    shuffle : ignored
    **kwargs
        Passed to :class:`torch.utils.data.DataLoader`.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetRegressor
    >>> from hardsample.nets import FixedStepsLoader, MLP
    >>> net = NeuralNetRegressor(MLP, max_epochs=1, batch_size=4, train_split=None,
    ...                          iterator_train=FixedStepsLoader,
    ...                          iterator_train__n_steps=25, verbose=0)
    >>> X, y = np.zeros((6, 3), np.float32), np.zeros((6, 1), np.float32)
    >>> len(net.fit(X, y).history[-1]["batches"])
    25
    """

    def __init__(self, dataset, n_steps=100, batch_size=8, shuffle=None, **kwargs):
        if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {n_steps!r}.")
        kwargs.pop("sampler", None)
        sampler = RandomSampler(dataset, replacement=False,
                                num_samples=int(n_steps) * int(batch_size))
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, drop_last=False,
                         **kwargs)


class VGGNet(nn.Module):
    """The paper's VGG-16-style CIFAR-10 classifier with batch norm (appendix A.3).

    Five stages of ``conv3 - BN - ReLU`` (2, 2, 3, 3, 3 convolutions with 64, 128,
    256, 512, 512 channels times ``width``), each ending in a 2x2 max-pooling, then
    ``FC(512 * width -> n_classes)``: a 32x32 image ends at 1x1 after the five
    poolings. Input ``(n, 3, 32, 32)`` (channels first, e.g. CIFAR-10 as
    ``X.transpose(0, 3, 1, 2) / 255``); ``(n, 3072)`` is reshaped.

    The paper's table lists padding 0; with 13 unpadded 3x3 convolutions a 32x32
    image shrinks to nothing before the fourth pooling, so every convolution uses
    padding 1 (the usual VGG setting), the only departure from the table.

    ``width=1`` is the paper's net (about 14.7 M parameters). On a CPU use
    ``width=0.25`` (16-32-64-128-128 channels, about 0.9 M parameters, roughly 16 times
    fewer operations), e.g. via :func:`vgg_small`.

    Parameters
    ----------
    n_classes : int, default=10
    width : float, default=1.0
        Channel multiplier; each stage keeps at least 4 channels.
    in_channels : int, default=3

    Examples
    --------
    >>> import torch
    >>> from hardsample.nets import VGGNet
    >>> VGGNet(width=0.25)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))

    def __init__(self, n_classes=10, width=1.0, in_channels=3):
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, (int, float)) or width <= 0:
            raise ValueError(f"width must be a positive number, got {width!r}.")
        self.in_channels = in_channels
        layers = []
        n_in = in_channels
        for channels, n_convs in self.STAGES:
            n_out = max(4, int(round(channels * width)))
            for _ in range(n_convs):
                layers += [nn.Conv2d(n_in, n_out, 3, padding=1), nn.BatchNorm2d(n_out),
                           nn.ReLU()]
                n_in = n_out
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(n_in, n_classes))

    def forward(self, x):
        if x.dim() == 2:
            side = int(round((x.shape[1] / self.in_channels) ** 0.5))
            x = x.reshape(len(x), self.in_channels, side, side)
        if x.shape[-2:] != (32, 32):
            raise ValueError(f"VGGNet needs 32x32 images, got {tuple(x.shape[-2:])}.")
        return self.classifier(self.features(x))


def vgg_small(n_classes=10):
    """The CPU-sized :class:`VGGNet`: ``VGGNet(n_classes, width=0.25)``.

    Examples
    --------
    >>> import torch
    >>> from hardsample.nets import vgg_small
    >>> vgg_small()(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """
    return VGGNet(n_classes=n_classes, width=0.25)


__all__ = ["MLP", "FixedStepsLoader", "LeNet", "SmallConvNet", "StressMapNet", "StressUNet",
           "VGGNet", "vgg_small"]
