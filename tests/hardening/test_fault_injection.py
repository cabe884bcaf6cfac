"""Fault injection: a labeling tool that fails on a fixed fraction of samples.

The tool fails on a sample when a hash of its bytes falls below ``fraction`` (so the
same samples fail at every attempt, in every run), in one of five ways:

- ``raise``: the call raises (the whole chunk fails; the oracle retries sample by sample);
- ``nan``: the sample's label is NaN;
- ``length``: the answer for a chunk holding the sample has one label too few;
- ``shape``: the sample's label has shape (2,) instead of a scalar;
- ``hang``: the call sleeps past the oracle's ``timeout``.

Each run must complete with the full budget taken from good samples, list every bad
sample it met in ``failed_labels_`` with the matching error, and never list a good
one; where the pool cannot provide the budget a ``LabelingError`` says so and keeps
every label already paid for.

Counts for the note (``python -m tests.hardening.test_fault_injection`` prints them):
*asked* (samples sent to the tool, all attempts), *paid* (labels kept by the
estimator), *lost* (good labels the tool computed that were thrown away, e.g. the
other samples of a chunk that raised or timed out), *re-asked* (repeat requests of a
sample).
"""

import hashlib
import sys
import tempfile
import time
from collections import Counter

import cloudpickle
import numpy as np
import pytest
import torch
from skorch import NeuralNetRegressor

from hardsample import LabelingError, LabelingToolOracle, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator
from hardsample.nets import MLP

# The tool is sent to worker processes (timeouts) by value: a fresh worker, started
# after each timeout, then loads numpy only, not this module (and torch).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

N_FEATURES = 6
WEIGHTS = np.arange(1, N_FEATURES + 1, dtype=np.float64)
TIMEOUT = 0.1
ERROR_OF_MODE = {
    "raise": "RuntimeError: solver diverged",
    "nan": "NaN",
    "length": "labels for",
    "shape": "target of shape (2,)",
    "hang": "TimeoutError",
}


def _hash01(x):
    digest = hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


class FaultyTool:
    """Labels ``x @ WEIGHTS``; fails on the samples whose hash is below ``fraction``.

    Past ``fail_all_after`` kept labels (when set) it fails on every sample.
    Records asks per sample and the good labels it computed.
    """

    def __init__(self, mode, fraction, fail_all_after=None, log=None):
        self.mode, self.fraction, self.fail_all_after = mode, fraction, fail_all_after
        self._asked = Counter()
        self.n_good_computed = 0
        self.n_delivered_ok = 0
        self.log = log  # with a timeout the tool runs in worker processes: asks go here

    @property
    def asked(self):
        if self.log is None:
            return self._asked
        with open(self.log) as f:
            return Counter(bytes.fromhex(line) for line in f.read().split())

    def is_bad(self, x):
        if self.fail_all_after is not None and self.n_delivered_ok >= self.fail_all_after:
            return True
        return _hash01(x) < self.fraction

    def __call__(self, X):
        X = np.asarray(X)
        bad = [self.is_bad(x) for x in X]
        for x in X:
            self._asked[x.tobytes()] += 1
        if self.log is not None:
            with open(self.log, "a") as f:
                f.write("".join(x.tobytes().hex() + "\n" for x in X))
        labels = [float(x.astype(np.float64) @ WEIGHTS) for x in X]
        self.n_good_computed += len(X) - sum(bad)
        if any(bad):
            if self.mode == "raise":
                raise RuntimeError("solver diverged")
            if self.mode == "hang":
                time.sleep(5 * TIMEOUT)
                return np.asarray(labels)  # too late: the oracle gave up on this call
            if self.mode == "length":
                return np.asarray([lab for lab, b in zip(labels, bad) if not b])
            if self.mode == "nan":
                labels = [np.nan if b else lab for lab, b in zip(labels, bad)]
            if self.mode == "shape":
                labels = [np.array([lab, lab]) if b else lab for lab, b in zip(labels, bad)]
        self.n_delivered_ok += len(X) - sum(bad)
        return labels


def _pool(n, seed=0):
    return np.random.RandomState(seed).rand(n, N_FEATURES).astype(np.float32)


def _net():
    return NeuralNetRegressor(MLP, module__hidden_sizes=(8,), optimizer=torch.optim.Adam,
                              lr=1e-2, max_epochs=2, batch_size=16, verbose=0)


def run_scenario(mode, fraction, *, n_pool=200, initial_size=20, round_size=10, n_rounds=3,
                 fail_all_after=None, max_failures=None):
    """One mining run against a faulty tool; returns (estimator, tool, oracle, error, stats)."""
    X = _pool(n_pool)
    log = None
    if mode == "hang":
        log = tempfile.NamedTemporaryFile(suffix=".asked", delete=False).name
    tool = FaultyTool(mode, fraction, fail_all_after, log=log)
    oracle = LabelingToolOracle(tool, chunk_size=5, max_retries=1, max_failures=max_failures,
                                timeout=TIMEOUT if mode == "hang" else None)
    reg = LatentHardMiningRegressor(_net(), PCAGenerator(n_components=2), sampler="nearest",
                                    initial_size=initial_size, round_size=round_size,
                                    n_rounds=n_rounds, random_state=0)
    error = None
    try:
        reg.fit(X, oracle=oracle)
    except LabelingError as exc:
        error = exc
    n_paid = len(reg.labeled_indices_)
    stats = {
        "scenario": f"{mode} {fraction:.0%}" + ("" if fail_all_after is None
                                                 else f", all after {fail_all_after}"),
        "pool": n_pool,
        "budget": initial_size + (n_rounds - 1) * round_size,
        "asked": sum(tool.asked.values()),
        "paid": n_paid,
        "failed": len(reg.failed_labels_),
        "lost": tool.n_good_computed - n_paid,
        "re-asked": sum(count - 1 for count in tool.asked.values()),
        "LabelingError": error is not None,
    }
    return X, reg, tool, oracle, error, stats


def _check_failures_listed(X, reg, tool, mode):
    bad_indices = {i for i in range(len(X)) if _hash01(X[i]) < tool.fraction}
    failed = [f for f in reg.failed_labels_]
    assert all(set(f) >= {"round", "index", "error"} for f in failed)
    failed_indices = [f["index"] for f in failed]
    assert len(set(failed_indices)) == len(failed_indices)  # each bad sample given up once
    if tool.fail_all_after is None:
        assert set(failed_indices) <= bad_indices  # a good sample is never given up on
    for f in failed:
        assert ERROR_OF_MODE[mode] in f["error"], f
    # What was labeled is good, correct, and distinct from the failures.
    assert not set(reg.labeled_indices_.tolist()) & set(failed_indices)
    if tool.fail_all_after is None:
        assert not set(reg.labeled_indices_.tolist()) & bad_indices
    np.testing.assert_allclose(reg.y_labeled_, X[reg.labeled_indices_].astype(np.float64) @ WEIGHTS,
                               rtol=1e-6)
    return bad_indices, failed_indices


# "shape" stops at 30 %: with a tool, the regressor learns the target shape from the
# first batch's most common label shape, so when malformed labels are the majority of
# that batch the shape itself is ambiguous. "hang" runs at 50 % only (each timeout
# costs wall time).
SCENARIOS = [("raise", 0.1), ("raise", 0.5), ("nan", 0.1), ("nan", 0.5), ("length", 0.1),
             ("length", 0.5), ("shape", 0.1), ("shape", 0.3), ("hang", 0.5)]


@pytest.mark.parametrize("mode, fraction", SCENARIOS)
def test_faulty_tool_budget_met_from_other_samples(mode, fraction):
    # A tool known to fail on half its samples needs a failure budget above the
    # default (the round's size): three times the round.
    X, reg, tool, oracle, error, stats = run_scenario(
        mode, fraction, max_failures=3.0 if fraction >= 0.5 else None)
    assert error is None, error
    assert len(reg.labeled_indices_) == stats["budget"]
    assert len(np.unique(reg.labeled_indices_)) == stats["budget"]
    assert [h["n_labeled"] for h in reg.history_] == [20, 30, 40]
    bad, failed = _check_failures_listed(X, reg, tool, mode)
    # Every bad sample the run proposed is in failed_labels_, and only those.
    proposed = {i for i in range(len(X)) if tool.asked[X[i].tobytes()]}
    assert set(failed) == proposed & bad
    assert reg.history_[-1]["n_failed"] == len(failed)
    assert reg.n_oracle_calls_ == len(proposed)  # every sample proposed once by the estimator
    if fraction == 0.5:
        assert len(failed) > 0
    # Per-sample faults cost nothing extra; chunk-level faults lose the chunk's good labels
    # and re-ask them one by one, once.
    if mode in ("nan", "shape"):
        assert stats["lost"] == 0
    assert max(tool.asked.values()) <= 1 + oracle.max_retries


def test_pool_too_small_raises_and_keeps_paid_labels():
    # 40 samples, about half bad: the 30-label budget passes the up-front check
    # but the good samples run out.
    X, reg, tool, oracle, error, stats = run_scenario("raise", 0.5, n_pool=40,
                                                      initial_size=10, round_size=10,
                                                      max_failures=10.0)
    n_good = sum(_hash01(x) >= 0.5 for x in X)
    assert n_good < 30
    assert isinstance(error, LabelingError)
    message = str(error)
    assert "already paid for are kept" in message and "no more candidates" in message
    assert "RuntimeError: solver diverged" in message
    bad, failed = _check_failures_listed(X, reg, tool, "raise")
    # Every good label the tool delivered is kept, even those of the failed round ...
    assert len(reg.labeled_indices_) == tool.n_delivered_ok > 0
    # ... and the run gave up only when too few untried samples were left for the round.
    untried = len(X) - len(reg.labeled_indices_) - len(failed)
    assert untried < 10
    assert len(reg.history_) >= 1
    assert f"Round {len(reg.history_) + 1} got" in message


def test_malformed_first_label_does_not_set_the_target_shape():
    """One wrong-shaped label first in the first batch must not set the target shape
    (it did: the regressor then kept the malformed labels and refused the good ones)."""
    X = _pool(60)
    first = []

    def tool(batch):
        labels = [float(x.astype(np.float64) @ WEIGHTS) for x in batch]
        if not first:
            first.append(batch[0].tobytes())
            labels[0] = np.array([1.0, 2.0])
        return labels

    reg = LatentHardMiningRegressor(_net(), PCAGenerator(n_components=2), initial_size=10,
                                    round_size=5, n_rounds=2, random_state=0)
    reg.fit(X, oracle=LabelingToolOracle(tool))
    assert reg.target_shape_ == ()
    assert len(reg.labeled_indices_) == 15
    assert [f["error"] for f in reg.failed_labels_] == [
        "target of shape (2,), expected ()"]
    assert X[reg.failed_labels_[0]["index"]].tobytes() == first[0]
    assert reg.predict(X[:2]).shape == (2,)


def test_all_failing_after_round_one_raises_and_keeps_round_one():
    X, reg, tool, oracle, error, stats = run_scenario("raise", 0.0, fail_all_after=20)
    assert isinstance(error, LabelingError)
    assert "Round 2 got 0 of the 10 labels" in str(error)
    assert "The 20 labels already paid for are kept" in str(error)
    assert len(reg.history_) == 1 and len(reg.labeled_indices_) == 20
    np.testing.assert_allclose(reg.y_labeled_, X[reg.labeled_indices_].astype(np.float64) @ WEIGHTS,
                               rtol=1e-6)
    assert all(f["round"] == 2 for f in reg.failed_labels_)
    assert "failure budget (max_failures) is spent" in str(error)
    # The failure budget (the round's size) spans the round's replacement proposals:
    # the always-failing round 2 costs at most twice its size in samples sent.
    asked_in_round_2 = sum(tool.asked.values()) - 20
    assert 10 < asked_in_round_2 <= 2 * 10, asked_in_round_2
    assert len(reg.failed_labels_) <= 2 * 10
    # The net trained in round 1 still predicts.
    assert reg.predict(X[:3]).shape == (3,)


def test_retrying_a_failed_round_completes_it_without_overrunning_the_budget():
    """partial_fit after a LabelingError finishes the interrupted round: the labels it
    kept count towards it (they used to be topped up by a whole new round's worth)."""
    X = _pool(200)
    tool = FaultyTool("raise", 0.0, fail_all_after=26)  # round 2 gets 6 of its 10
    oracle = LabelingToolOracle(tool, chunk_size=1, max_retries=0)
    reg = LatentHardMiningRegressor(_net(), PCAGenerator(n_components=2), initial_size=20,
                                    round_size=10, random_state=0)
    reg.partial_fit(X, oracle=oracle)
    with pytest.raises(LabelingError, match="Round 2 got 6 of the 10 labels"):
        reg.partial_fit(X, oracle=oracle)
    assert len(reg.labeled_indices_) == 26 and len(reg.history_) == 1
    tool.fail_all_after = None  # the tool is fixed
    reg.partial_fit(X, oracle=oracle)
    assert len(reg.labeled_indices_) == 30 and len(np.unique(reg.labeled_indices_)) == 30
    assert [h["n_labeled"] for h in reg.history_] == [20, 30]
    assert reg.history_[-1]["n_new"] == 10
    reg.partial_fit(X, oracle=oracle)
    assert [h["n_labeled"] for h in reg.history_] == [20, 30, 40]


def test_every_sample_failing_raises_in_round_one():
    X, reg, tool, oracle, error, stats = run_scenario("nan", 1.0)
    assert isinstance(error, LabelingError)
    assert "Round 1 got 0 of the 20 labels" in str(error) and "NaN" in str(error)
    assert len(reg.labeled_indices_) == 0 and len(reg.history_) == 0


def main():
    rows = []
    for mode, fraction in SCENARIOS:
        rows.append(run_scenario(mode, fraction)[-1])
    rows.append(run_scenario("raise", 0.5, n_pool=40, initial_size=10, round_size=10)[-1])
    rows.append(run_scenario("raise", 0.0, fail_all_after=20)[-1])
    rows.append(run_scenario("nan", 1.0)[-1])
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
