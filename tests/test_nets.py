import numpy as np
import pytest
import torch

from hardsample.nets import MLP, LeNet, SmallConvNet

from .conftest import make_classifier_net


@pytest.mark.parametrize("shape", [(784,), (28, 28), (1, 28, 28)])
def test_lenet_accepts_mnist_shapes(shape):
    out = LeNet()(torch.zeros(4, *shape))
    assert out.shape == (4, 10)


def test_lenet_matches_the_paper():
    net = LeNet()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 20, (5, 5)), (20, 50, (5, 5))]
    assert [(m.in_features, m.out_features) for m in linears] == [(800, 500), (500, 10)]


def test_lenet_trains_with_skorch():
    rng = np.random.RandomState(0)
    X = rng.rand(64, 1, 28, 28).astype(np.float32)
    y = rng.randint(0, 10, 64)
    net = make_classifier_net(max_epochs=2, train_split=None).set_params(module=LeNet).fit(X, y)
    assert net.predict_proba(X[:3]).shape == (3, 10)
    assert len(net.history) == 2


def test_small_convnet_and_mlp_shapes():
    assert SmallConvNet()(torch.zeros(2, 64)).shape == (2, 10)
    assert MLP(n_classes=3)(torch.zeros(2, 5)).shape == (2, 3)
    assert MLP(n_outputs=7, hidden_sizes=(8, 4))(torch.zeros(2, 2, 2)).shape == (2, 7)
    assert MLP()(torch.zeros(2, 5)).shape == (2, 1)
