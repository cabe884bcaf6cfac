"""Samplers that judge the pool by the disagreement of a net's posterior draws.

Each takes an uncertainty source (``uncertainty=``, a
:class:`~hardsample.uncertainty.DeepEnsemble` by default, or
:class:`~hardsample.uncertainty.MCDropout`) that is fitted every round on the labeled
set, then scores the available pool samples:

- regression: :class:`VarianceSampler` (``"variance"``, query by committee: the
  predictive variance of the draws) and its same-cost control
  :class:`SubsampledVarianceSampler` (``"subsampled-variance"``);
- classification: :class:`BALDSampler` (``"bald"``, the mutual information between
  the label and the net's weights, Houlsby et al. 2011), :class:`PowerBALDSampler`
  (``"power-bald"``, stochastic batch acquisition, Kirsch et al. 2023) and the control
  :class:`SubsampledBALDSampler` (``"subsampled-bald"``).

Their cost per round: the uncertainty source's training (``n_members - 1`` nets for a
deep ensemble that reuses the run's net; none for MC dropout), reported as
``"uncertainty_training"`` in ``history_[i]["mining_split"]``, and ``n_draws``
prediction passes over the judged samples, reported as ``"judging"``.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval

from .._timing import Stopwatch
from ..uncertainty import DeepEnsemble
from ._base import BaseSampler, Proposal
from .uncertainty import entropy, top_n, uniform_subset



def bald(proba_samples):
    """BALD: the mutual information between a sample's label and the net's weights.

    ``H[mean_k p_k] - mean_k H[p_k]`` (nats) for draws ``p_k`` of shape
    ``(n_draws, n_samples, n_classes)``: high where the draws are confident but
    disagree, low where they agree (even when they agree on being unsure).
    """
    proba_samples = np.asarray(proba_samples, dtype=np.float64)
    mean_entropy = np.mean([entropy(p) for p in proba_samples], axis=0)
    return np.maximum(entropy(proba_samples.mean(axis=0)) - mean_entropy, 0.0)


def power_top_n(scores, n, power, random_state):
    """``n`` positions drawn without replacement with probability ``∝ scores ** power``.

    The Gumbel top-k trick: the ``n`` largest ``power * log(score) + Gumbel(0, 1)``
    are a draw of ``n`` without replacement from those probabilities (Kirsch et al.
    2023). ``power=inf`` is the deterministic top ``n``. Zero scores are drawn last.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if np.isinf(power):
        return top_n(scores, n, random_state)
    with np.errstate(divide="ignore"):
        keys = power * np.log(np.maximum(scores, 0.0)) + random_state.gumbel(size=len(scores))
    return top_n(keys, n, random_state)


class _PosteriorSampler(BaseSampler):
    """Shared body: fit the uncertainty source, score a (sub)set of the pool, pick."""

    task = None
    uses_latent_space = False
    needs_net = True
    needs_decoder = False
    _parameter_constraints = {
        "uncertainty": [HasMethods(["fit", "predict_samples"]), None],
        "n_candidates": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, uncertainty=None, n_candidates=None):
        self.uncertainty = uncertainty
        self.n_candidates = n_candidates

    def _validate_params(self):
        super()._validate_params()
        if self.uncertainty is not None and callable(
                getattr(self.uncertainty, "_validate_params", None)):
            self.uncertainty._validate_params()

    def _source(self):
        return DeepEnsemble() if self.uncertainty is None else clone(self.uncertainty)

    def check_compatible(self, *, task, net, generator):
        """Raise before any label is paid for when this sampler cannot serve the run.

        Checks its parameters, the task (``"classification"`` or ``"regression"``) and
        that the uncertainty source works with ``net`` (e.g. MC dropout needs dropout
        layers).
        """
        self._validate_params()
        super().check_compatible(task=task, net=net, generator=generator)
        source = self._source()
        if callable(getattr(source, "check_net", None)):
            source.check_net(net)

    def _propose(self, state, n, random_state):
        available = state.available_indices
        if self.n_candidates is not None:
            # drawn first, so the candidates equal subsampled-margin's for the same seed
            available = uniform_subset(available, n * self.n_candidates, random_state)
        watch = Stopwatch()
        source = self._source()
        with watch("uncertainty_training"):
            source.fit(state.net, state.X_labeled, state.y_labeled, random_state)
        with watch("judging"):
            scores = self._scores(source, state.X_pool, available)
        picks = self._pick(scores, n, random_state)
        return Proposal(indices=np.asarray(available[picks], dtype=np.int64),
                        timings=watch.seconds)

    def _scores(self, source, X, rows):
        raise NotImplementedError

    def _pick(self, scores, n, random_state):
        return top_n(scores, n, random_state)


_UNCERTAINTY_DOC = """uncertainty : DeepEnsemble, MCDropout or None, default=None
        The posterior draws: ``None`` is ``DeepEnsemble(n_members=5)``, which works with
        any net (4 extra trainings a round); ``MCDropout(n_samples=20)`` trains nothing
        but needs dropout layers in the net. Cloned and fitted every round."""


class VarianceSampler(_PosteriorSampler):
    """Label the pool samples whose predicted targets vary most across the draws
    (query by committee for regression; registered as ``"variance"``).

    Every round the uncertainty source is fitted on the labeled set, predicts every
    available pool sample (or ``n * n_candidates`` of them drawn uniformly), and the
    ``n`` with the largest predictive variance — averaged over the entries of a
    target map — are proposed (ties in a seeded random order).

    Parameters
    ----------
    {uncertainty}
    n_candidates : int or None, default=None
        Judge only ``n * n_candidates`` available samples drawn uniformly (all when
        None or when there are fewer).

    Examples
    --------
    >>> from hardsample.samplers import VarianceSampler
    >>> from hardsample.uncertainty import MCDropout
    >>> VarianceSampler(uncertainty=MCDropout(n_samples=10))
    VarianceSampler(uncertainty=MCDropout(n_samples=10))
    """

    task = "regression"

    def _scores(self, source, X, rows):
        return source.predict_mean_var(X, rows=rows)[1]


class SubsampledVarianceSampler(VarianceSampler):
    """Predictive variance over a uniform subset of ``n * n_candidates`` available
    samples (registered as ``"subsampled-variance"``).

    The same-cost control of the variance criterion: as many candidates as a latent
    sampler judges (64 per proposed sample by default, as ``"subsampled-margin"``, and
    the same candidates for the same seed), drawn uniformly.

    Parameters
    ----------
    {uncertainty}
    n_candidates : int, default=64

    Examples
    --------
    >>> from hardsample.samplers import SubsampledVarianceSampler
    >>> SubsampledVarianceSampler().n_candidates
    64
    """

    def __init__(self, uncertainty=None, n_candidates=64):
        super().__init__(uncertainty=uncertainty, n_candidates=n_candidates)


class BALDSampler(_PosteriorSampler):
    """Label the pool samples with the highest BALD score (registered as ``"bald"``).

    BALD (Houlsby et al. 2011; Gal et al. 2017) is the mutual information between a
    sample's label and the net's weights, estimated from the draws of class
    probabilities: ``H[mean_k p_k] - mean_k H[p_k]``. Unlike entropy, it is high only
    where the draws disagree, not where they agree that the sample is ambiguous. The
    ``n`` highest scores are taken (top-k BALD, which ignores redundancy within a
    batch; :class:`PowerBALDSampler` spreads the batch).

    Parameters
    ----------
    {uncertainty}
    n_candidates : int or None, default=None
        Judge only ``n * n_candidates`` available samples drawn uniformly.

    Examples
    --------
    >>> from hardsample.samplers import BALDSampler
    >>> BALDSampler()
    BALDSampler()
    """

    task = "classification"

    def _scores(self, source, X, rows):
        return bald(source.predict_proba_samples(X, rows=rows))


class SubsampledBALDSampler(BALDSampler):
    """BALD over a uniform subset of ``n * n_candidates`` available samples
    (registered as ``"subsampled-bald"``): its same-cost control, with the same
    candidates as ``"subsampled-margin"`` for the same seed.

    Parameters
    ----------
    {uncertainty}
    n_candidates : int, default=64

    Examples
    --------
    >>> from hardsample.samplers import SubsampledBALDSampler
    >>> SubsampledBALDSampler(n_candidates=16)
    SubsampledBALDSampler(n_candidates=16)
    """

    def __init__(self, uncertainty=None, n_candidates=64):
        super().__init__(uncertainty=uncertainty, n_candidates=n_candidates)


class PowerBALDSampler(BALDSampler):
    """PowerBALD: a batch drawn with probability ``∝ BALD ** power``, without replacement
    (registered as ``"power-bald"``).

    Stochastic batch acquisition (Kirsch, Farquhar, Atighehchian, Jesson,
    Branchaud-Charron & Gal, "Stochastic Batch Acquisition: A Simple Baseline for
    Deep Active Learning", TMLR 2023): top-k BALD fills a batch with near-duplicates;
    drawing from the scores' power distribution (by the Gumbel top-k trick) spreads it,
    and matches BatchBALD at the cost of BALD. ``power=inf`` is top-k BALD.

    Parameters
    ----------
    {uncertainty}
    n_candidates : int or None, default=None
        Judge only ``n * n_candidates`` available samples drawn uniformly.
    power : float, default=1.0
        The exponent ``β`` (the authors' default 1); larger values concentrate the
        draw on the top scores.

    Examples
    --------
    >>> from hardsample.samplers import PowerBALDSampler
    >>> PowerBALDSampler(power=2.0)
    PowerBALDSampler(power=2.0)
    """

    _parameter_constraints = {
        **_PosteriorSampler._parameter_constraints,
        "power": [Interval(Real, 0, np.inf, closed="right")],
    }

    def __init__(self, uncertainty=None, n_candidates=None, power=1.0):
        super().__init__(uncertainty=uncertainty, n_candidates=n_candidates)
        self.power = power

    def _pick(self, scores, n, random_state):
        return power_top_n(scores, n, self.power, random_state)


for _cls in (VarianceSampler, SubsampledVarianceSampler, BALDSampler, SubsampledBALDSampler,
             PowerBALDSampler):
    _cls.__doc__ = _cls.__doc__.replace("{uncertainty}", _UNCERTAINTY_DOC)

__all__ = ["BALDSampler", "PowerBALDSampler", "SubsampledBALDSampler",
           "SubsampledVarianceSampler", "VarianceSampler", "bald", "power_top_n"]
