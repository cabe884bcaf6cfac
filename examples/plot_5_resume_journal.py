"""
Resuming an interrupted run without paying twice
================================================

Labels from an expensive tool are stored in an SQLite journal the moment they are
paid for. A run that stops (a crash, a killed job, a closed laptop) is started again
with the same journal and seed: it replays the same selections, takes every label it
already paid for from the journal, and asks the tool only for new samples.
"""

import tempfile
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetRegressor

from hardsample import LabelingToolOracle, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator
from hardsample.nets import MLP

rng = np.random.RandomState(0)
X = rng.rand(500, 8).astype("float32")
asked = []


def expensive_tool(batch):
    """Pretend each label costs minutes; count every sample asked for."""
    asked.extend(map(bytes, batch))
    return np.sin(batch).sum(axis=1)


def make_model():
    net = NeuralNetRegressor(MLP, optimizer=torch.optim.Adam, lr=1e-2, max_epochs=20,
                             verbose=0)
    return LatentHardMiningRegressor(net, PCAGenerator(3), initial_size=20, round_size=20,
                                     n_rounds=5, random_state=0)


journal = Path(tempfile.mkdtemp()) / "labels.sqlite"

# %%
# The first run stops after three of its five rounds.
first = make_model()
for _ in range(3):
    first.partial_fit(X, oracle=LabelingToolOracle(expensive_tool, journal=journal,
                                                   journal_key="sin-sum v1"))
print(f"interrupted after {len(first.labeled_indices_)} labels; tool asked {len(asked)} times")

# %%
# Start again with the same journal and seed: 60 labels come from the journal.
asked.clear()
oracle = LabelingToolOracle(expensive_tool, journal=journal, journal_key="sin-sum v1")
resumed = make_model().fit(X, oracle=oracle)
print(f"resumed run: {len(resumed.labeled_indices_)} labels, tool asked {len(asked)} times, "
      f"{oracle.n_reused_} labels reused from the journal")
assert np.array_equal(resumed.labeled_indices_[:60], first.labeled_indices_)
