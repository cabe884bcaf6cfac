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


# ------------------------------------------------------------------ StressUNet
def test_stress_unet_shapes_and_no_batch_statistics():
    from hardsample.nets import StressUNet

    net = StressUNet()
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
    x = torch.rand(5, 1, 32, 32)
    for shape in [(5, 32, 32), (5, 1, 32, 32), (5, 1024)]:
        assert net(x.reshape(shape)).shape == (5, 32, 32)
    # GroupNorm: a sample's output does not depend on its batch, nor on train/eval mode
    with torch.no_grad():
        together = net.train()(x)
        alone = torch.cat([net.eval()(x[i:i + 1]) for i in range(5)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    assert (StressUNet(head="softplus")(x) > 0).all()
    assert StressUNet(out_channels=2)(x).shape == (5, 2, 32, 32)


@pytest.mark.parametrize("kwargs, match", [
    ({"head": "sigmoid"}, "head must be"), ({"widths": ()}, "widths"),
    ({"n_convs": 0}, "n_convs"),
])
def test_stress_unet_bad_parameters(kwargs, match):
    from hardsample.nets import StressUNet

    with pytest.raises(ValueError, match=match):
        StressUNet(**kwargs)


def test_stress_unet_needs_divisible_sides():
    from hardsample.nets import StressUNet

    with pytest.raises(ValueError, match="divisible by 4"):
        StressUNet()(torch.zeros(1, 1, 30, 30))


def test_fixed_steps_loader_gives_the_same_steps_at_any_data_size():
    from skorch import NeuralNetRegressor

    from hardsample.nets import FixedStepsLoader

    for n in (3, 10, 50):
        X = np.zeros((n, 4), np.float32)
        y = np.zeros((n, 1), np.float32)
        net = NeuralNetRegressor(MLP, max_epochs=2, batch_size=4, train_split=None,
                                 iterator_train=FixedStepsLoader, iterator_train__n_steps=7,
                                 iterator_train__shuffle=True, verbose=0).fit(X, y)
        assert [len(h["batches"]) for h in net.history] == [7, 7]
    dataset = torch.utils.data.TensorDataset(torch.arange(5))
    loader = FixedStepsLoader(dataset, n_steps=5, batch_size=2)
    seen = torch.cat([b[0] for b in loader])
    assert len(seen) == 10 and sorted(seen[:5].tolist()) == [0, 1, 2, 3, 4]  # full passes
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        FixedStepsLoader(dataset, n_steps=0)


def test_stress_unet_learns_a_map_from_few_samples():
    """20 masks, 150 steps: far better than predicting the mean map."""
    from skorch import NeuralNetRegressor

    from hardsample.nets import FixedStepsLoader, StressUNet

    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[:32, :32]
    centres = rng.uniform(8, 24, size=(40, 2))
    X = np.stack([(np.hypot(yy - cy, xx - cx) < 6) for cy, cx in centres]).astype(np.float32)
    y = np.stack([np.where(m > 0, 1.0 + (yy - cy) / 6, 0) for m, (cy, cx) in zip(X, centres)])
    y = y.astype(np.float32)
    net = NeuralNetRegressor(StressUNet, module__widths=(8, 16), lr=3e-3, batch_size=8,
                             optimizer=torch.optim.Adam, max_epochs=1, train_split=None,
                             iterator_train=FixedStepsLoader, iterator_train__n_steps=150,
                             verbose=0).fit(X[:20], y[:20])
    mse = np.mean((net.predict(X[20:]) - y[20:]) ** 2)
    baseline = np.mean((y[:20].mean(0) - y[20:]) ** 2)
    assert mse < 0.2 * baseline
