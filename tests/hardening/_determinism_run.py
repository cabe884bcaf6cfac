"""One process of the determinism test: ``python _determinism_run.py OUT.npz``.

Fits the classifier with each sampler on a fixed subset of the digits and saves
``labeled_indices_`` and ``predict_proba`` per sampler (and one other seed).
"""

import sys

import numpy as np
import torch
from skorch import NeuralNetClassifier
from sklearn.datasets import load_digits

from hardsample import LatentHardMiningClassifier
from hardsample.generators import PCAGenerator
from hardsample.nets import MLP
from hardsample.samplers import SAMPLERS

torch.set_num_threads(1)
SAMPLERS_TESTED = [name for name in ("nearest", "random", "entropy") if name in SAMPLERS]


def fit(sampler, seed):
    X, y = load_digits(return_X_y=True)
    X, y = (X[:400] / 16.0).astype(np.float32), y[:400]
    net = NeuralNetClassifier(MLP, module__hidden_sizes=(32,), criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-2, max_epochs=3, verbose=0)
    clf = LatentHardMiningClassifier(net, PCAGenerator(n_components=3), sampler=sampler,
                                     initial_size=20, round_size=15, n_rounds=3,
                                     random_state=seed).fit(X, y)
    return clf.labeled_indices_, clf.predict_proba(X)


def main(out):
    results = {}
    for sampler in SAMPLERS_TESTED:
        results[f"{sampler}_labeled"], results[f"{sampler}_proba"] = fit(sampler, seed=0)
    results["nearest_seed1_labeled"], results["nearest_seed1_proba"] = fit("nearest", seed=1)
    np.savez(out, samplers=np.array(SAMPLERS_TESTED), **results)


if __name__ == "__main__":
    main(sys.argv[1])
