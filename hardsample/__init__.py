"""hardsample: label-efficient deep learning by hardness-aware latent-space sampling."""

from ._ledger import RoundRecord
from ._pool import Pool
from .estimators import LatentHardMiningClassifier, LatentHardMiningRegressor
from .journal import JournalError
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
    "LatentHardMiningClassifier",
    "LatentHardMiningRegressor",
    "NotLabeledYet",
    "Pool",
    "RoundRecord",
    "__version__",
]
