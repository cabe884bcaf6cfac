import numpy as np
import torch

from hardsample.hardness import hardness_step, loss_gradient, normalize_rows

from .conftest import make_classifier_net


class Identity(torch.nn.Module):
    def forward(self, z):
        return z


def _fitted_net():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = make_classifier_net(module__n_classes=2, max_epochs=30, train_split=None)
    return net.fit(X, y)


def test_batched_gradient_equals_per_anchor_gradients():
    net = _fitted_net()
    Z = np.array([[0.3, -0.2], [-0.5, 0.4], [0.05, 0.0]], dtype=np.float32)
    y = np.array([0, 1, 1])
    batched = loss_gradient(net, Identity(), Z, y)
    for i in range(len(Z)):
        single = loss_gradient(net, Identity(), Z[i:i + 1], y[i:i + 1])
        # The batch loss is a mean over anchors: each anchor's share is 1/n.
        np.testing.assert_allclose(batched[i] * len(Z), single[0], rtol=1e-4, atol=1e-7)


def test_gradient_direction_increases_the_loss():
    net = _fitted_net()
    Z = np.array([[0.3, -0.2], [-0.5, 0.4]], dtype=np.float32)
    y = np.array([1, 0])
    Z_new, _ = hardness_step(net, Identity(), Z, y, step_size=1e-2)

    def losses(Zc):
        with torch.no_grad():
            logits = net.infer(torch.as_tensor(Zc))
            return torch.nn.functional.cross_entropy(logits, torch.as_tensor(y),
                                                     reduction="none").numpy()

    assert (losses(Z_new) > losses(Z)).all()


def test_step_moves_toward_higher_loss_with_exact_length():
    net = _fitted_net()
    Z = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    y = np.array([1, 0])  # both correctly classified: loss grows toward the boundary x0 = 0
    Z_new, direction = hardness_step(net, Identity(), Z, y, step_size=0.5)
    np.testing.assert_allclose(np.linalg.norm(Z_new - Z, axis=1), 0.5, rtol=1e-5)
    assert Z_new[0, 0] < Z[0, 0] and Z_new[1, 0] > Z[1, 0]
    assert net.module_.training  # mode restored


def test_one_backward_pass_for_all_anchors():
    net = _fitted_net()
    calls = []
    decoder = Identity()
    decoder.register_forward_hook(lambda *a: calls.append(1))
    hardness_step(net, decoder, np.zeros((50, 2), np.float32) + 0.1, np.zeros(50, int), 1.0)
    assert len(calls) == 1


def test_normalize_rows_zero_stays_zero():
    out = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
