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
