"""Label pending samples with a person: the labels file and the labeling page.

``hardsample label RUN.joblib --pool POOL.npy --labels labels.csv`` serves the page
(:func:`make_app`) for a fitted estimator's ``pending_`` samples; the answers go to a
labels file that :func:`apply_labels` writes into ``y`` for the next ``partial_fit``.
"""

from .app import make_app
from .labels_file import apply_labels, read_labels, write_labels

__all__ = ["apply_labels", "make_app", "read_labels", "write_labels"]
