"""A mining run for the kill tests (``test_kill_points.py``).

``python _kill_run.py --serve`` is a fork server: it imports torch once, then per
``run CONFIG.json`` line on stdin forks a fresh child for one run (answering
``pid N``) and per ``wait N`` line reaps it (answering ``status S``, -9 for a
SIGKILL). Each child runs ``main(CONFIG.json)``: a LatentHardMiningRegressor on
the digits pool, 10 + 10 + 10 labels, with a LabelingToolOracle and a journal.

The tool is a *paying* tool: per call it works ``SLEEP`` (0.1) seconds a sample, then
appends the journal key of every sample of the call to the ``paid`` file (flushed
and fsync'ed, so the record survives a SIGKILL) and returns their labels. A label
is paid when its call returns it: a call killed mid-way delivered nothing. While
a ``<paid>.hold`` file exists, calls wait before delivering (the test holds them
there to kill the run at a precise point).
"""

import json
import os
import sys
import time

import numpy as np
import torch
from skorch import NeuralNetRegressor
from sklearn.datasets import load_digits

from hardsample import LabelingToolOracle, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator
from hardsample.journal import sample_key
from hardsample.nets import MLP

torch.set_num_threads(1)
# skorch's optimizer set-up imports torch._dynamo (seconds): once, in the fork server
torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
SLEEP = 0.1


class PayingTool:
    """Label = mean pixel value; every delivered label logged to ``paid``."""

    def __init__(self, paid, sleep=SLEEP):
        self.paid = paid
        self.sleep = sleep

    def __call__(self, X):
        time.sleep(self.sleep * len(X))
        while os.path.exists(self.paid + ".hold"):  # the test is about to kill the run
            time.sleep(0.01)
        y = np.asarray(X, dtype=np.float64).reshape(len(X), -1).mean(axis=1)
        with open(self.paid, "a") as log:
            for x in X:
                log.write(sample_key(x) + "\n")
            log.flush()
            os.fsync(log.fileno())
        return y


def main(config_path):
    with open(config_path) as f:
        config = json.load(f)
    X = (load_digits().data / 16.0).astype(np.float32)
    net = NeuralNetRegressor(MLP, module__hidden_sizes=(16,), optimizer=torch.optim.Adam,
                             lr=1e-2, max_epochs=3, batch_size=8, verbose=0)
    oracle = LabelingToolOracle(PayingTool(config["paid"]), journal=config["journal"],
                                journal_key="paying-tool-v1",
                                chunk_size=config.get("chunk_size"),
                                n_jobs=config.get("n_jobs"))
    reg = LatentHardMiningRegressor(net, PCAGenerator(n_components=4), sampler="random",
                                    initial_size=10, round_size=10, n_rounds=3,
                                    random_state=config.get("seed", 0))
    reg.fit(X, oracle=oracle)
    oracle.journal_.close()
    np.save(config["out"], reg.labeled_indices_)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        from _fork_server import serve  # this script's folder heads sys.path

        serve(main, "out")
    else:
        main(sys.argv[1])
