"""Reference target nets (torch modules for skorch), after the paper's appendix A.3.

All modules output raw scores (logits for classifiers): use them with
``criterion=torch.nn.CrossEntropyLoss`` in ``skorch.NeuralNetClassifier``.
"""

from torch import nn


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


__all__ = ["MLP", "LeNet", "SmallConvNet"]
