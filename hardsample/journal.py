"""AnnotationJournal: labels persisted the moment they are paid for.

A labeling tool can be slow (minutes per sample for a finite element solver); a run
that crashes, is killed or is simply rerun should never pay for the same label
twice. The journal is a small SQLite file that maps a hash of each sample (its
bytes, shape and dtype) to the label the tool returned for it, together with a
*run signature* that identifies the tool and its settings: a journal written by
another tool, or by the same tool with other settings, is refused rather than
mixed.
"""

import hashlib
import io
import os
import sqlite3
import time

import numpy as np

#: Version of the journal's table layout (stored in the meta table).
SCHEMA_VERSION = "1"


def sample_key(x):
    """Hash of one sample: its bytes, shape and dtype (hex SHA-256).

    Two samples get the same key exactly when they hold the same values in the same
    shape and dtype; a float32 sample and its float64 copy get different keys.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.journal import sample_key
    >>> sample_key(np.zeros(3)) == sample_key(np.zeros(3))
    True
    >>> sample_key(np.zeros(3)) == sample_key(np.zeros(3, dtype=np.float32))
    False
    """
    x = np.ascontiguousarray(x)
    digest = hashlib.sha256()
    digest.update(repr(tuple(x.shape)).encode())
    digest.update(x.dtype.str.encode())
    if x.dtype.hasobject:
        digest.update(repr(x.tolist()).encode())
    else:
        digest.update(x.tobytes())
    return digest.hexdigest()


def _dump_label(label):
    """Label -> bytes (``.npy`` format, no pickle), or None if it cannot be stored."""
    try:
        array = np.asarray(label)
        if array.dtype.hasobject:
            return None
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    except (TypeError, ValueError):
        return None


def _load_label(blob):
    array = np.load(io.BytesIO(blob), allow_pickle=False)
    return array[()] if array.ndim == 0 else array


class AnnotationJournal:
    """A persistent store of paid-for labels, keyed by a hash of each sample.

    Every write is committed at once (SQLite in WAL mode with
    ``synchronous=FULL``), so labels survive a crash of the process that paid for
    them. Failed labelings may be recorded too, with their error; they are never
    returned as labels.

    Parameters
    ----------
    path : str or path-like
        The SQLite file (created if missing).
    signature : str or None, default=None
        What produced the labels (the tool and its settings). The first signature
        given is stored in the journal; opening it later with another signature
        raises a ValueError. None accepts whatever signature the journal holds
        (read it from ``signature_``) and leaves a new journal unsigned until
        :meth:`check_signature` is called.

    Attributes
    ----------
    signature_ : str or None
        The signature stored in the journal.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from hardsample.journal import AnnotationJournal
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.sqlite")
    >>> with AnnotationJournal(path, signature="my_solver(mesh=0.1)") as journal:
    ...     n_stored = journal.put_many([(np.ones(2), 3.5)])
    ...     journal.get_many([np.ones(2), np.zeros(2)])
    {0: np.float64(3.5)}
    >>> AnnotationJournal(path, signature="other_solver()")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: The journal ... was written by 'my_solver(mesh=0.1)', not 'other_solver()'; ...
    """

    def __init__(self, path, signature=None):
        self.path = os.fspath(path)
        self._connection = None
        self.signature_ = None
        self._open()
        if signature is not None:
            self.check_signature(signature)

    # ----------------------------------------------------------------- plumbing
    def _open(self):
        try:
            connection = sqlite3.connect(self.path, timeout=30.0)
        except sqlite3.Error as exc:
            raise ValueError(f"Cannot open the journal {self.path!r}: {exc}") from exc
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            with connection:
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS labels (sample_key TEXT PRIMARY KEY, "
                    "label BLOB, error TEXT, created REAL)"
                )
                connection.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
            row = connection.execute("SELECT value FROM meta WHERE key='signature'").fetchone()
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise ValueError(
                f"{self.path!r} is not an annotation journal (SQLite said: {exc})."
            ) from exc
        self._connection = connection
        self.signature_ = None if row is None else row[0]

    @property
    def _db(self):
        if self._connection is None:
            raise ValueError(f"The journal {self.path!r} is closed.")
        return self._connection

    def close(self):
        """Close the SQLite connection (reopen with a new journal object)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __getstate__(self):
        # Connections cannot cross processes: a copy reopens the same file.
        state = self.__dict__.copy()
        state["_connection"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._open()

    def __repr__(self):
        return f"AnnotationJournal({self.path!r}, signature={self.signature_!r})"

    # ------------------------------------------------------------------ signature
    def check_signature(self, signature):
        """Sign a new journal, or check that ``signature`` is the stored one.

        Raises
        ------
        ValueError
            If the journal was written with another signature.
        """
        if not isinstance(signature, str) or not signature:
            raise TypeError(f"signature must be a non-empty str, got {signature!r}.")
        if self.signature_ is None:
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('signature', ?)",
                                 (signature,))
            row = self._db.execute("SELECT value FROM meta WHERE key='signature'").fetchone()
            self.signature_ = row[0]
        if self.signature_ != signature:
            raise ValueError(
                f"The journal {self.path!r} was written by {self.signature_!r}, not "
                f"{signature!r}; its labels would not match this tool. Use another journal "
                "file, or the same journal_key as the run that wrote it."
            )
        return self

    # ---------------------------------------------------------------- read/write
    @staticmethod
    def _keys(samples, keys):
        if keys is not None:
            return list(keys)
        return [sample_key(x) for x in samples]

    def get_many(self, samples, keys=None):
        """Stored labels of ``samples``: a dict ``{position: label}``.

        Samples never labeled, or whose recorded labeling failed, are left out.
        ``keys`` (from :func:`sample_key`) may be given instead of recomputing them.
        """
        keys = self._keys(samples, keys)
        found = {}
        unique = list(dict.fromkeys(keys))
        stored = {}
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            rows = self._db.execute(
                f"SELECT sample_key, label FROM labels WHERE label IS NOT NULL AND sample_key IN "
                f"({','.join('?' * len(part))})", part,
            ).fetchall()
            stored.update(rows)
        for pos, key in enumerate(keys):
            if key in stored:
                found[pos] = _load_label(stored[key])
        return found

    def put_many(self, items, keys=None):
        """Store ``(sample, label)`` pairs in one transaction, committed on return.

        Labels that cannot be stored without pickling (object arrays) are skipped.

        Returns
        -------
        n_stored : int
        """
        items = list(items)
        keys = self._keys([x for x, _ in items], keys)
        rows = []
        now = time.time()
        for key, (_, label) in zip(keys, items):
            blob = _dump_label(label)
            if blob is not None:
                rows.append((key, blob, None, now))
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO labels (sample_key, label, error, created) "
                "VALUES (?, ?, ?, ?)", rows,
            )
        return len(rows)

    def put_failures(self, items, keys=None):
        """Record ``(sample, error)`` pairs of failed labelings (never read as labels).

        A sample already holding a label keeps it.
        """
        items = list(items)
        keys = self._keys([x for x, _ in items], keys)
        now = time.time()
        with self._db:
            self._db.executemany(
                "INSERT INTO labels (sample_key, label, error, created) VALUES (?, NULL, ?, ?) "
                "ON CONFLICT(sample_key) DO UPDATE SET error=excluded.error, "
                "created=excluded.created WHERE labels.label IS NULL",
                [(key, str(error), now) for key, (_, error) in zip(keys, items)],
            )

    def failures(self):
        """Recorded failures: a dict ``{sample_key: error}``."""
        return dict(self._db.execute(
            "SELECT sample_key, error FROM labels WHERE label IS NULL").fetchall())

    def __len__(self):
        """Number of stored labels (failures excluded)."""
        return self._db.execute("SELECT COUNT(*) FROM labels WHERE label IS NOT NULL").fetchone()[0]

    @property
    def n_failed(self):
        """Number of recorded failed labelings."""
        return self._db.execute("SELECT COUNT(*) FROM labels WHERE label IS NULL").fetchone()[0]


__all__ = ["AnnotationJournal", "sample_key"]
