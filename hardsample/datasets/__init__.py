"""Data sets: local image files (MNIST) and the synthetic vessel-wall study."""

from .images import load_mnist
from .vessels import MaskError, SolverError, VesselStressSolver, make_vessel_masks

__all__ = ["MaskError", "SolverError", "VesselStressSolver", "load_mnist", "make_vessel_masks"]
