"""Crash and resume: SIGKILL a mining run at several points, rerun it, check the bill.

Each run happens in a subprocess (``_mining_run.py``) with an expensive *counting*
labeling tool that logs every sample it is asked for (``A``) and every answer it
completes (``C``) to a file that survives the kill, and a
``LabelingToolOracle(tool, journal=..., chunk_size=5)``. The test kills the run
with SIGKILL once it has written a marker file at the chosen point, reruns it with
the same journal and seed to the end, and checks:

- none lost: every label the tool completed before the kill is in the journal;
- at most once: no sample whose label is in the journal is sent to the tool again,
  and no sample is completed by the tool twice across the two runs;
- the resumed run reuses every journaled label (``n_reused_`` == journal size);
- the final labeled set and predictions equal an uninterrupted run's.

The window where at-most-once cannot hold: the oracle commits a chunk's labels to
the journal only after the tool has *returned* the chunk. A kill between the tool
finishing its work and that commit (``window:N`` below) loses the labels of that
one chunk: they were paid for, are not in the journal, and are paid for again by
the resumed run. The test asserts that exactly that chunk, and nothing else, is
re-paid. Smaller ``chunk_size`` shrinks what such a kill can cost.
"""

import json
import os
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ._fork_server import ForkServer

SCRIPT = Path(__file__).with_name("_mining_run.py")
SEED = 7
CHUNK = 5  # _mining_run.CHUNK_SIZE
# (kill point, sampler, what it exercises). The tool is called twice per round (10
# samples in chunks of 5): call 4 is round 2's second chunk, call 5 is round 3's first.
SCENARIOS = [
    ("label:4", "nearest", "during labeling, one chunk of the round journaled"),
    ("train:2", "nearest", "during training of round 2"),
    ("between:3", "nearest", "after round 3, before round 4's mining"),
    ("window:5", "nearest", "after the tool finished a chunk, before the journal commit"),
    # A sampler that synthesizes samples (X_synthetic_): the resumed run must decode
    # bit-identical samples for the journal to recognise them.
    ("label:4", "interpolation", "during labeling of synthetic samples"),
]
MARKER_TIMEOUT = 120.0


def _config(folder, name, sampler, kill_at=None):
    folder = Path(folder)
    config = {"journal": str(folder / f"{name}.sqlite"), "log": str(folder / f"{name}.log"),
              "out": str(folder / f"{name}-{'killed' if kill_at else 'final'}.npz"),
              "seed": SEED, "kill_at": kill_at, "marker": str(folder / f"{name}.marker"),
              "sampler": sampler}
    path = folder / f"{name}-{kill_at or 'final'}.json".replace(":", "_")
    path.write_text(json.dumps(config))
    return config, path


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for_marker(server, pid, config):
    deadline = time.monotonic() + MARKER_TIMEOUT
    while not os.path.exists(config["marker"]):
        if not _running(pid) or time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            server.wait(pid)
            pytest.fail(f"run {config['kill_at']} never reached its kill point:\n"
                        f"{_errors(config)}")
        time.sleep(0.05)


def _errors(config):
    path = config["log"] + ".err"
    return Path(path).read_text()[-3000:] if os.path.exists(path) else ""


def _finish(server, pid, config):
    assert server.wait(pid) == 0, _errors(config)


def _log(path):
    asked, completed = [], []
    if os.path.exists(path):
        for line in Path(path).read_text().splitlines():
            kind, key = line.split()
            (asked if kind == "A" else completed).append(key)
    return asked, completed


def _journal_keys(path):
    """Keys of the labels in the journal (the tool logs the same keys)."""
    # read-only: a read-write connection closing last would merge and delete the -wal
    # file of the killed run, which the resumed run would then refuse as an unclean copy
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT sample_key FROM labels WHERE label IS NOT NULL").fetchall()
    finally:
        db.close()
    return {key for (key,) in rows}


def test_kill_and_resume_pays_each_label_once(tmp_path):
    if not hasattr(os, "fork") or not os.path.isdir("/proc/self"):
        pytest.skip("needs fork and /proc (Linux)")
    server = ForkServer(SCRIPT)
    try:
        _run_scenarios(server, tmp_path)
    finally:
        server.close()


def _run_scenarios(server, tmp_path):
    # Start the uninterrupted references and every killed run at once (they are
    # independent: each has its own journal and log).
    references = {}
    for sampler in sorted({sampler for _, sampler, _ in SCENARIOS}):
        config, path = _config(tmp_path, f"reference-{sampler}", sampler)
        references[sampler] = (config, server.start(path))
    killed = {}
    for kill_at, sampler, _ in SCENARIOS:
        name = f"{sampler}-{kill_at.replace(':', '_')}"
        config, path = _config(tmp_path, name, sampler, kill_at)
        killed[name] = (config, server.start(path))

    snapshots = {}
    for name, (config, pid) in killed.items():
        _wait_for_marker(server, pid, config)
        os.kill(pid, signal.SIGKILL)
        assert server.wait(pid) == -signal.SIGKILL
        snapshots[name] = (_log(config["log"]), _journal_keys(config["journal"]))

    # Resume every run with the same journal, seed and log, without a kill point.
    resumed = {}
    for name, (config, _) in killed.items():
        config, path = _config(tmp_path, name, config["sampler"])
        resumed[name] = (config, server.start(path))
    n_budget = 10 + 3 * 10
    for sampler, (config, pid) in references.items():
        _finish(server, pid, config)
        ref = np.load(config["out"])
        ref_asked, ref_completed = _log(config["log"])
        assert len(ref["labeled_indices"]) + len(ref["X_synthetic"]) == n_budget
        assert len(ref_completed) == len(set(ref_completed)) == n_budget  # each paid once
        assert int(ref["n_reused"]) == 0
        if sampler == "interpolation":
            assert len(ref["X_synthetic"]) > 0  # (round 1 synthesizes too)
    for config, pid in resumed.values():
        _finish(server, pid, config)

    print("\nscenario | asked before kill | paid before kill | journaled | lost | "
          "asked after resume | reused | paid twice")
    for name, (config, _) in resumed.items():
        kill_at = config["kill_at"] or name.split("-", 1)[1].replace("_", ":")
        ref = np.load(references[config["sampler"]][0]["out"])
        (asked1, completed1), journaled = snapshots[name]
        asked_all, completed_all = _log(config["log"])
        asked2 = asked_all[len(asked1):]
        completed2 = completed_all[len(completed1):]
        final = np.load(config["out"])

        assert journaled <= set(completed1), name  # the journal holds only paid labels
        lost = set(completed1) - journaled  # paid for, not journaled
        if kill_at.startswith("window:"):
            # Inside the window: exactly the chunk in flight is lost and paid again.
            assert len(lost) == CHUNK, name
            assert set(completed1[-CHUNK:]) == lost
            assert lost <= set(asked2)
        else:
            assert lost == set(), name  # none lost
        # At most once: nothing journaled is sent to the tool again ...
        assert not journaled & set(asked2), name
        # ... and outside the window nothing is completed twice across both runs.
        repaid = {key for key, count in Counter(completed1 + completed2).items() if count > 1}
        assert repaid == lost, name
        # Every journaled label was reused by the resumed run (none lost).
        assert int(final["n_reused"]) == len(journaled), name
        assert len(set(completed1) | set(completed2)) == n_budget, name

        print(f"{name} | {len(asked1)} | {len(completed1)} | {len(journaled)} | {len(lost)} | "
              f"{len(asked2)} | {int(final['n_reused'])} | {len(repaid)}")
        # Same final labeled set, labels and predictions as the uninterrupted run.
        np.testing.assert_array_equal(final["labeled_indices"], ref["labeled_indices"])
        np.testing.assert_array_equal(final["y_labeled"], ref["y_labeled"])
        np.testing.assert_array_equal(final["X_synthetic"], ref["X_synthetic"])
        np.testing.assert_array_equal(final["y_synthetic"], ref["y_synthetic"])
        np.testing.assert_allclose(final["predictions"], ref["predictions"], rtol=0, atol=1e-6)
