"""A mining run driven from the command line, for the crash-and-resume tests.

Run as ``python _mining_run.py CONFIG.json``, or as ``python _mining_run.py --serve``:
a fork server that imports torch once and then, per ``run CONFIG.json`` line on
stdin, forks a fresh child for one run (answering ``pid N``) and, per ``wait N``
line, reaps it (answering ``status S``, -9 for a SIGKILL). Each child is a separate
process that has run nothing but the imports, so killing and restarting it is a real
crash and restart, without paying torch's import time for every run.

The labeling tool is an expensive *counting* tool: it appends one line per sample
to a log file (``A <key>`` when asked, ``C <key>`` when its answer is complete; the
key is the journal's ``sample_key``), flushed and fsync'ed, so the record survives
a SIGKILL of this process. ``kill_at`` makes the run write
a marker file and sleep at one point, so that the test can SIGKILL it there:

- ``label:N``   - during the N-th call of the tool, before it answers;
- ``window:N``  - during the N-th call, *after* the tool has finished (completions
  logged) but before it returns, i.e. before the oracle commits the journal;
- ``train:R``   - during training of round R (after its first epoch);
- ``between:R`` - after round R's training, before round R+1's mining.
"""

import json
import os
import sys
import time

import numpy as np
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback

from hardsample import LabelingToolOracle, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator
from hardsample.journal import sample_key
from hardsample.nets import MLP

torch.set_num_threads(1)

N_POOL, N_FEATURES = 120, 6
RUN = dict(initial_size=10, round_size=10, n_rounds=4)
CHUNK_SIZE = 5
SLEEP = 120.0  # the test kills the run long before


def make_data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(N_POOL, N_FEATURES).astype(np.float32)
    return X


def key_of(x):
    """The journal's key of a sample (the tool sees the same rows the oracle journals)."""
    return sample_key(x)


def _append(path, lines):
    with open(path, "a") as log:
        for line in lines:
            log.write(line + "\n")
            log.flush()
        os.fsync(log.fileno())


def _pause(marker):
    with open(marker, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(SLEEP)


class CountingTool:
    """An expensive tool: label = weighted sum of the features; every call logged."""

    def __init__(self, log, kill_at, marker):
        self.log, self.kill_at, self.marker = log, kill_at, marker
        self.n_calls = 0

    def __call__(self, X):
        self.n_calls += 1
        keys = [key_of(x) for x in X]
        _append(self.log, [f"A {k}" for k in keys])
        if self.kill_at == f"label:{self.n_calls}":
            _pause(self.marker)
        y = np.asarray(X, dtype=np.float64).reshape(len(X), -1) @ np.arange(1, N_FEATURES + 1)
        _append(self.log, [f"C {k}" for k in keys])
        if self.kill_at == f"window:{self.n_calls}":
            _pause(self.marker)
        return y


class PauseIn(Callback):
    """Pauses (for the kill) during or after training of one round."""

    def __init__(self, kill_at=None, marker=None):
        self.kill_at = kill_at
        self.marker = marker

    def initialize(self):
        self.round_ = getattr(self, "round_", 0)
        return self

    def on_train_begin(self, net, **kwargs):
        self.round_ = getattr(self, "round_", 0) + 1

    def on_epoch_end(self, net, **kwargs):
        if self.kill_at == f"train:{self.round_}":
            _pause(self.marker)

    def on_train_end(self, net, **kwargs):
        if self.kill_at == f"between:{self.round_}":
            _pause(self.marker)


def main(config_path):
    with open(config_path) as f:
        config = json.load(f)
    kill_at, marker = config.get("kill_at"), config.get("marker")
    X = make_data()
    net = NeuralNetRegressor(
        MLP, module__hidden_sizes=(16,), optimizer=torch.optim.Adam, lr=1e-2, max_epochs=3,
        batch_size=8, verbose=0, callbacks=[("pause", PauseIn(kill_at, marker))],
    )
    oracle = LabelingToolOracle(CountingTool(config["log"], kill_at, marker),
                                journal=config["journal"], journal_key="counting-tool-v1",
                                chunk_size=CHUNK_SIZE)
    reg = LatentHardMiningRegressor(net, PCAGenerator(n_components=2),
                                    sampler=config.get("sampler", "nearest"),
                                    random_state=config["seed"], **RUN)
    reg.fit(X, oracle=oracle)
    np.savez(config["out"], labeled_indices=reg.labeled_indices_, y_labeled=reg.y_labeled_,
             X_synthetic=reg.X_synthetic_, y_synthetic=reg.y_synthetic_,
             predictions=reg.predict(X), n_reused=oracle.n_reused_, n_calls=oracle.n_calls_)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        from _fork_server import serve  # this script's folder heads sys.path

        serve(main, "log")
    else:
        main(sys.argv[1])
