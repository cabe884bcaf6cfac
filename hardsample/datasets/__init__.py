"""Data sets: local image files (MNIST, CIFAR-10) and the synthetic vessel study."""

from .images import load_mnist

__all__ = ["load_mnist"]
