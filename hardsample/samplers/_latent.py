"""The latent step every latent sampler shares: draw anchors, step their codes.

SNN, SI and the latent uncertainty samplers all start a round the same way: draw
anchors among the labeled samples, back-propagate the net's loss on each decoded
anchor to its code and step the code along the normalized gradient,
``z' = z + step_size * g/||g||`` (:func:`hardsample.hardness.hardness_step`).
:func:`latent_step` is that start, written once. Its ``direction`` argument gives
the same-cost ablations of the mechanism: ``"random"`` (a uniformly random unit
direction of the same length) and ``"zero"`` (no step: the anchors' own codes).
"""

from contextlib import nullcontext
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..hardness import hardness_step, normalize_rows

#: Directions of the latent step: the paper's loss gradient and its two controls.
STEP_DIRECTIONS = ("gradient", "random", "zero")

#: Constraints of the parameters every latent-step sampler has.
LATENT_STEP_CONSTRAINTS = {
    "step_size": [Interval(Real, 0, np.inf, closed="neither")],
    "n_anchors": [Interval(Integral, 1, None, closed="left"), None],
    "step_direction": [StrOptions(set(STEP_DIRECTIONS))],
}


@dataclass(frozen=True)
class LatentStep:
    """Anchors and their stepped codes for one round.

    Attributes
    ----------
    anchors : ndarray of int
        Positions of the anchors among the labeled samples (``state.y_labeled``).
    counts : ndarray of int
        Samples each anchor contributes to the proposal (they sum to ``n``).
    codes : ndarray of shape (n_anchors, latent_dim)
        The anchors' codes.
    direction : ndarray of shape (n_anchors, latent_dim)
        Unit step directions (zero rows for a vanishing gradient or ``"zero"``).
    stepped : ndarray of shape (n_anchors, latent_dim)
        ``codes + step_size * direction``.
    """

    anchors: np.ndarray
    counts: np.ndarray
    codes: np.ndarray
    direction: np.ndarray
    stepped: np.ndarray

    @property
    def anchor_of_each(self):
        """The anchor of each proposed sample, in proposal order."""
        return np.repeat(self.anchors, self.counts)


def split_evenly(n, parts):
    """``parts`` counts summing to ``n``, as equal as possible (larger ones first)."""
    counts = np.full(parts, n // parts, dtype=int)
    counts[: n % parts] += 1
    return counts


def draw_anchors(n_labeled, n_anchors, random_state):
    """Positions of ``n_anchors`` anchors among the labeled samples, re-drawn each round."""
    replace = n_anchors > n_labeled
    return random_state.choice(n_labeled, size=n_anchors, replace=replace).astype(np.int64)


def draw_weighted_anchors(weights, n_anchors, random_state):
    """``n_anchors`` labeled positions drawn with probability proportional to ``weights``
    (without replacement while there are enough labeled samples)."""
    weights = np.asarray(weights, dtype=np.float64)
    p = weights / weights.sum()
    replace = n_anchors > np.count_nonzero(p)
    return random_state.choice(len(p), size=n_anchors, replace=replace, p=p).astype(np.int64)


def latent_step(state, n, random_state, *, step_size, n_anchors=None, weights=None,
                direction="gradient", watch=None, name="This sampler"):
    """Draw anchors among the labeled samples and step their latent codes.

    Parameters
    ----------
    state : MiningState
        Needs ``net``, ``generator`` (with ``decoder_``), ``z_labeled`` and ``y_labeled``.
    n : int
        Samples the round will propose; ``min(n_anchors or n, n)`` anchors are drawn
        and ``counts`` splits ``n`` evenly over them.
    random_state : numpy.random.RandomState
    step_size : float
    n_anchors : int or None
    weights : array-like of shape (n_labeled,) or None
        Draw anchors with probability proportional to these (uniformly when None).
        Labeled samples without a latent code are never drawn.
    direction : {"gradient", "random", "zero"}
        The loss gradient (the paper), or a same-length control: a uniformly random
        unit direction, or no step.
    watch : Stopwatch or None
        Times the ``"gradient"`` stage.
    name : str
        The sampler's name, for error messages.

    Returns
    -------
    LatentStep

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn.datasets import load_digits
    >>> from hardsample.generators import PCAGenerator
    >>> from hardsample.nets import MLP
    >>> from hardsample.samplers import MiningState
    >>> from hardsample.samplers._latent import latent_step
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16.0).astype("float32")
    >>> gen = PCAGenerator(n_components=2).fit(X)
    >>> net = NeuralNetClassifier(MLP, module__n_classes=10, max_epochs=2,
    ...                           criterion=torch.nn.CrossEntropyLoss,
    ...                           train_split=None, verbose=0).fit(X[:50], y[:50])
    >>> state = MiningState(X_pool=X, latent_codes=gen.transform(X),
    ...                     excluded=np.arange(len(X)) < 50, X_labeled=X[:50],
    ...                     y_labeled=y[:50], z_labeled=gen.transform(X[:50]),
    ...                     net=net, generator=gen)
    >>> step = latent_step(state, 6, np.random.RandomState(0), step_size=0.5, n_anchors=3)
    >>> step.counts.tolist(), np.linalg.norm(step.stepped - step.codes, axis=1).round(3).tolist()
    ([2, 2, 2], [0.5, 0.5, 0.5])
    """
    if state.generator is None or state.z_labeled is None:
        raise ValueError(f"{name} mines in a latent space: the estimator needs a generator.")
    z_labeled = np.asarray(state.z_labeled, dtype=np.float32)
    has_code = np.isfinite(z_labeled).all(axis=1) if z_labeled.shape[1] else \
        np.zeros(len(z_labeled), dtype=bool)
    if not has_code.any():
        raise ValueError(f"{name} steps from labeled samples' latent codes, but no labeled "
                         "sample has one yet.")
    n_anchors = min(n_anchors or n, n)
    if weights is None and has_code.all():
        anchors = draw_anchors(len(z_labeled), n_anchors, random_state)
    else:
        weights = np.ones(len(z_labeled)) if weights is None else np.asarray(weights, float)
        anchors = draw_weighted_anchors(np.where(has_code, weights, 0.0), n_anchors,
                                        random_state)
    codes = z_labeled[anchors]
    with watch("gradient") if watch is not None else nullcontext():
        if direction == "gradient":
            _, unit = hardness_step(state.net, state.generator.decoder_, codes,
                                    state.y_labeled[anchors], step_size)
        elif direction == "random":
            unit = normalize_rows(random_state.standard_normal(codes.shape))
        elif direction == "zero":
            unit = np.zeros_like(codes)
        else:
            raise ValueError(f"direction must be one of {STEP_DIRECTIONS}, got {direction!r}.")
    stepped = (codes + np.float32(step_size) * unit).astype(np.float32)
    return LatentStep(anchors=anchors, counts=split_evenly(n, n_anchors), codes=codes,
                      direction=unit, stepped=stepped)
