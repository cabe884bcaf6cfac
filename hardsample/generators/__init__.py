"""Stage 1: generative models fitted on unlabeled data, with a differentiable decoder."""

from ._base import BaseGenerator
from .linear import PCAGenerator
from .vae import VAETransformer

__all__ = ["BaseGenerator", "PCAGenerator", "VAETransformer"]
