"""hardsample: label-efficient deep learning by hardness-aware latent-space sampling."""

from ._ledger import RoundRecord
from ._pool import Pool
from .estimators import LatentHardMiningClassifier, LatentHardMiningRegressor
from .exceptions import LabelsPending
from .journal import JournalError
from .labeling import apply_labels, read_labels, write_labels
from .oracles import (
    PENDING,
    DatasetOracle,
    LabelingError,
    LabelingToolOracle,
    NotLabeledYet,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "PENDING",
    "DatasetOracle",
    "JournalError",
    "LabelingError",
    "LabelingToolOracle",
    "LabelsPending",
    "LatentHardMiningClassifier",
    "LatentHardMiningRegressor",
    "NotLabeledYet",
    "Pool",
    "RoundRecord",
    "__version__",
    "apply_labels",
    "read_labels",
    "write_labels",
]
