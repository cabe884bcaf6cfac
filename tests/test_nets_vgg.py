"""VGGNet: the paper's CIFAR-10 classifier (padding 1) and its CPU-sized variant."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

from hardsample.nets import VGGNet, vgg_small


@pytest.mark.parametrize("width", [1.0, 0.25, 0.125])
def test_output_shape_and_size(width):
    net = VGGNet(width=width).eval()
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and all(c.padding == (1, 1) for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 13
    assert net.classifier[-1].in_features == max(4, round(512 * width))


def test_paper_width_channels_and_parameters():
    net = VGGNet()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    assert 14e6 < sum(p.numel() for p in net.parameters()) < 15e6


def test_small_variant_and_flat_input():
    net = vgg_small(n_classes=4).eval()
    assert isinstance(net, VGGNet)
    assert net(torch.zeros(3, 3 * 32 * 32)).shape == (3, 4)
    assert sum(p.numel() for p in net.parameters()) < 1e6


def test_bad_width_and_size():
    with pytest.raises(ValueError, match="width"):
        VGGNet(width=0)
    with pytest.raises(ValueError, match="32x32"):
        VGGNet(width=0.125)(torch.zeros(2, 3, 28, 28))


def test_trains_with_skorch():
    rng = np.random.RandomState(0)
    X = rng.rand(24, 3, 32, 32).astype(np.float32)
    y = (X[:, 0].mean((1, 2)) > X[:, 2].mean((1, 2))).astype(np.int64)
    net = NeuralNetClassifier(VGGNet, module__width=0.125, module__n_classes=2,
                              criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                              lr=1e-3, max_epochs=2, batch_size=12, train_split=None,
                              verbose=0).fit(X, y)
    assert net.predict_proba(X).shape == (24, 2)
    assert len(net.history) == 2
