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
]
