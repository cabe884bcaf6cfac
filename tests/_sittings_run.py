"""One labeling sitting of tests/test_pending.py, run in its own process.

``python _sittings_run.py sitting STATE LABELS OUT [--die]``: the four lines between
the ``glue`` markers are all a person's script needs beyond building the estimator
(load the last dump or start, read the labels file into y, partial_fit, dump).
``--die`` kills the process with SIGKILL after partial_fit, before the dump.
``python _sittings_run.py oneshot N_ROUNDS OUT``: the benchmark run with the same seed.
"""

import json
import os
import signal
import sys
import time

import joblib
import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from sklearn.datasets import load_digits

from hardsample import LatentHardMiningClassifier, apply_labels
from hardsample.nets import MLP

N_FITS = 0


class CountFits(Callback):
    """Counts the net's trainings in this process."""

    def on_train_begin(self, net, **kwargs):
        global N_FITS
        N_FITS += 1


def make_estimator(n_rounds=1):
    net = NeuralNetClassifier(MLP, module__hidden_sizes=(32,), criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-2, max_epochs=3, batch_size=32,
                              callbacks=[CountFits()], verbose=0)
    return LatentHardMiningClassifier(net, sampler="subsampled-margin", initial_size=50,
                                      round_size=50, n_rounds=n_rounds, random_state=0)


def main(argv):
    X, y_full = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    started = time.perf_counter()
    if argv[0] == "oneshot":
        clf = make_estimator(int(argv[1])).fit(X, y_full)
        out = argv[2]
    else:
        path, labels_file, out = argv[1:4]
        # glue begin
        clf = joblib.load(path) if os.path.exists(path) else make_estimator()
        y = apply_labels(np.full(len(X), -1), labels_file)  # the page's index,label rows
        clf.partial_fit(X, y, classes=range(10))
        joblib.dump(clf, path)
        # glue end
        if "--die" in argv:  # the dump above must not happen: kill before it
            raise AssertionError("unreachable")
    with open(out, "w") as handle:
        json.dump({
            "labeled": clf.labeled_indices_.tolist(),
            "pending": clf.pending_.tolist(),
            "history": [record.to_dict() for record in clf.history_],
            "failed": len(clf.failed_labels_),
            "n_fits": N_FITS,
            "seconds": time.perf_counter() - started,
        }, handle)


if __name__ == "__main__":
    if "--die" in sys.argv:
        # Die right after partial_fit, before joblib.dump, as a killed process would.
        joblib.dump = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
    main(sys.argv[1:])
