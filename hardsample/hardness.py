"""The latent hardness step of the paper (eqs. 1-2).

For anchors with latent codes ``z`` and targets ``y``, the target net's loss on the
decoded anchor ``L(f(G(z)), y)`` is back-propagated through the generator's decoder
``G`` to ``z``, and each code moves along its normalized gradient::

    z' = z + step_size * g / ||g||

All anchors go through one forward and one backward pass.
"""

import numpy as np
import torch


def loss_gradient(net, decoder, Z, y):
    """Gradient of the target net's loss on decoded codes with respect to the codes.

    Parameters
    ----------
    net : fitted skorch.NeuralNet
        The target net; its ``get_loss`` (criterion) defines the loss. It is put in
        evaluation mode for the pass, so batch norm and dropout treat every anchor
        on its own.
    decoder : torch.nn.Module
        The generator's differentiable decoder, ``Z -> X``.
    Z : ndarray of shape (n_anchors, latent_dim)
    y : ndarray of shape (n_anchors, ...)
        Targets in the form the net is trained on (encoded class indices for
        classifiers).

    Returns
    -------
    grad : ndarray of shape (n_anchors, latent_dim), float32

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from hardsample.hardness import loss_gradient
    >>> X = np.random.RandomState(0).randn(50, 2).astype("float32")
    >>> net = NeuralNetClassifier(torch.nn.Linear, module__in_features=2,
    ...                           module__out_features=2,
    ...                           criterion=torch.nn.CrossEntropyLoss, max_epochs=2,
    ...                           train_split=None, verbose=0).fit(X, (X[:, 0] > 0) * 1)
    >>> identity = torch.nn.Identity()  # the "decoder" of a latent space equal to X
    >>> loss_gradient(net, identity, X[:3], np.array([0, 1, 0])).shape
    (3, 2)
    """
    decoder_device = next(iter(decoder.parameters()), torch.empty(0)).device
    z = torch.as_tensor(np.asarray(Z, dtype=np.float32), device=decoder_device).requires_grad_(True)
    module = net.module_
    was_training = module.training
    module.eval()
    try:
        with torch.enable_grad():
            x = decoder(z).to(net.device)
            y_pred = net.infer(x)
            loss = net.get_loss(y_pred, y, X=x, training=False)
            (grad,) = torch.autograd.grad(loss, z)
    finally:
        module.train(was_training)
    return grad.detach().cpu().numpy().astype(np.float32)


def normalize_rows(G, eps=1e-12):
    """Scale each row to unit Euclidean norm; zero rows stay zero."""
    G = np.asarray(G, dtype=np.float32)
    norms = np.linalg.norm(G, axis=1, keepdims=True)
    return np.where(norms > eps, G / np.maximum(norms, eps), 0.0).astype(np.float32)


def hardness_step(net, decoder, Z, y, step_size):
    """Move codes along the normalized loss gradient: ``z + step_size * g/||g||``.

    A code whose gradient vanishes (a sample the net already fits perfectly, in
    floating point) does not move.

    Returns
    -------
    Z_new : ndarray of shape (n_anchors, latent_dim), float32
    direction : ndarray of shape (n_anchors, latent_dim), float32
        The unit gradient directions.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from hardsample.hardness import hardness_step
    >>> X = np.random.RandomState(0).randn(50, 2).astype("float32")
    >>> net = NeuralNetClassifier(torch.nn.Linear, module__in_features=2,
    ...                           module__out_features=2,
    ...                           criterion=torch.nn.CrossEntropyLoss, max_epochs=2,
    ...                           train_split=None, verbose=0).fit(X, (X[:, 0] > 0) * 1)
    >>> Z_new, direction = hardness_step(net, torch.nn.Identity(), X[:3],
    ...                                  np.array([0, 1, 0]), step_size=0.5)
    >>> np.round(np.linalg.norm(Z_new - X[:3], axis=1), 3).tolist()
    [0.5, 0.5, 0.5]
    """
    direction = normalize_rows(loss_gradient(net, decoder, Z, y))
    Z_new = np.asarray(Z, dtype=np.float32) + np.float32(step_size) * direction
    return Z_new, direction
