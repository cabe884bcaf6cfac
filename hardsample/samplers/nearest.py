"""NearestNeighborSampler: the paper's sampling by nearest neighbour (SNN)."""

import numpy as np

from .._timing import Stopwatch
from ..hardness import hardness_step
from ._base import BaseSampler, Proposal
from ._latent import LATENT_STEP_CONSTRAINTS, latent_step


class NearestNeighborSampler(BaseSampler):
    """Sampling by nearest neighbour (SNN, paper section 3.4 and Algorithm 1).

    Each round draws anchors among the labeled samples, back-propagates the target
    net's loss on each decoded anchor (with its true label) to its latent code,
    steps the code along the normalized gradient, ``z' = z + step_size * g/||g||``,
    and proposes the nearest *unlabeled* pool samples to the stepped codes. A pool
    sample already labeled or already taken in the round is skipped for the next
    nearest one.

    Parameters
    ----------
    step_size : float, default=1.0
        Length of the latent step (in latent units).
    n_anchors : int or None, default=None
        Anchors per round; ``None`` uses one anchor per proposed sample. With fewer
        anchors than samples, each anchor contributes its several nearest
        neighbours.
    index : {"auto", "kdtree", "brute", "nndescent"}, default="auto"
        Nearest-neighbour backend, used when the estimator builds the latent index
        (see :class:`hardsample.neighbors.LatentIndex`).
    step_direction : {"gradient", "random", "zero"}, default="gradient"
        ``"gradient"`` is the paper's step; ``"random"`` (a random unit direction of
        the same length) and ``"zero"`` (the anchors' own codes) are its same-cost
        controls. Only ``"gradient"`` needs the generator's differentiable decoder
        (``needs_decoder``); the controls need only its codes.

    Examples
    --------
    >>> from hardsample.samplers import NearestNeighborSampler
    >>> NearestNeighborSampler(step_size=0.5)
    NearestNeighborSampler(step_size=0.5)
    >>> NearestNeighborSampler().get_params()["step_direction"]
    'gradient'
    """

    uses_latent_space = True
    _parameter_constraints = {**LATENT_STEP_CONSTRAINTS, "index": [str]}

    def __init__(self, step_size=1.0, n_anchors=None, index="auto", step_direction="gradient"):
        self.step_size = step_size
        self.n_anchors = n_anchors
        self.index = index
        self.step_direction = step_direction

    @property
    def needs_decoder(self):
        return self.step_direction == "gradient"

    def _propose(self, state, n, random_state):
        watch = Stopwatch()
        step = latent_step(state, n, random_state, step_size=self.step_size,
                           n_anchors=self.n_anchors, direction=self.step_direction,
                           watch=watch, name=type(self).__name__)
        with watch("neighbors"):
            indices = state.latent_index.nearest_available(step.stepped, state.excluded,
                                                           step.counts)
        return Proposal(
            indices=indices,
            latent_codes=state.latent_codes[indices],
            anchors=step.anchor_of_each,
            timings=watch.seconds,
        )


def snn_trajectories(net, generator, latent_codes, targets, starts, *, n_steps=10,
                     step_size=1.0, latent_index=None):
    """Follow SNN from each start without re-drawing anchors (the paper's Figure 4).

    From a pool sample, step its code along the normalized loss gradient (with its
    true target), move to the nearest pool sample of the stepped code that the
    trajectory has not visited yet, and repeat ``n_steps`` times.

    Parameters
    ----------
    net : fitted skorch net
    generator : fitted generator with a differentiable ``decoder_``
    latent_codes : ndarray of shape (n_pool, latent_dim)
    targets : ndarray of shape (n_pool, ...)
        Targets in the net's training form (class indices for classifiers).
    starts : array-like of int
        Pool indices where the trajectories start.
    n_steps : int, default=10
    step_size : float, default=1.0
    latent_index : LatentIndex, default=None
        An index over ``latent_codes`` (built when None).

    Returns
    -------
    paths : ndarray of int of shape (n_starts, n_steps + 1)
        Pool indices visited by each trajectory, the start first.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn.datasets import load_digits
    >>> from hardsample.generators import PCAGenerator
    >>> from hardsample.nets import MLP
    >>> from hardsample.samplers.nearest import snn_trajectories
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16.0).astype("float32")
    >>> gen = PCAGenerator(n_components=2).fit(X)
    >>> net = NeuralNetClassifier(MLP, module__n_classes=10, max_epochs=3,
    ...                           criterion=torch.nn.CrossEntropyLoss,
    ...                           train_split=None, verbose=0).fit(X[:300], y[:300])
    >>> snn_trajectories(net, gen, gen.transform(X), y, [0, 1], n_steps=4).shape
    (2, 5)
    """
    from ..neighbors import LatentIndex

    if isinstance(step_size, bool) or not np.isfinite(step_size) or step_size <= 0:
        raise ValueError(f"step_size must be a positive finite number, got {step_size!r}.")
    latent_codes = np.asarray(latent_codes, dtype=np.float32)
    targets = np.asarray(targets)
    index = latent_index if latent_index is not None else LatentIndex().fit(latent_codes)
    paths = [np.asarray(starts, dtype=np.int64)]
    visited = np.zeros((len(paths[0]), len(latent_codes)), dtype=bool)
    visited[np.arange(len(paths[0])), paths[0]] = True
    for _ in range(int(n_steps)):
        current = paths[-1]
        stepped, _ = hardness_step(net, generator.decoder_, latent_codes[current],
                                   targets[current], step_size)
        following = np.array([
            index.nearest_available(z[None], visited[row])[0]
            for row, z in enumerate(stepped)
        ], dtype=np.int64)
        visited[np.arange(len(following)), following] = True
        paths.append(following)
    return np.stack(paths, axis=1)
