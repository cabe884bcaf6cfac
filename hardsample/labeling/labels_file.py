"""The labels file: a CSV of pool indices and their labels, written by the labeling page.

The file has the header ``index,label`` and one row per labeled pool sample::

    index,label
    17,3
    42,7

It is written atomically (a temporary file in the same folder, then :func:`os.replace`),
so a reader never sees half a file, and several sittings merge into one file.
"""

import csv
import os
import re
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["apply_labels", "read_labels", "write_labels"]

HEADER = ["index", "label"]
_INT = re.compile(r"[+-]?\d+\Z")


def _rows(path):
    """``(line, index, label text)`` for every row of a labels file, validated.

    Rows that repeat an index with the same label are dropped; a repeat with another
    label is an error.
    """
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"labels file {path} does not exist") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"labels file {path} is empty: expected the header 'index,label'")
        if [h.strip() for h in header] != HEADER:
            raise ValueError(f"{path}, line 1: expected the header 'index,label', "
                             f"got {','.join(header)!r}")
        rows, seen = [], {}
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != 2:
                raise ValueError(f"{path}, line {line}: expected 2 fields (index,label), "
                                 f"got {len(row)}: {row!r}")
            index_text, label = row[0].strip(), row[1].strip()
            if not _INT.match(index_text):
                raise ValueError(f"{path}, line {line}: the index {index_text!r} is not "
                                 "an integer")
            index = int(index_text)
            if index < 0:
                raise ValueError(f"{path}, line {line}: the index {index} is negative")
            if not label:
                raise ValueError(f"{path}, line {line}: sample {index} has an empty label")
            if index in seen:
                first_line, first_label = seen[index]
                if first_label != label:
                    raise ValueError(f"{path}, line {line}: sample {index} is labeled "
                                     f"{label!r} here but {first_label!r} on line "
                                     f"{first_line}")
                continue
            seen[index] = (line, label)
            rows.append((line, index, label))
    return rows


def _parse(texts):
    """Integers when every text looks like one, else floats when they all parse, else str."""
    if all(_INT.match(t) for t in texts):
        return np.array([int(t) for t in texts], dtype=np.int64)
    try:
        return np.array([float(t) for t in texts], dtype=np.float64)
    except ValueError:
        return np.array(texts, dtype=str)


def read_labels(path, dtype=None):
    """Read a labels file.

    Parameters
    ----------
    path : str or path-like
        CSV file with the header ``index,label``.
    dtype : None or type, default=None
        ``None`` infers the labels' type: ``int64`` when every label looks like an
        integer, ``float64`` when every label is a number, else strings. ``str`` keeps
        the labels as written.

    Returns
    -------
    indices : ndarray of int64, shape (n_labels,)
        Pool indices, in the file's order (a repeated row with the same label once).
    labels : ndarray, shape (n_labels,)
        Their labels.

    Raises
    ------
    ValueError
        When the file is missing, has another header, a row without two fields, an index
        that is not a non-negative integer, an empty label, or one index with two
        different labels; the message names the file and the line.
    """
    rows = _rows(path)
    indices = np.array([index for _, index, _ in rows], dtype=np.int64)
    texts = [label for _, _, label in rows]
    labels = np.array(texts, dtype=str) if dtype is str else _parse(texts)
    if dtype is not None and dtype is not str:
        labels = labels.astype(dtype)
    return indices, labels


def write_labels(path, indices, labels):
    """Write a labels file atomically.

    Parameters
    ----------
    path : str or path-like
        Destination; replaced in one step (a temporary file in the same folder, then
        :func:`os.replace`), so a reader never sees a partial file.
    indices : array-like of int, shape (n_labels,)
        Pool indices, non-negative; the rows are written sorted by index.
    labels : array-like, shape (n_labels,)
        Their labels, written with ``str``; none may be empty.

    Raises
    ------
    ValueError
        When the lengths differ, an index is negative or not an integer, a label is
        empty or NaN, or one index comes with two different labels.
    """
    indices = np.asarray(indices)
    labels = np.asarray(labels)
    if indices.ndim != 1 or labels.ndim != 1 or len(indices) != len(labels):
        raise ValueError(f"indices and labels must be 1-D of one length, got shapes "
                         f"{indices.shape} and {labels.shape}")
    if len(indices) and not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be integers, got dtype {indices.dtype}")
    if len(indices) and indices.min() < 0:
        raise ValueError(f"indices must be non-negative, got {int(indices.min())}")
    by_index = {}
    for index, label in zip(indices.tolist(), labels.tolist()):
        text = str(label)
        if not text.strip() or (isinstance(label, float) and np.isnan(label)):
            raise ValueError(f"sample {index} has no label ({label!r})")
        if by_index.setdefault(index, text) != text:
            raise ValueError(f"sample {index} has two labels: {by_index[index]!r} and "
                             f"{text!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(HEADER)
            writer.writerows(sorted(by_index.items()))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply_labels(y, path):
    """A copy of ``y`` with the labels of a labels file written at their indices.

    This is how the labels of a sitting reach the next ``partial_fit``::

        y = apply_labels(np.full(len(X), -1), "labels.csv")      # classes, -1 = unlabeled
        y = apply_labels(np.full(len(X), np.nan), "labels.csv")  # regression targets

    Parameters
    ----------
    y : array-like, shape (n_samples,)
        Targets of the whole pool, with the "not labeled yet" marker (-1 or NaN) where
        no label is known.
    path : str or path-like
        Labels file written by the labeling page or :func:`write_labels`.

    Returns
    -------
    ndarray, shape (n_samples,)
        ``y`` with the file's labels; integer ``y`` receives integer labels, float
        ``y`` numbers, string or object ``y`` the labels as written (integers when they
        look like integers, for object ``y``).

    Raises
    ------
    ValueError
        When ``y`` is not 1-D, the file is invalid (see :func:`read_labels`), an index is
        outside ``y``, or a label does not fit ``y``'s type; the message names the file
        and the line.
    """
    y = np.array(y, copy=True)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    rows = _rows(path)
    for line, index, label in rows:
        if index >= len(y):
            raise ValueError(f"{path}, line {line}: index {index} is outside y "
                             f"({len(y)} samples)")
    if not rows:
        return y
    kind = y.dtype.kind
    values = []
    for line, index, label in rows:
        if kind in "iu":
            if not _INT.match(label):
                raise ValueError(f"{path}, line {line}: label {label!r} is not an integer, "
                                 f"but y holds integers ({y.dtype})")
            value = int(label)
        elif kind == "f":
            try:
                value = float(label)
            except ValueError:
                raise ValueError(f"{path}, line {line}: label {label!r} is not a number, "
                                 f"but y holds numbers ({y.dtype})") from None
            if np.isnan(value):
                raise ValueError(f"{path}, line {line}: label {label!r} is NaN, the "
                                 "'not labeled yet' marker")
        elif kind == "U":
            value = label
        elif kind == "O":
            value = int(label) if _INT.match(label) else label
        else:
            raise ValueError(f"y has dtype {y.dtype}; apply_labels fills integer, float, "
                             "string or object targets")
        values.append(value)
    if kind == "U":
        y = y.astype(np.promote_types(y.dtype, np.array(values).dtype))
    indices = [index for _, index, _ in rows]
    try:
        y[indices] = values
    except OverflowError as exc:
        raise ValueError(f"{path}: a label does not fit y's dtype {y.dtype}: {exc}") from None
    return y
