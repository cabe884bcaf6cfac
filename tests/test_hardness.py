import copy

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from hardsample.hardness import hardness_step, loss_gradient, normalize_rows

from hardsample.generators import PCAGenerator, VAETransformer

from .conftest import make_classifier_net, make_regressor_net


class Identity(torch.nn.Module):
    def forward(self, z):
        return z


def _float64_copy(module):
    return copy.deepcopy(module).double().eval()


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
    # Each anchor's gradient on its own, by autograd on a float64 copy of the module
    # (independent of loss_gradient); the batch loss is a mean: each share is 1/n.
    module = _float64_copy(net.module_)
    for i in range(len(Z)):
        z = torch.tensor(Z[i:i + 1], dtype=torch.float64, requires_grad=True)
        loss = F.cross_entropy(module(z), torch.as_tensor(y[i:i + 1]))
        (single,) = torch.autograd.grad(loss, z)
        np.testing.assert_allclose(batched[i] * len(Z), single[0].numpy(), rtol=1e-4, atol=1e-7)


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


# --- Finite-difference checks through real decoders -------------------------------
#
# The analytic gradient (loss_gradient, float32 autograd through the decoder) is
# compared with central differences of the net's loss, computed independently in
# float64 on float64 copies of the net's module and of the decoder:
# dL/dz_ij ~ (L(Z + h e_ij) - L(Z - h e_ij)) / 2h, L the batch-mean loss as the net's
# criterion defines it (CrossEntropyLoss / MSELoss, reduction="mean").

FD_STEP = 1e-5
N_ANCHORS = 6


def _cross_entropy(output, y):
    return F.cross_entropy(output, torch.as_tensor(y, dtype=torch.int64))


def _squared_error(output, y):
    return F.mse_loss(output, torch.as_tensor(y, dtype=torch.float64))


@pytest.fixture(scope="module")
def mining_setup(digits):
    """Generators and target nets fitted on small slices of the digits."""
    X, y = digits
    torch.manual_seed(0)
    generators = {
        "pca": PCAGenerator(n_components=4, random_state=0).fit(X),
        "vae": VAETransformer(latent_dim=3, hidden_sizes=(32,), max_epochs=5,
                              random_state=0).fit(X[:600]),
    }
    y_reg = (y[:, None] / 9.0).astype(np.float32)
    nets = {
        "classifier": (make_classifier_net(module__n_classes=10, max_epochs=5,
                                           train_split=None).fit(X[:300], y[:300]),
                       y.astype(np.int64), _cross_entropy),
        "regressor": (make_regressor_net(module__n_outputs=1, max_epochs=5,
                                         train_split=None).fit(X[:300], y_reg[:300]),
                      y_reg, _squared_error),
    }
    return X, generators, nets


def _case(mining_setup, generator, target):
    """Anchors: codes of held-out digits (not trained on, so not saturated) and targets."""
    X, generators, nets = mining_setup
    gen = generators[generator]
    net, targets, criterion = nets[target]
    anchors = slice(300, 300 + N_ANCHORS)
    return net, gen.decoder_, gen.transform(X[anchors]), targets[anchors], criterion


def _loss64(net, decoder, Z, y, criterion):
    module, dec = _float64_copy(net.module_), _float64_copy(decoder)
    with torch.no_grad():
        return criterion(module(dec(torch.as_tensor(Z, dtype=torch.float64))), y).item()


def _per_anchor_loss64(net, decoder, Z, y, criterion):
    return np.array([_loss64(net, decoder, Z[i:i + 1], y[i:i + 1], criterion)
                     for i in range(len(Z))])


def _fd_gradient(net, decoder, Z, y, criterion, h=FD_STEP):
    Z = np.asarray(Z, dtype=np.float64)
    grad = np.zeros_like(Z)
    for i, j in np.ndindex(*Z.shape):
        E = np.zeros_like(Z)
        E[i, j] = h
        grad[i, j] = (_loss64(net, decoder, Z + E, y, criterion)
                      - _loss64(net, decoder, Z - E, y, criterion)) / (2 * h)
    return grad


CASES = [(g, t) for g in ("pca", "vae") for t in ("classifier", "regressor")]


@pytest.mark.parametrize("generator, target", CASES)
def test_independent_loss_is_the_nets_loss(mining_setup, generator, target):
    # The float64 reference loss is what the net's own get_loss computes (float32).
    net, decoder, Z, y, criterion = _case(mining_setup, generator, target)
    with torch.no_grad():
        x = decoder(torch.as_tensor(Z))
        own = net.get_loss(net.infer(x), y, X=x, training=False).item()
    assert own == pytest.approx(_loss64(net, decoder, Z, y, criterion), rel=1e-5)


@pytest.mark.parametrize("generator, target", CASES)
def test_loss_gradient_matches_finite_differences(mining_setup, generator, target):
    net, decoder, Z, y, criterion = _case(mining_setup, generator, target)
    analytic = loss_gradient(net, decoder, Z, y)
    numeric = _fd_gradient(net, decoder, Z, y, criterion)
    norms = np.linalg.norm(numeric, axis=1)
    assert (norms > 1e-6).all()  # a real signal to compare against
    # Per anchor, relative to its own gradient: measured ~1e-6 (float32 autograd);
    # a sign flip gives 2, a gradient taken at another anchor's code or target ~1.
    relative = np.linalg.norm(analytic.astype(np.float64) - numeric, axis=1) / norms
    assert relative.max() < 1e-4, relative


@pytest.mark.parametrize("generator, target", CASES)
def test_hardness_step_moves_step_size_along_the_fd_gradient(mining_setup, generator, target):
    net, decoder, Z, y, criterion = _case(mining_setup, generator, target)
    step_size = 0.05
    Z_new, direction = hardness_step(net, decoder, Z, y, step_size)
    numeric = _fd_gradient(net, decoder, Z, y, criterion)
    moves = Z_new.astype(np.float64) - Z
    np.testing.assert_allclose(np.linalg.norm(moves, axis=1), step_size, rtol=1e-5)
    np.testing.assert_allclose(moves, step_size * direction, atol=1e-6)
    cosine = (moves * numeric).sum(1) / (np.linalg.norm(moves, axis=1)
                                         * np.linalg.norm(numeric, axis=1))
    assert cosine.min() > 0.99, cosine
    # A small step along the gradient raises every anchor's own loss.
    before = _per_anchor_loss64(net, decoder, Z, y, criterion)
    after = _per_anchor_loss64(net, decoder, Z_new, y, criterion)
    assert (after > before).all(), after - before
