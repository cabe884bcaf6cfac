"""The round loop, pinned: the same seed gives the same selections as before the
loop was rebuilt around the label ledger (recorded on digits with the pre-ledger
estimator, for every sampler registered then)."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor

from hardsample import LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator
from hardsample.nets import MLP

ROUND_1 = [69, 176, 239, 315, 323, 587, 660, 805, 914, 1226, 1269, 1313, 1328, 1344, 1345, 1505, 1591, 1712, 1713, 1715]

#: labeled_indices_ of rounds 2 and 3 (10 + 10), per pool sampler.
POOL_PICKS = {
    "coreset": [298, 84, 689, 226, 1569, 336, 617, 1708, 1290, 601, 1473, 70, 91, 1705, 771, 907, 951, 1281, 1106, 897],
    "entropy": [685, 675, 447, 665, 715, 1308, 403, 765, 151, 719, 1127, 260, 280, 1467, 1661, 946, 367, 1779, 1559, 111],
    "latent-entropy": [607, 24, 10, 1177, 539, 1597, 1361, 267, 579, 341, 1553, 1405, 1664, 1435, 1557, 583, 674, 1412, 482, 1592],
    "latent-margin": [1486, 1127, 402, 1563, 291, 1040, 1113, 466, 1678, 1400, 753, 94, 1072, 1637, 1592, 304, 420, 825, 255, 324],
    "margin": [1657, 313, 1040, 181, 1486, 61, 775, 1528, 1295, 461, 420, 335, 1359, 1527, 515, 770, 1468, 51, 1158, 838],
    "nearest": [504, 1652, 475, 267, 9, 1453, 1361, 1757, 1333, 420, 731, 874, 341, 1774, 1440, 1598, 11, 574, 288, 530],
    "random": [58, 103, 224, 292, 489, 1101, 1229, 1262, 1354, 1536, 126, 188, 681, 759, 764, 905, 1043, 1049, 1701, 1711],
}

#: Row sums of the 10 synthetic samples of round 2, per synthesizing sampler.
SYNTHETIC_ROUND_2 = {
    "interpolation": [19.278, 19.325, 19.29, 19.376, 19.453, 19.475, 19.209, 19.252, 19.58, 19.306],
    "prior": [19.333, 19.621, 19.692, 19.424, 19.744, 19.367, 19.402, 19.733, 19.506, 19.669],
}

BUDGET = dict(initial_size=20, round_size=10, n_rounds=3, random_state=0)


@pytest.mark.parametrize("sampler", sorted(POOL_PICKS))
def test_pool_sampler_selections_are_pinned(digits, sampler):
    X, y = digits
    net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-2, max_epochs=3, verbose=0)
    clf = LatentHardMiningClassifier(net, PCAGenerator(n_components=3), sampler=sampler,
                                     **BUDGET).fit(X, y)
    assert clf.labeled_indices_[:20].tolist() == ROUND_1
    assert clf.labeled_indices_[20:].tolist() == POOL_PICKS[sampler]


@pytest.mark.parametrize("sampler", sorted(SYNTHETIC_ROUND_2))
def test_synthesizing_sampler_selections_are_pinned(digits, sampler):
    X, _ = digits
    net = NeuralNetRegressor(MLP, optimizer=torch.optim.Adam, lr=1e-2, max_epochs=3, verbose=0)
    # clip=False: the decodes as they were when pinned (clipping to the data's range came
    # later, with the vessel masks, and changes what is decoded, not what is selected)
    reg = LatentHardMiningRegressor(net, PCAGenerator(n_components=3, clip=False),
                                    sampler=sampler, **BUDGET).fit(
        X, oracle=lambda batch: batch.sum(axis=1))
    assert len(reg.X_synthetic_) == 40 and len(reg.labeled_indices_) == 0
    np.testing.assert_allclose(reg.X_synthetic_[20:30].sum(axis=1), SYNTHETIC_ROUND_2[sampler],
                               atol=2e-3)
