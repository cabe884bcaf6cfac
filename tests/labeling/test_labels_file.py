import numpy as np
import pytest

from hardsample.labeling import apply_labels, read_labels, write_labels


def _write_text(tmp_path, text):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


def test_round_trip_sorts_by_index_and_infers_integers(tmp_path):
    path = tmp_path / "labels.csv"
    write_labels(path, [42, 3, 17], np.array([7, 0, 3]))
    assert path.read_text() == "index,label\n3,0\n17,3\n42,7\n"
    indices, labels = read_labels(path)
    assert indices.dtype == np.int64 and labels.dtype == np.int64
    np.testing.assert_array_equal(indices, [3, 17, 42])
    np.testing.assert_array_equal(labels, [0, 3, 7])


def test_round_trip_of_numbers_and_strings(tmp_path):
    path = tmp_path / "labels.csv"
    write_labels(path, [1, 2], [0.25, -3.5])
    indices, labels = read_labels(path)
    assert labels.dtype == np.float64
    np.testing.assert_array_equal(labels, [0.25, -3.5])
    write_labels(path, [1, 2], ["cat", "dog, big"])   # a comma is quoted
    _, labels = read_labels(path)
    assert labels.tolist() == ["cat", "dog, big"]
    _, texts = read_labels(tmp_path / "labels.csv", dtype=str)
    assert texts.tolist() == ["cat", "dog, big"]


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "labels.csv"
    write_labels(path, [0], [1])
    # A write that fails half-way leaves the old file whole and no temporary file behind.
    import hardsample.labeling.labels_file as module

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_labels(path, [0, 1], [1, 2])
    assert path.read_text() == "index,label\n0,1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


@pytest.mark.parametrize("indices, labels, message", [
    ([0, 1], [1], "1-D of one length"),
    ([0.5], [1], "must be integers"),
    ([-1], [1], "non-negative"),
    ([0, 0], [1, 2], "sample 0 has two labels: '1' and '2'"),
    ([0], [""], "sample 0 has no label"),
    ([0], [np.nan], "sample 0 has no label"),
])
def test_write_refuses_bad_rows(tmp_path, indices, labels, message):
    with pytest.raises(ValueError, match=message):
        write_labels(tmp_path / "labels.csv", indices, labels)
    assert not (tmp_path / "labels.csv").exists()


def test_repeated_row_with_the_same_label_is_read_once(tmp_path):
    path = _write_text(tmp_path, "index,label\n4,1\n4,1\n\n9,2\n")
    indices, labels = read_labels(path)
    assert indices.tolist() == [4, 9] and labels.tolist() == [1, 2]


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("idx,label\n1,2\n", "line 1: expected the header 'index,label'"),
    ("index,label\n1,2,3\n", "line 2: expected 2 fields"),
    ("index,label\n1,2\nx,3\n", "line 3: the index 'x' is not an integer"),
    ("index,label\n2.0,3\n", "line 2: the index '2.0' is not an integer"),
    ("index,label\n-2,3\n", "line 2: the index -2 is negative"),
    ("index,label\n2, \n", "line 2: sample 2 has an empty label"),
    ("index,label\n2,3\n5,1\n2,4\n", "line 4: sample 2 is labeled '4' here but '3' on line 2"),
])
def test_read_names_the_file_and_line(tmp_path, text, message):
    path = _write_text(tmp_path, text)
    with pytest.raises(ValueError, match=message) as info:
        read_labels(path)
    assert str(path) in str(info.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_labels(tmp_path / "nothing.csv")


def test_apply_labels_fills_a_copy_of_the_unlabeled_marker(tmp_path):
    path = _write_text(tmp_path, "index,label\n1,7\n3,0\n")
    y = np.full(5, -1)
    filled = apply_labels(y, path)
    np.testing.assert_array_equal(filled, [-1, 7, -1, 0, -1])
    np.testing.assert_array_equal(y, [-1] * 5)          # the input is untouched
    assert filled.dtype == y.dtype
    # regression targets: NaN marks "not labeled yet"
    path = _write_text(tmp_path, "index,label\n0,0.5\n2,-1e3\n")
    filled = apply_labels(np.full(3, np.nan), path)
    np.testing.assert_array_equal(filled, [0.5, np.nan, -1000.0])


def test_apply_labels_to_string_and_object_targets(tmp_path):
    path = _write_text(tmp_path, "index,label\n0,zebra\n2,7\n")
    filled = apply_labels(np.array(["", "cat", ""]), path)
    assert filled.tolist() == ["zebra", "cat", "7"]      # widened, not truncated
    filled = apply_labels(np.array([-1, "cat", -1], dtype=object), path)
    assert filled.tolist() == ["zebra", "cat", 7]        # integers look like integers


def test_apply_labels_with_an_empty_file_changes_nothing(tmp_path):
    path = _write_text(tmp_path, "index,label\n")
    np.testing.assert_array_equal(apply_labels([-1, 2], path), [-1, 2])


@pytest.mark.parametrize("y, text, message", [
    (np.full(3, -1), "index,label\n3,1\n", "line 2: index 3 is outside y \\(3 samples\\)"),
    (np.full(3, -1), "index,label\n0,1\n1,cat\n", "line 3: label 'cat' is not an integer"),
    (np.full(3, -1), "index,label\n0,1.5\n", "line 2: label '1.5' is not an integer"),
    (np.full(3, np.nan), "index,label\n0,big\n", "line 2: label 'big' is not a number"),
    (np.full(3, np.nan), "index,label\n0,nan\n", "line 2: label 'nan' is NaN"),
    (np.full((3, 2), -1), "index,label\n0,1\n", "y must be 1-D"),
    (np.full(3, -1, dtype=np.int8), "index,label\n0,1000\n", "does not fit"),
])
def test_apply_labels_refuses_what_does_not_fit(tmp_path, y, text, message):
    with pytest.raises(ValueError, match=message):
        apply_labels(y, _write_text(tmp_path, text))
