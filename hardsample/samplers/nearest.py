"""NearestNeighborSampler: the paper's sampling by nearest neighbour (SNN)."""

import numbers

import numpy as np

from .._timing import Stopwatch
from ..hardness import hardness_step
from ._base import BaseSampler, Proposal


def check_step_size(step_size):
    if isinstance(step_size, bool) or not isinstance(step_size, numbers.Real) \
            or not np.isfinite(step_size) or step_size <= 0:
        raise ValueError(f"step_size must be a positive finite number, got {step_size!r}.")
    return float(step_size)


def check_n_anchors(n_anchors):
    if n_anchors is None:
        return None
    if isinstance(n_anchors, bool) or not isinstance(n_anchors, numbers.Integral) or n_anchors < 1:
        raise ValueError(f"n_anchors must be None or a positive int, got {n_anchors!r}.")
    return int(n_anchors)


def split_evenly(n, parts):
    """``parts`` counts summing to ``n``, as equal as possible (larger ones first)."""
    counts = np.full(parts, n // parts, dtype=int)
    counts[: n % parts] += 1
    return counts


def draw_anchors(n_labeled, n_anchors, random_state):
    """Positions of ``n_anchors`` anchors among the labeled samples, re-drawn each round."""
    replace = n_anchors > n_labeled
    return random_state.choice(n_labeled, size=n_anchors, replace=replace).astype(np.int64)


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

    Examples
    --------
    >>> from hardsample.samplers import NearestNeighborSampler
    >>> NearestNeighborSampler(step_size=0.5)
    NearestNeighborSampler(step_size=0.5, n_anchors=None, index='auto')
    """

    uses_latent_space = True

    def __init__(self, step_size=1.0, n_anchors=None, index="auto"):
        self.step_size = step_size
        self.n_anchors = n_anchors
        self.index = index

    def propose(self, state, n, random_state):
        step_size = check_step_size(self.step_size)
        n_anchors = min(check_n_anchors(self.n_anchors) or n, n)
        anchors = draw_anchors(len(state.y_labeled), n_anchors, random_state)
        watch = Stopwatch()
        with watch("gradient"):
            stepped, _ = hardness_step(
                state.net, state.generator.decoder_,
                state.z_labeled[anchors], state.y_labeled[anchors], step_size,
            )
        counts = split_evenly(n, n_anchors)
        with watch("neighbors"):
            indices = state.latent_index.nearest_available(stepped, state.excluded, counts)
        return Proposal(
            indices=indices,
            latent_codes=state.latent_codes[indices],
            anchors=np.repeat(anchors, counts),
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

    step_size = check_step_size(step_size)
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
