"""Stage 1: generative models fitted on unlabeled data, with a differentiable decoder."""

from ._base import BaseGenerator
from .alpha_gan import AlphaGANTransformer
from .linear import PCAGenerator
from .sdf import SDFGenerator, SignedDistanceTransformer
from .vae import VAETransformer

__all__ = ["AlphaGANTransformer", "BaseGenerator", "PCAGenerator", "SDFGenerator",
           "SignedDistanceTransformer", "VAETransformer"]
