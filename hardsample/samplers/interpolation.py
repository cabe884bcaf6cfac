"""Samplers that synthesize samples with the generator, for a labeling tool.

- :class:`InterpolationSampler`: the paper's sampling by interpolation (SI);
- :class:`PriorSampler`: the random-synthetic baseline (codes drawn from the
  prior every round, no gradient step).
"""

import numpy as np

from .._timing import Stopwatch
from ._base import BaseSampler, Proposal
from ._latent import LATENT_STEP_CONSTRAINTS, latent_step


def _check_generator(state, sampler):
    generator = state.generator
    if generator is None or not callable(getattr(generator, "inverse_transform", None)):
        raise ValueError(
            f"{type(sampler).__name__} synthesizes samples with a generator: pass a fitted "
            "generator with inverse_transform (e.g. hardsample.generators.VAETransformer())."
        )
    return generator


def _latent_dim(state, generator):
    dim = getattr(generator, "latent_dim_", None)
    if dim is None and state.latent_codes is not None:
        dim = state.latent_codes.shape[1]
    if dim is None:
        raise ValueError("Cannot tell the generator's latent dimension (no latent_dim_ attribute "
                         "and no latent codes).")
    return int(dim)


def _decode(generator, codes):
    X = np.asarray(generator.inverse_transform(codes), dtype=np.float32)
    if len(X) != len(codes):
        raise ValueError(f"The generator decoded {len(codes)} codes into {len(X)} samples.")
    if not np.isfinite(X).all():
        raise ValueError("The generator decoded latent codes into NaN or infinite samples.")
    return X


def draw_prior(state, n, random_state):
    """``n`` codes from the generator's prior, decoded: a synthetic Proposal.

    The prior is the generator's own (``generator.sample_codes``) where it has one,
    else the standard normal ``N(0, I)``.
    """
    generator = state.generator
    if callable(getattr(generator, "sample_codes", None)):
        codes = np.asarray(generator.sample_codes(n, random_state), dtype=np.float32)
    else:
        codes = random_state.standard_normal((n, _latent_dim(state, generator))).astype(np.float32)
    return Proposal(X=_decode(generator, codes), latent_codes=codes)


class InterpolationSampler(BaseSampler):
    """Sampling by interpolation (SI, paper section 3.5 and Algorithm 2).

    For a labeling tool that answers for any plausible input (e.g. a physics
    solver). Round 1 draws ``n`` codes from the generator's prior ``N(0, I)`` and
    decodes them into synthetic samples. Each later round draws anchors among the
    labeled synthetic samples, back-propagates the target net's loss on each
    decoded anchor (with its true label) to its latent code, steps the code along
    the normalized gradient, ``z' = z + step_size * g/||g||``, and decodes the
    stepped codes into the new samples to label. No pool sample is ever labeled:
    the pool only trains the generator.

    Parameters
    ----------
    step_size : float, default=1.0
        Length of the latent step (in latent units).
    n_anchors : int or None, default=None
        Anchors per round; ``None`` uses one anchor per proposed sample. With fewer
        anchors than samples, an anchor contributing ``k`` samples proposes the
        codes ``z + j * step_size * g/||g||`` for ``j = 1..k`` (points further along
        its gradient direction) rather than ``k`` copies of one sample.
    step_direction : {"gradient", "random", "zero"}, default="gradient"
        The paper's gradient step, or a same-length random direction (the control
        that keeps everything but the gradient). Only ``"gradient"`` needs the
        generator's differentiable decoder; every direction decodes the stepped codes
        with ``inverse_transform``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetRegressor
    >>> from hardsample import LatentHardMiningRegressor
    >>> from hardsample.generators import PCAGenerator
    >>> from hardsample.nets import MLP
    >>> X = np.random.RandomState(0).rand(200, 6).astype("float32")
    >>> def solver(X_batch):  # any tool that labels any input
    ...     return np.sin(3 * X_batch).sum(axis=1)
    >>> net = NeuralNetRegressor(MLP, optimizer=torch.optim.Adam, lr=1e-2,
    ...                          max_epochs=5, verbose=0)
    >>> reg = LatentHardMiningRegressor(net, PCAGenerator(2), sampler="interpolation",
    ...                                 initial_size=20, round_size=10, n_rounds=3,
    ...                                 random_state=0).fit(X, oracle=solver)
    >>> reg.X_synthetic_.shape, reg.y_synthetic_.shape
    ((40, 6), (40,))
    """

    uses_latent_space = True
    synthesizes = True
    _parameter_constraints = dict(LATENT_STEP_CONSTRAINTS)

    def __init__(self, step_size=1.0, n_anchors=None, step_direction="gradient"):
        self.step_size = step_size
        self.n_anchors = n_anchors
        self.step_direction = step_direction

    @property
    def needs_decoder(self):
        return self.step_direction == "gradient"

    def initial_proposal(self, state, n, random_state):
        """Round 1: ``n`` codes drawn from the generator's prior, decoded."""
        _check_generator(state, self)
        return draw_prior(state, n, random_state)

    def _propose(self, state, n, random_state):
        generator = _check_generator(state, self)
        watch = Stopwatch()
        step = latent_step(state, n, random_state, step_size=self.step_size,
                           n_anchors=self.n_anchors, direction=self.step_direction,
                           watch=watch, name=type(self).__name__)
        # the j-th sample of an anchor (j = 1..count) lies j steps along its direction
        multiples = np.concatenate([np.arange(1, c + 1) for c in step.counts]).astype(np.float32)
        codes = (np.repeat(step.codes, step.counts, axis=0)
                 + np.float32(self.step_size) * multiples[:, None]
                 * np.repeat(step.direction, step.counts, axis=0)).astype(np.float32)
        with watch("decoding"):
            X = _decode(generator, codes)
        return Proposal(X=X, latent_codes=codes, anchors=step.anchor_of_each,
                        timings=watch.seconds)


class PriorSampler(BaseSampler):
    """Random synthetic samples: codes drawn from ``N(0, I)`` every round, decoded.

    The baseline of :class:`InterpolationSampler` without the hardness step (the
    synthetic counterpart of :class:`~hardsample.samplers.RandomSampler`). With the
    same seed its round 1 equals SI's.

    Examples
    --------
    >>> from hardsample.samplers import PriorSampler
    >>> PriorSampler()
    PriorSampler()
    """

    uses_latent_space = True
    synthesizes = True
    needs_net = False

    def initial_proposal(self, state, n, random_state):
        _check_generator(state, self)
        return draw_prior(state, n, random_state)

    def _propose(self, state, n, random_state):
        return self.initial_proposal(state, n, random_state)


__all__ = ["InterpolationSampler", "PriorSampler"]
