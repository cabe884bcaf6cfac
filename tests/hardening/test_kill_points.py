"""Kill points: SIGKILL a labeling run at each point of issue 20's table, rerun it, count.

Each run (``_kill_run.py``) fits a regressor on the digits pool, 10 + 10 + 10 labels,
with a *paying* tool (0.1 s a sample) that logs the key of every label it delivers
to a ``paid`` file, and a journal. The test kills the run with SIGKILL at the kill
point, reruns it to the end with the same journal, and checks:

- 0 lost: every label paid before the kill is in the journal at the kill;
- 0 paid twice: across both runs, every sample is paid exactly once (30 in all);
- with ``n_jobs=2``: no worker process is alive a few seconds after the kill, and
  the paid file stops growing.

A kill point is reached when the paid file holds at least N labels; the test then
holds the calls in flight before they deliver (a ``.hold`` file the tool waits on),
waits until every delivered label is committed, and kills the run mid-call. A kill
in the microseconds between a call returning and its labels' commit loses that one
call; ``test_crash_resume.py``'s ``window`` scenario covers that case.

Two processes sharing one journal with the same seed pay for each of the 30 samples
exactly once in all (claims).
"""

import json
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ..conftest import importorskip_unless_ci
from ._fork_server import ForkServer

psutil = importorskip_unless_ci("psutil")

SCRIPT = Path(__file__).with_name("_kill_run.py")
# name, oracle settings, kill when this many labels are paid (and journaled)
KILL_POINTS = [
    ("round 1, mid-chunk, default chunk_size", {}, 5),
    ("round 2, mid-chunk, default", {}, 15),
    ("round 2, chunk_size=1", {"chunk_size": 1}, 15),
    ("just after round 2's commit", {}, 20),
    ("round 3, chunk_size=3", {"chunk_size": 3}, 23),
    ("round 2, n_jobs=2", {"n_jobs": 2}, 14),
]
TIMEOUT = 240.0


@pytest.fixture
def server():
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        pytest.skip("needs fork (Linux)")
    server = ForkServer(SCRIPT)
    yield server
    server.close()


def _config(folder, name, journal, paid, **settings):
    path = Path(folder) / f"{name}.json"
    path.write_text(json.dumps(dict(journal=str(journal), paid=str(paid),
                                    out=str(Path(folder) / f"{name}.npy"), **settings)))
    return path


def _paid(path):
    return Path(path).read_text().split() if os.path.exists(path) else []


def _journaled(path):
    """Keys of the labels in the journal, read-only (the -wal file stays as it is)."""
    if not os.path.exists(path):
        return set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return {key for (key,) in db.execute(
            "SELECT sample_key FROM labels WHERE label IS NOT NULL")}
    except sqlite3.OperationalError:  # not created yet
        return set()
    finally:
        db.close()


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _errors(folder, name):
    path = Path(folder) / f"{name}.npy.err"
    return path.read_text()[-3000:] if path.exists() else ""


def test_kill_points_pay_each_label_once(server, tmp_path):
    runs = {}
    for i, (point, settings, n_paid) in enumerate(KILL_POINTS):
        journal, paid = tmp_path / f"j{i}.sqlite", tmp_path / f"paid{i}"
        runs[point] = (i, journal, paid, n_paid,
                       server.start(_config(tmp_path, f"run{i}", journal, paid, **settings)))
    # Watch every run at once: each is held, then killed, at its own kill point.
    deadline = time.monotonic() + TIMEOUT
    held, rows = {}, {}
    while len(rows) < len(runs):
        assert time.monotonic() < deadline, f"kill points not reached: {set(runs) - set(rows)}"
        for point, (i, journal, paid, n_paid, pid) in runs.items():
            if point in rows:
                continue
            assert _alive(pid), \
                f"{point}: ended before its kill point\n{_errors(tmp_path, f'run{i}')}"
            if point not in held:
                if len(_paid(paid)) >= n_paid:
                    # Hold the calls in flight before they deliver, let what was
                    # delivered be committed, then kill the run mid-call.
                    Path(f"{paid}.hold").touch()
                    held[point] = (time.monotonic(), None)
                continue
            since, last = held[point]
            state = (len(_paid(paid)), len(_journaled(journal)))
            if state != last or state[0] != state[1]:
                held[point] = (time.monotonic(), state)
                continue
            if time.monotonic() - since < 0.5:
                continue
            workers = [w.pid for w in psutil.Process(pid).children(recursive=True)]
            os.kill(pid, signal.SIGKILL)
            assert server.wait(pid) == -signal.SIGKILL
            at_kill, in_journal = _paid(paid), _journaled(journal)
            os.remove(f"{paid}.hold")  # a surviving worker would now deliver
            if "n_jobs" in point:
                assert workers, "the run had no worker processes to check"
                time.sleep(3.0)
                assert not [w for w in workers if _alive(w)], "a worker outlived its parent"
                assert _paid(paid) == at_kill, "workers kept paying after the kill"
            rows[point] = (point, at_kill, in_journal, i, journal, paid)
        time.sleep(0.02)
    rows = [rows[point] for point in runs]

    resumed = [(row, server.start(_config(tmp_path, f"resume{row[3]}", row[4], row[5])))
               for row in rows]
    table = ["kill point | paid at kill | in journal | paid twice | lost"]
    for (point, at_kill, in_journal, i, journal, paid), pid in resumed:
        assert server.wait(pid) == 0, _errors(tmp_path, f"resume{i}")
        lost = set(at_kill) - in_journal
        counts = Counter(_paid(paid))
        twice = [key for key, n in counts.items() if n > 1]
        table.append(f"{point} | {len(at_kill)} | {len(in_journal)} | {len(twice)} | "
                     f"{len(lost)}")
        assert not lost, point
        assert not twice, point
        assert len(counts) == 30 and _journaled(journal) == set(counts), point
    print("\n" + "\n".join(table))


def test_two_processes_on_one_journal_pay_each_label_once(server, tmp_path):
    journal, paid = tmp_path / "shared.sqlite", tmp_path / "paid"
    pids = [server.start(_config(tmp_path, f"p{k}", journal, paid)) for k in range(2)]
    for k, pid in enumerate(pids):
        assert server.wait(pid) == 0, _errors(tmp_path, f"p{k}")
    counts = Counter(_paid(paid))
    assert len(counts) == 30 and sum(counts.values()) == 30, counts.most_common(3)
    assert _journaled(journal) == set(counts)
    import numpy as np

    np.testing.assert_array_equal(np.load(tmp_path / "p0.npy"), np.load(tmp_path / "p1.npy"))
