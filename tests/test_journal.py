"""AnnotationJournal: the SQLite store of paid-for labels."""

import pickle
import sqlite3

import numpy as np
import pytest

from hardsample.journal import AnnotationJournal, sample_key


def test_sample_key_depends_on_bytes_shape_and_dtype():
    x = np.arange(6, dtype=np.float32)
    assert sample_key(x) == sample_key(x.copy())
    assert sample_key(x) != sample_key(x.reshape(2, 3))
    assert sample_key(x) != sample_key(x.astype(np.float64))
    y = x.copy()
    y[3] += 1e-6
    assert sample_key(x) != sample_key(y)
    # non-contiguous views hash like their contiguous copies
    z = np.arange(12, dtype=np.float32).reshape(2, 6)[:, ::2]
    assert sample_key(z) == sample_key(np.ascontiguousarray(z))


def test_put_get_and_reopen(tmp_path):
    path = tmp_path / "j.sqlite"
    X = np.random.RandomState(0).rand(4, 2, 2)
    with AnnotationJournal(path, signature="tool") as journal:
        assert journal.put_many([(X[0], 1.5), (X[1], np.full((2, 2), 7.0, np.float32))]) == 2
        assert len(journal) == 2
    with AnnotationJournal(path) as journal:
        assert journal.signature_ == "tool"
        found = journal.get_many(X)
        assert sorted(found) == [0, 1]
        assert found[0] == 1.5
        np.testing.assert_array_equal(found[1], np.full((2, 2), 7.0, np.float32))
        assert found[1].dtype == np.float32
        # duplicates in a query are all answered
        assert sorted(journal.get_many([X[1], X[1], X[3]])) == [0, 1]


def test_signature_checks(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = AnnotationJournal(path)  # unsigned until asked
    assert journal.signature_ is None
    journal.check_signature("solver(a=1)")
    journal.check_signature("solver(a=1)")  # idempotent
    with pytest.raises(ValueError, match=r"was written by 'solver\(a=1\)', not 'solver\(a=2\)'"):
        journal.check_signature("solver(a=2)")
    journal.close()
    with pytest.raises(ValueError, match="was written by"):
        AnnotationJournal(path, signature="other")
    with pytest.raises(TypeError, match="signature"):
        AnnotationJournal(path).check_signature("")


def test_failures_are_recorded_not_returned(tmp_path):
    x, other = np.zeros(3), np.ones(3)
    with AnnotationJournal(tmp_path / "j.sqlite") as journal:
        journal.put_failures([(x, "RuntimeError: diverged")])
        assert journal.get_many([x]) == {} and journal.n_failed == 1 and len(journal) == 0
        assert list(journal.failures().values()) == ["RuntimeError: diverged"]
        # a later success replaces the failure ...
        journal.put_many([(x, 2.0)])
        assert journal.get_many([x]) == {0: 2.0} and journal.n_failed == 0
        # ... and a later failure never hides a stored label
        journal.put_failures([(x, "TimeoutError")])
        assert journal.get_many([x]) == {0: 2.0}
        journal.put_failures([(other, "a"), (other, "b")])
        assert journal.n_failed == 1


def test_labels_are_visible_to_other_connections_at_once(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = AnnotationJournal(path, signature="tool")
    journal.put_many([(np.zeros(2), 1.0)])
    # no close: a crash here must not lose the committed label
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 1
    assert journal._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    journal.close()


def test_unstorable_labels_are_skipped(tmp_path):
    with AnnotationJournal(tmp_path / "j.sqlite") as journal:
        assert journal.put_many([(np.zeros(1), {"a": 1}), (np.ones(1), "text")]) == 1
        assert journal.get_many([np.ones(1)]) == {0: "text"}


def test_closed_journal_and_pickling(tmp_path):
    journal = AnnotationJournal(tmp_path / "j.sqlite", signature="tool")
    journal.put_many([(np.zeros(2), 3.0)])
    copy = pickle.loads(pickle.dumps(journal))
    assert copy.get_many([np.zeros(2)]) == {0: 3.0} and copy.signature_ == "tool"
    copy.close()
    journal.close()
    with pytest.raises(ValueError, match="closed"):
        journal.get_many([np.zeros(2)])
    assert "tool" in repr(journal)


# ------------------------------------------------------------------- integrity
from hardsample import JournalError  # noqa: E402
from hardsample.journal import dump_label, row_checksum  # noqa: E402


def _raw(path):
    db = sqlite3.connect(path, isolation_level=None)
    return db


def _schema_1_journal(path):
    """A journal file written by schema version 1 (its meta table only)."""
    db = _raw(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.close()
    return path


def test_dtype_is_part_of_the_key():
    # same bytes (all zero), other dtype: other samples
    assert sample_key(np.zeros(4, np.int32)) != sample_key(np.zeros(4, np.float32))


def test_edited_label_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    with AnnotationJournal(path, signature="tool") as journal:
        journal.put_many([(np.zeros(2), 1.0), (np.ones(2), 2.0)])
    db = _raw(path)
    blob = dump_label(7.0)
    db.execute("UPDATE labels SET label=? WHERE sample_key=?", (blob, sample_key(np.ones(2))))
    db.close()
    with AnnotationJournal(path, signature="tool") as journal:
        assert journal.get_many([np.zeros(2)]) == {0: 1.0}  # the untouched row is fine
        with pytest.raises(JournalError, match=r"j\.sqlite.*row 2 .*checksum"):
            journal.get_many([np.ones(2)])


def test_bad_label_blob_is_a_journal_error(tmp_path):
    path = tmp_path / "j.sqlite"
    key = sample_key(np.zeros(2))
    with AnnotationJournal(path, signature="tool") as journal:
        journal.put_many([(np.zeros(2), 1.0)])
    db = _raw(path)  # a blob that is not .npy, with a matching checksum
    blob = b"\x93NUMPY garbage"
    db.execute("UPDATE labels SET label=?, checksum=?", (blob, row_checksum(key, blob, "tool")))
    db.close()
    with AnnotationJournal(path) as journal:
        with pytest.raises(JournalError, match="cannot be read") as info:
            journal.get_many([np.zeros(2)])
    assert "pickled" not in str(info.value) and info.value.path == str(path)


def test_close_checkpoints_the_wal(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = AnnotationJournal(path, signature="tool")
    journal.put_many([(np.full(2, i, np.float32), float(i)) for i in range(5)])
    journal.close()
    assert not (tmp_path / "j.sqlite-wal").exists() or \
        (tmp_path / "j.sqlite-wal").stat().st_size == 0
    # the main file alone holds every label
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(path.read_bytes())
    with AnnotationJournal(copy) as again:
        assert len(again) == 5


def test_copy_without_wal_after_a_crash_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = AnnotationJournal(path, signature="tool")  # never closed: a crash
    journal.put_many([(np.zeros(2), 1.0)])
    assert (tmp_path / "j.sqlite-wal").exists()
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(path.read_bytes())  # the -wal file is left behind
    with pytest.raises(JournalError, match="-wal file is missing"):
        AnnotationJournal(copy)
    # with its -wal file, the copy opens with its label
    copy2 = tmp_path / "copy2.sqlite"
    copy2.write_bytes(path.read_bytes())
    (tmp_path / "copy2.sqlite-wal").write_bytes((tmp_path / "j.sqlite-wal").read_bytes())
    with AnnotationJournal(copy2) as again:
        assert again.get_many([np.zeros(2)]) == {0: 1.0}
    journal.close()


def test_old_schema_is_refused(tmp_path):
    path = _schema_1_journal(tmp_path / "old.sqlite")
    with pytest.raises(JournalError, match="schema version '1'.*new journal"):
        AnnotationJournal(path)


def test_locked_journal_names_the_file(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = AnnotationJournal(path, signature="tool", timeout=0.2)
    other = _raw(path)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(JournalError, match=r"j\.sqlite.*another connection holds its write"):
        journal.put_many([(np.zeros(2), 1.0)])
    other.execute("ROLLBACK")
    other.close()
    assert journal.put_many([(np.zeros(2), 1.0)]) == 1
    journal.close()


def test_claims_between_connections(tmp_path):
    path = tmp_path / "j.sqlite"
    with AnnotationJournal(path, signature="t") as a, AnnotationJournal(path) as b:
        assert a.claim(["k1", "k2"]) == ({"k1", "k2"}, {})
        claimed, others = b.claim(["k1", "k3"])
        assert claimed == {"k3"} and set(others) == {"k1"}
        a.put_labels([("k1", 1.0)])  # storing releases the claim
        assert "k1" not in a.claims()
        assert b.claim(["k1"]) == (set(), {})  # labeled: nothing to claim
        # a claim of a process that died on this host is stale: taken over
        db = _raw(path)
        db.execute("UPDATE claims SET pid=? WHERE sample_key='k2'", (2 ** 22 + 12345,))
        db.close()
        assert b.claim(["k2"]) == ({"k2"}, {})


# ------------------------------------------------------------- what errors say
@pytest.mark.parametrize("exc, advice", [
    (sqlite3.OperationalError("database is locked"),
     "another connection holds its write lock (waited 0.25 s); close the other program or "
     "process using it, then rerun: the labels paid for are kept and written at the next "
     "chance"),
    (sqlite3.OperationalError("database table is busy"),
     "another connection holds its write lock (waited 0.25 s)"),
    (sqlite3.OperationalError("database or disk is full"),
     "the disk is full; free space, then rerun"),
    (sqlite3.DatabaseError("database disk image is malformed"),
     "the file is damaged; restore it from a copy (with its -wal file) or start a new "
     "journal file"),
    (sqlite3.OperationalError("attempt to write a readonly database"),
     "check the file and its folder are writable"),
])
def test_storage_errors_name_the_file_the_cause_and_what_to_do(tmp_path, exc, advice):
    path = tmp_path / "j.sqlite"
    with AnnotationJournal(path, timeout=0.25) as journal:
        error = journal._error("storing labels", exc)
    assert isinstance(error, JournalError) and error.path == str(path)
    assert str(error).startswith(f"The journal {str(path)!r}: storing labels failed "
                                 f"({type(exc).__name__}: {exc}): {advice}")
    assert str(error).endswith(".")


def test_schema_and_unclean_copy_messages(tmp_path):
    old = _schema_1_journal(tmp_path / "old.sqlite")
    with pytest.raises(JournalError) as info:
        AnnotationJournal(old)
    assert str(info.value) == (
        f"The journal {str(old)!r} has schema version '1'; this hardsample reads version "
        "'2', whose rows carry checksums. Its labels cannot be checked: start a new journal "
        "file (keep the old one to read it with the hardsample version that wrote it).")
    assert info.value.path == str(old)
    path = tmp_path / "j.sqlite"
    crashed = AnnotationJournal(path, signature="tool")  # never closed
    crashed.put_many([(np.zeros(2), 1.0)])
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(path.read_bytes())
    with pytest.raises(JournalError) as info:
        AnnotationJournal(copy)
    assert str(info.value) == (
        f"The journal {str(copy)!r} was not closed cleanly (by 1 connection(s)) and the "
        "-wal file is missing, so labels written since its last checkpoint are not in it: "
        f"copy the -wal file ({copy}-wal) with the journal. If another program merged the "
        "WAL into the file (e.g. the sqlite3 shell), open it with trust_unclean=True.")
    assert info.value.path == str(copy)
    # trusted anyway, it opens without what was only in the -wal file
    with AnnotationJournal(copy, trust_unclean=True) as trusted:
        assert len(trusted) == 0
    crashed.close()


def test_edited_and_unreadable_rows_are_named(tmp_path):
    path = tmp_path / "j.sqlite"
    keys = [sample_key(np.zeros(2)), sample_key(np.ones(2))]
    with AnnotationJournal(path, signature="tool") as journal:
        journal.put_many([(np.zeros(2), 1.0), (np.ones(2), np.arange(3.0))])
    db = _raw(path)
    db.execute("UPDATE labels SET checksum='0' WHERE sample_key=?", (keys[0],))
    blob = b"not npy"
    db.execute("UPDATE labels SET label=?, checksum=? WHERE sample_key=?",
               (blob, row_checksum(keys[1], blob, "tool"), keys[1]))
    db.close()
    with AnnotationJournal(path) as journal:
        with pytest.raises(JournalError) as info:
            journal.get_many([np.zeros(2)])
        assert str(info.value) == (
            f"The journal {str(path)!r}: row 1 (sample {keys[0][:16]}...) does not match its "
            "checksum: the label was changed outside hardsample and is not trusted. Delete "
            "that row (or restore the file from a copy) to have it labeled again.")
        assert info.value.path == str(path)
        with pytest.raises(JournalError) as info:
            journal.get_many([np.ones(2)])
        assert str(info.value) == (
            f"The journal {str(path)!r}: the label in row 2 (sample {keys[1][:16]}...) cannot "
            "be read (ValueError); it was not written by hardsample. Delete that row to have "
            "it labeled again.")
        assert info.value.path == str(path) and info.value.__cause__ is None


def test_array_and_scalar_labels_come_back_as_stored(tmp_path):
    with AnnotationJournal(tmp_path / "j.sqlite", signature="tool") as journal:
        journal.put_many([(np.zeros(1), 2.5), (np.ones(1), np.array([4.0])),
                          (np.full(1, 2.0), np.int64(3))])
        found = journal.get_many([np.zeros(1), np.ones(1), np.full(1, 2.0)])
    assert found[0] == 2.5 and not isinstance(found[0], np.ndarray)  # a scalar, not 0-d
    assert isinstance(found[1], np.ndarray) and found[1].shape == (1,)
    assert found[2] == 3 and isinstance(found[2], np.int64)


def test_claims_of_another_host_expire_after_the_lease(tmp_path):
    import time

    from hardsample.journal import CLAIM_LEASE, _is_stale

    path = tmp_path / "j.sqlite"
    with AnnotationJournal(path, signature="t") as mine:
        db = _raw(path)  # claims of a process on another host: its pid cannot be checked
        now = time.time()
        db.executemany("INSERT INTO claims VALUES (?, 'other-run', 1, 'elsewhere', ?)",
                       [("fresh", now - 60.0), ("old", now - CLAIM_LEASE - 60.0)])
        db.close()
        claimed, others = mine.claim(["fresh", "old"])
        assert claimed == {"old"} and others == {"fresh": "pid 1 on elsewhere"}
    # a claim exactly as old as the lease still holds
    assert not _is_stale(1, "elsewhere", created=100.0, now=100.0 + CLAIM_LEASE)
    assert _is_stale(1, "elsewhere", created=100.0, now=100.5 + CLAIM_LEASE)


def test_every_unpickled_copy_claims_as_a_connection_of_its_own(tmp_path):
    journal = AnnotationJournal(tmp_path / "j.sqlite", signature="t")
    first, second = (pickle.loads(pickle.dumps(journal)) for _ in range(2))
    ids = {journal.run_id_, first.run_id_, second.run_id_}
    assert len(ids) == 3 and all(isinstance(i, str) and len(i) == 32 for i in ids)
    assert first.claim(["k"]) == ({"k"}, {})
    claimed, others = second.claim(["k"])
    assert claimed == set() and list(others) == ["k"]
    for j in (first, second, journal):
        j.close()


@pytest.mark.parametrize("action, call", [
    ("reading labels", lambda j: j.get_many([np.zeros(2)])),
    ("reading claims", lambda j: j.claims()),
    ("reading failures", lambda j: j.failures()),
    ("counting labels", len),
    ("counting failures", lambda j: j.n_failed),
    ("storing labels", lambda j: j.put_many([(np.zeros(2), 1.0)])),
    ("recording failures", lambda j: j.put_failures([(np.zeros(2), "crashed")])),
    ("claiming samples", lambda j: j.claim(["k"])),
    ("releasing claims", lambda j: j.release(["k"])),
])
def test_each_storage_error_says_what_was_being_done(tmp_path, action, call):
    path = tmp_path / "j.sqlite"
    with AnnotationJournal(path, signature="t") as journal:
        db = _raw(path)
        db.execute("DROP TABLE labels")
        db.execute("DROP TABLE claims")
        db.close()
        with pytest.raises(JournalError) as info:
            call(journal)
    assert str(info.value).startswith(
        f"The journal {str(path)!r}: {action} failed (OperationalError: no such table: ")


def test_labels_are_stored_under_the_keys_given(tmp_path):
    with AnnotationJournal(tmp_path / "j.sqlite", signature="t") as journal:
        canonical = sample_key(np.ones(2))  # e.g. the key of the input actually labeled
        journal.put_many([(np.zeros(2), 5.0)], keys=[canonical])
        assert journal.get_many([np.ones(2)]) == {0: 5.0}
        assert journal.get_many([np.zeros(2)]) == {}
        journal.put_failures([(np.zeros(2), "crashed")], keys=["other"])
        assert journal.failures() == {"other": "crashed"}


def test_label_and_failure_rows_carry_their_write_time(tmp_path):
    import time

    path = tmp_path / "j.sqlite"
    before = time.time()
    with AnnotationJournal(path, signature="t") as journal:
        journal.put_many([(np.zeros(2), 1.0)])
        journal.put_failures([(np.ones(2), "crashed")])
    after = time.time()
    db = _raw(path)
    created = [row[0] for row in db.execute("SELECT created FROM labels")]
    db.close()
    assert len(created) == 2 and all(before <= t <= after for t in created)


def test_a_journal_error_carries_what_was_paid_for():
    result = object()
    error = JournalError("disk full", path="j.sqlite", unsaved=(("k", 1.0),), result=result)
    assert (error.path, error.unsaved, error.result) == ("j.sqlite", [("k", 1.0)], result)
    bare = JournalError("closed")
    assert (bare.path, bare.unsaved, bare.result) == (None, [], None)


def test_checking_a_claim_holder_leaves_it_running(monkeypatch):
    import os
    import subprocess
    import sys

    from hardsample.journal import _pid_alive

    # a child that any terminating signal would end (even under nohup)
    child = subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                              "for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):\n"
                              "    signal.signal(s, signal.SIG_DFL)\n"
                              "print('ready', flush=True)\n"
                              "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        assert _pid_alive(child.pid)
        with pytest.raises(subprocess.TimeoutExpired):  # only asked, not signalled
            child.wait(timeout=0.3)
    finally:
        child.kill()
        child.communicate()
    assert not _pid_alive(child.pid)

    def not_ours(pid, signal):
        raise PermissionError(pid)

    monkeypatch.setattr(os, "kill", not_ours)  # another user's live process
    assert _pid_alive(child.pid)


def test_a_pickled_label_row_is_never_unpickled(tmp_path):
    import io

    path = tmp_path / "j.sqlite"
    key = sample_key(np.zeros(2))
    with AnnotationJournal(path, signature="t") as journal:
        journal.put_many([(np.zeros(2), 1.0)])
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"run": "code"}], dtype=object), allow_pickle=True)
    blob = buffer.getvalue()
    db = _raw(path)  # a valid .npy holding a pickle, with a matching checksum
    db.execute("UPDATE labels SET label=?, checksum=?", (blob, row_checksum(key, blob, "t")))
    db.close()
    with AnnotationJournal(path) as journal:
        with pytest.raises(JournalError, match="cannot be read"):
            journal.get_many([np.zeros(2)])


def test_claims_lists_who_claimed_what(tmp_path):
    import os
    import socket
    import time

    before = time.time()
    with AnnotationJournal(tmp_path / "j.sqlite", signature="t") as journal:
        journal.claim(["k1", "k2"])
        claims = journal.claims()
        assert sorted(claims) == ["k1", "k2"]
        run_id, pid, host, created = claims["k1"]
        assert (run_id, pid, host) == (journal.run_id_, os.getpid(), socket.gethostname())
        assert before <= created <= time.time()
        journal.release(["k1"])
        assert list(journal.claims()) == ["k2"]


def test_object_samples_are_keyed_by_their_values():
    sample = np.array(["mesh", 1.5, None], dtype=object)
    assert sample_key(sample) == sample_key(sample.copy())
    assert sample_key(sample) != sample_key(np.array(["mesh", 2.5, None], dtype=object))


def test_opening_a_journal_another_connection_writes_to_says_so(tmp_path):
    path = tmp_path / "j.sqlite"
    AnnotationJournal(path, signature="t").close()
    other = _raw(path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(JournalError) as info:
            AnnotationJournal(path, timeout=0.1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert str(info.value).startswith(
        f"The journal {str(path)!r}: opening failed (OperationalError: database is locked): "
        "another connection holds its write lock (waited 0.1 s)")
    with AnnotationJournal(path) as journal:  # free again: it opens
        assert journal.signature_ == "t"


class _FailingReads:
    """A connection whose reads of ``query`` outside a transaction fail (a disk error)."""

    def __init__(self, connection, query):
        self.connection, self.query = connection, query

    @property
    def in_transaction(self):
        return self.connection.in_transaction

    def execute(self, sql, *args):
        if sql == self.query and not self.connection.in_transaction:
            raise sqlite3.OperationalError("disk I/O error")
        return self.connection.execute(sql, *args)

    def close(self):
        self.connection.close()


def test_a_failed_read_back_of_the_signature_says_so(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = AnnotationJournal(path)
    journal._connection = _FailingReads(journal._connection,
                                        "SELECT value FROM meta WHERE key='signature'")
    with pytest.raises(JournalError) as info:
        journal.check_signature("tool")
    journal.close()
    assert str(info.value).startswith(
        f"The journal {str(path)!r}: reading the signature failed (OperationalError: disk "
        "I/O error)")
    with AnnotationJournal(path) as again:  # the signature was written before the read
        assert again.signature_ == "tool"


def test_signing_a_journal_that_holds_unsigned_labels_re_signs_them(tmp_path):
    path = tmp_path / "j.sqlite"
    with AnnotationJournal(path) as journal:  # unsigned until asked
        journal.put_many([(np.zeros(2), 1.0), (np.ones(2), 2.0)])
        journal.check_signature("tool")
        assert journal.get_many([np.zeros(2), np.ones(2)]) == {0: 1.0, 1: 2.0}
    with AnnotationJournal(path, signature="tool") as journal:
        assert journal.get_many([np.zeros(2), np.ones(2)]) == {0: 1.0, 1: 2.0}
    # an unsigned row edited by hand is refused, not signed
    other = tmp_path / "k.sqlite"
    with AnnotationJournal(other) as journal:
        journal.put_many([(np.zeros(2), 1.0)])
    db = _raw(other)
    db.execute("UPDATE labels SET label=?", (dump_label(7.0),))
    db.close()
    with AnnotationJournal(other) as journal:
        with pytest.raises(JournalError, match=r"row 1 .*does not match its checksum"):
            journal.check_signature("tool")
        assert journal.signature_ is None


def test_another_signature_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "j.sqlite"
    AnnotationJournal(path, signature="solver(a=1)").close()
    with AnnotationJournal(path) as journal, pytest.raises(ValueError) as info:
        journal.check_signature("solver(a=2)")
    assert str(info.value).endswith(
        "its labels would not match this tool. Use another journal file, or the same "
        "journal_key as the run that wrote it.")


def test_more_labels_than_one_read_holds_all_come_back(tmp_path):
    keys = [f"key{i}" for i in range(1001)]  # reads go 500 keys at a time
    with AnnotationJournal(tmp_path / "j.sqlite") as journal:
        journal.put_labels([(key, float(i)) for i, key in enumerate(keys)])
        assert journal.get_many(None, keys=keys) == {i: float(i) for i in range(1001)}
