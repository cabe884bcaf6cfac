"""Samplers: what to label next. Each proposes pool indices or synthetic samples."""

from ._base import BaseSampler, MiningState, Proposal
from .bayesian import (
    BALDSampler,
    PowerBALDSampler,
    SubsampledBALDSampler,
    SubsampledVarianceSampler,
    VarianceSampler,
)
from .cluster_margin import ClusterMarginSampler
from .coreset import CoreSetSampler
from .greedy import ImprovedGreedySampler
from .interpolation import InterpolationSampler, PriorSampler, ScreenedPriorSampler
from .latent_uncertainty import LatentEntropySampler, LatentMarginSampler
from .nearest import NearestNeighborSampler
from .random import RandomSampler
from .representative import RepresentativeSampler
from .uncertainty import (
    EntropySampler,
    MarginSampler,
    SubsampledEntropySampler,
    SubsampledMarginSampler,
)

SAMPLERS = {
    "random": RandomSampler,
    "nearest": NearestNeighborSampler,
    "entropy": EntropySampler,
    "margin": MarginSampler,
    "coreset": CoreSetSampler,
    "latent-entropy": LatentEntropySampler,
    "latent-margin": LatentMarginSampler,
    "interpolation": InterpolationSampler,
    "prior": PriorSampler,
    "subsampled-entropy": SubsampledEntropySampler,
    "subsampled-margin": SubsampledMarginSampler,
    "typiclust": RepresentativeSampler,
    "cluster-margin": ClusterMarginSampler,
    "variance": VarianceSampler,
    "subsampled-variance": SubsampledVarianceSampler,
    "igs": ImprovedGreedySampler,
    "bald": BALDSampler,
    "power-bald": PowerBALDSampler,
    "subsampled-bald": SubsampledBALDSampler,
    "screened-prior": ScreenedPriorSampler,
}


def compatible_samplers(*, task, net=None, generator=None):
    """Names of the registered samplers (defaults) that can run with this task, net
    and generator, by :meth:`BaseSampler.check_compatible`.

    Parameters
    ----------
    task : {"classification", "regression"} or None
    net : skorch net or None, default=None
    generator : generator, FrozenEstimator or None, default=None

    Returns
    -------
    names : list of str
        In registry order. Synthesizing samplers (``"interpolation"``,
        ``"prior"``) also need a labeling tool as the oracle.

    Examples
    --------
    >>> from hardsample.samplers import compatible_samplers
    >>> compatible_samplers(task="regression")
    ['random', 'variance', 'subsampled-variance', 'igs']
    """
    names = []
    for name, sampler_class in SAMPLERS.items():
        try:
            sampler_class().check_compatible(task=task, net=net, generator=generator)
        except (TypeError, ValueError):
            continue
        names.append(name)
    return names

__all__ = [
    "BALDSampler",
    "BaseSampler",
    "ClusterMarginSampler",
    "CoreSetSampler",
    "EntropySampler",
    "ImprovedGreedySampler",
    "InterpolationSampler",
    "LatentEntropySampler",
    "LatentMarginSampler",
    "MarginSampler",
    "MiningState",
    "NearestNeighborSampler",
    "PowerBALDSampler",
    "PriorSampler",
    "Proposal",
    "RandomSampler",
    "RepresentativeSampler",
    "SAMPLERS",
    "ScreenedPriorSampler",
    "SubsampledBALDSampler",
    "SubsampledEntropySampler",
    "SubsampledMarginSampler",
    "SubsampledVarianceSampler",
    "VarianceSampler",
    "compatible_samplers",
]
