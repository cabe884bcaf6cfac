"""Samplers: what to label next. Each proposes pool indices or synthetic samples."""

from ._base import BaseSampler, MiningState, Proposal
from .nearest import NearestNeighborSampler
from .random import RandomSampler

SAMPLERS = {
    "random": RandomSampler,
    "nearest": NearestNeighborSampler,
}

__all__ = [
    "BaseSampler",
    "MiningState",
    "NearestNeighborSampler",
    "Proposal",
    "RandomSampler",
    "SAMPLERS",
]
