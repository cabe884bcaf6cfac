"""Samplers: what to label next. Each proposes pool indices or synthetic samples."""

from ._base import BaseSampler, MiningState, Proposal
from .cluster_margin import ClusterMarginSampler
from .coreset import CoreSetSampler
from .interpolation import InterpolationSampler, PriorSampler
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
}

__all__ = [
    "BaseSampler",
    "ClusterMarginSampler",
    "CoreSetSampler",
    "EntropySampler",
    "InterpolationSampler",
    "LatentEntropySampler",
    "LatentMarginSampler",
    "MarginSampler",
    "MiningState",
    "NearestNeighborSampler",
    "PriorSampler",
    "Proposal",
    "RandomSampler",
    "RepresentativeSampler",
    "SAMPLERS",
    "SubsampledEntropySampler",
    "SubsampledMarginSampler",
]
