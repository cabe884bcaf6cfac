"""Data sets: local image files (MNIST, CIFAR-10) and the synthetic vessel-wall study."""

from .images import load_cifar10, load_mnist
from .vessels import MaskError, SolverError, VesselStressSolver, make_vessel_masks

__all__ = [
    "MaskError", "SolverError", "VesselStressSolver", "load_cifar10", "load_mnist",
    "make_vessel_masks",
]
