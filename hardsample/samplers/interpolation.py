"""Samplers that synthesize samples with the generator, for a labeling tool.

- :class:`InterpolationSampler`: the paper's sampling by interpolation (SI), stepping
  along the loss gradient (``objective="loss"``) or climbing the predictive variance
  (``objective="variance"``);
- :class:`PriorSampler`: the random-synthetic baseline (codes drawn from the
  prior every round, no gradient step);
- :class:`ScreenedPriorSampler`: the same-cost control of the variance ascent (prior
  draws screened by the same variance).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._timing import Stopwatch
from ..uncertainty import DeepEnsemble
from ._ascent import ascend_variance
from ._base import BaseSampler, Proposal
from ._latent import LATENT_STEP_CONSTRAINTS, latent_step
from .uncertainty import top_n

#: Constraint of the ``uncertainty`` of the samplers that differentiate its draws.
DIFFERENTIABLE_UNCERTAINTY = [HasMethods(["fit", "draws_tensor"]), None]


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
        with ``inverse_transform``. ``objective="loss"`` only.
    objective : {"loss", "variance"}, default="loss"
        ``"loss"``: the paper's step along the gradient of the loss of the labeled
        anchor (it needs the anchor's label). ``"variance"`` (regression only): climb
        the predictive variance of ``uncertainty`` from the anchors' codes, no label
        needed, in ``n_ascent_steps`` normalized gradient steps of
        ``step_size / n_ascent_steps`` through the differentiable decoder, maximizing
        ``log Var[f(G(z))] - prior_weight * ||z||^2 / 2`` (the prior's log density:
        ``N(0, I)``, or the generator's aggregate Gaussian prior). A code moves at
        most ``step_size`` (``j * step_size`` for an anchor's ``j``-th sample) from
        its anchor: a trust region that keeps decodes near labeled samples. Its
        same-cost control is :class:`ScreenedPriorSampler` (``"screened-prior"``).
    uncertainty : DeepEnsemble, MCDropout or None, default=None
        The draws whose variance ``objective="variance"`` climbs; ``None`` is
        ``DeepEnsemble(n_members=5)``. Cloned and fitted every round; its training
        is timed as ``"uncertainty_training"`` in ``history_[i]["mining_split"]``.
    n_ascent_steps : int, default=10
        Gradient steps of the variance ascent (each evaluates the draws on the
        decoded codes, forward and backward).
    prior_weight : float, default=1.0
        Weight ``λ >= 0`` of the prior's log density in the ascent's objective.

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
    _parameter_constraints = {
        **LATENT_STEP_CONSTRAINTS,
        "objective": [StrOptions({"loss", "variance"})],
        "uncertainty": DIFFERENTIABLE_UNCERTAINTY,
        "n_ascent_steps": [Interval(Integral, 1, None, closed="left")],
        "prior_weight": [Interval(Real, 0, np.inf, closed="left")],
    }

    def __init__(self, step_size=1.0, n_anchors=None, step_direction="gradient", *,
                 objective="loss", uncertainty=None, n_ascent_steps=10, prior_weight=1.0):
        self.step_size = step_size
        self.n_anchors = n_anchors
        self.step_direction = step_direction
        self.objective = objective
        self.uncertainty = uncertainty
        self.n_ascent_steps = n_ascent_steps
        self.prior_weight = prior_weight

    @property
    def task(self):
        return "regression" if self.objective == "variance" else None

    def _validate_params(self):
        super()._validate_params()
        if self.objective == "variance" and self.step_direction != "gradient":
            raise ValueError("step_direction applies to objective='loss'; the control of "
                             "objective='variance' is ScreenedPriorSampler ('screened-prior').")
        _validate_source(self)

    def check_compatible(self, *, task, net, generator):
        """Raise before any label is paid for: bad parameters, no generator, or the
        variance objective on a classification run or with an unusable source."""
        _check_compatible(self, InterpolationSampler, task=task, net=net, generator=generator,
                          uses_source=self.objective == "variance")

    @property
    def needs_decoder(self):
        return self.step_direction == "gradient"

    def initial_proposal(self, state, n, random_state):
        """Round 1: ``n`` codes drawn from the generator's prior, decoded."""
        _check_generator(state, self)
        return draw_prior(state, n, random_state)

    def _propose(self, state, n, random_state):
        generator = _check_generator(state, self)
        if self.objective == "variance":
            return self._propose_ascent(state, n, random_state, generator)
        watch = Stopwatch()
        step = latent_step(state, n, random_state, step_size=self.step_size,
                           n_anchors=self.n_anchors, direction=self.step_direction,
                           watch=watch, name=type(self).__name__)
        multiples = _multiples(step.counts)
        codes = (np.repeat(step.codes, step.counts, axis=0)
                 + np.float32(self.step_size) * multiples[:, None]
                 * np.repeat(step.direction, step.counts, axis=0)).astype(np.float32)
        with watch("decoding"):
            X = _decode(generator, codes)
        return Proposal(X=X, latent_codes=codes, anchors=step.anchor_of_each,
                        timings=watch.seconds)

    def _propose_ascent(self, state, n, random_state, generator):
        # anchors drawn as for the loss step (direction "zero": no gradient computed)
        step = latent_step(state, n, random_state, step_size=self.step_size,
                           n_anchors=self.n_anchors, direction="zero",
                           name=type(self).__name__)
        watch = Stopwatch()
        source = _fit_source(self, state, random_state, watch)
        with watch("ascent"):
            codes = ascend_variance(source, generator, np.repeat(step.codes, step.counts, axis=0),
                                    self.step_size * _multiples(step.counts),
                                    n_steps=self.n_ascent_steps, prior_weight=self.prior_weight)
        with watch("decoding"):
            X = _decode(generator, codes)
        return Proposal(X=X, latent_codes=codes, anchors=step.anchor_of_each,
                        timings=watch.seconds)


def _multiples(counts):
    """The j-th sample of an anchor (j = 1..count) lies j steps from it."""
    return np.concatenate([np.arange(1, c + 1) for c in counts]).astype(np.float32)


def _source(sampler):
    return DeepEnsemble() if sampler.uncertainty is None else clone(sampler.uncertainty)


def _validate_source(sampler):
    if sampler.uncertainty is not None and callable(
            getattr(sampler.uncertainty, "_validate_params", None)):
        sampler.uncertainty._validate_params()


def _check_compatible(sampler, defining_class, *, task, net, generator, uses_source):
    sampler._validate_params()
    if uses_source:
        source = _source(sampler)
        if callable(getattr(source, "check_net", None)):
            source.check_net(net)
    super(defining_class, sampler).check_compatible(task=task, net=net, generator=generator)


def _fit_source(sampler, state, random_state, watch):
    source = _source(sampler)
    with watch("uncertainty_training"):
        source.fit(state.net, state.X_labeled, state.y_labeled, random_state)
    if getattr(source, "is_classifier_", False):
        raise TypeError(f"{type(sampler).__name__} uses the predictive variance of a "
                        "regression net; this net is a classifier.")
    return source


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


class ScreenedPriorSampler(BaseSampler):
    """Prior draws screened by the predictive variance (registered as
    ``"screened-prior"``; regression only).

    The same-cost control of ``InterpolationSampler(objective="variance")``: every
    round draws ``n * n_candidates`` codes from the generator's prior (as
    :class:`PriorSampler`), decodes them, and proposes the ``n`` whose decodes have the
    largest predictive variance under the same ``uncertainty`` — as many evaluations
    of the draws as the ascent's ``n_ascent_steps`` per sample, spent on screening
    instead of on the gradient. If the ascent does not beat it, the gradient adds
    nothing over looking at more random samples. Round 1 draws from the prior.

    Parameters
    ----------
    uncertainty : DeepEnsemble, MCDropout or None, default=None
        ``None`` is ``DeepEnsemble(n_members=5)``; timed as ``"uncertainty_training"``.
    n_candidates : int, default=10
        Prior draws per proposed sample (the ascent's default ``n_ascent_steps``).

    Examples
    --------
    >>> from hardsample.samplers import ScreenedPriorSampler
    >>> ScreenedPriorSampler(n_candidates=20)
    ScreenedPriorSampler(n_candidates=20)
    """

    uses_latent_space = True
    synthesizes = True
    needs_net = True
    needs_decoder = True
    task = "regression"
    _parameter_constraints = {
        "uncertainty": DIFFERENTIABLE_UNCERTAINTY,
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, uncertainty=None, n_candidates=10):
        self.uncertainty = uncertainty
        self.n_candidates = n_candidates

    def _validate_params(self):
        super()._validate_params()
        _validate_source(self)

    def check_compatible(self, *, task, net, generator):
        """Raise before any label is paid for (parameters, task, uncertainty source)."""
        _check_compatible(self, ScreenedPriorSampler, task=task, net=net, generator=generator,
                          uses_source=True)

    def initial_proposal(self, state, n, random_state):
        """Round 1: ``n`` codes drawn from the generator's prior, decoded."""
        _check_generator(state, self)
        return draw_prior(state, n, random_state)

    def _propose(self, state, n, random_state):
        _check_generator(state, self)
        watch = Stopwatch()
        with watch("decoding"):
            candidates = draw_prior(state, n * self.n_candidates, random_state)
        source = _fit_source(self, state, random_state, watch)
        with watch("judging"):
            variance = source.predict_mean_var(candidates.X)[1]
        picks = np.sort(top_n(variance, n, random_state))
        return Proposal(X=candidates.X[picks], latent_codes=candidates.latent_codes[picks],
                        timings=watch.seconds)


__all__ = ["InterpolationSampler", "PriorSampler", "ScreenedPriorSampler"]
