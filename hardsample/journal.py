"""AnnotationJournal: labels stored the moment they are paid for, and checked when read.

A labeling tool can be slow (minutes per sample for a finite element solver); a run
that crashes, is killed or is simply rerun should never pay for the same label
twice. The journal is a small SQLite file that maps a hash of each sample (its
bytes, shape and dtype) to the label the tool returned for it, together with a
*run signature* that identifies the tool and its settings: a journal written by
another tool, or by the same tool with other settings, is refused rather than
mixed.

What the journal guarantees:

- every write is one short transaction, committed (``synchronous=FULL``) before
  the call returns;
- every label row carries a SHA-256 checksum of (sample key, label bytes,
  signature): a row edited by hand is refused when read (:class:`JournalError`);
- a *claim* table records which process (run id, pid, host, time) is paying for
  which sample, so that two processes sharing a journal do not pay twice;
- closing checkpoints the write-ahead log into the main file, so the file alone
  holds every label; a journal whose last writer did not close cleanly is refused
  when its ``-wal`` file is missing (a copy that lost labels), not opened empty;
- storage errors (locked, damaged, disk full, unreadable label) raise
  :class:`JournalError`, which names the file and what to do.
"""

import hashlib
import io
import os
import socket
import sqlite3
import time
import uuid

import numpy as np

#: Version of the journal's table layout (stored in the meta table).
SCHEMA_VERSION = "2"

#: Seconds after which a claim of another host (whose pid cannot be checked) is stale.
CLAIM_LEASE = 3600.0

_HOST = socket.gethostname()


class JournalError(ValueError):
    """The annotation journal cannot be read or written as it should.

    The message names the file and what to do. Raised while labeling, it carries
    the labels already paid for, so that none is lost.

    Attributes
    ----------
    path : str or None
        The journal file.
    unsaved : list of (str, object)
        ``(sample key, label)`` pairs paid for but not yet stored (the oracle keeps
        them too, and writes them at its next call).
    result : LabelingResult or None
        When raised by an oracle: the answers of the batch so far.

    Examples
    --------
    >>> from hardsample import JournalError
    >>> issubclass(JournalError, ValueError)
    True
    """

    def __init__(self, message, path=None, unsaved=None, result=None):
        super().__init__(message)
        self.path = path
        self.unsaved = list(unsaved or [])
        self.result = result


def sample_key(x):
    """Hash of one sample: its bytes, shape and dtype (hex SHA-256).

    Two samples get the same key exactly when they hold the same values in the same
    shape and dtype; a float32 sample and its float64 copy get different keys, and
    so do int32 and float32 zeros (same bytes, other dtype).

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.journal import sample_key
    >>> sample_key(np.zeros(3)) == sample_key(np.zeros(3))
    True
    >>> sample_key(np.zeros(3)) == sample_key(np.zeros(3, dtype=np.float32))
    False
    >>> sample_key(np.zeros(3, np.int32)) == sample_key(np.zeros(3, np.float32))
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


def row_checksum(key, blob, signature):
    """The checksum a label row carries: SHA-256 of (key, label bytes, signature)."""
    digest = hashlib.sha256()
    for part in (key.encode(), bytes(blob), (signature or "").encode()):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def dump_label(label):
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


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(pid, host, created, now):
    """A claim or open-marker whose process is gone (same host) or older than the lease."""
    if now - created > CLAIM_LEASE:
        return True
    return host == _HOST and not _pid_alive(int(pid))


class AnnotationJournal:
    """A persistent store of paid-for labels, keyed by a hash of each sample.

    Every write is committed at once (SQLite in WAL mode with
    ``synchronous=FULL``), so labels survive a crash of the process that paid for
    them. Failed labelings may be recorded too, with their error; they are never
    returned as labels. See the module docstring for what is guaranteed.

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
    timeout : float, default=10.0
        Seconds a write waits for another connection's lock before a
        :class:`JournalError`.
    trust_unclean : bool, default=False
        Open a journal whose last writer did not close cleanly even though its
        ``-wal`` file is missing. Only when the WAL was merged into the file by
        another program (e.g. the ``sqlite3`` shell); otherwise labels are missing.

    Attributes
    ----------
    signature_ : str or None
        The signature stored in the journal.
    run_id_ : str
        This connection's id in the claims it writes.

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
    hardsample.journal.JournalError: The journal ... was written by 'my_solver(mesh=0.1)', ...
    """

    def __init__(self, path, signature=None, timeout=10.0, trust_unclean=False):
        self.path = os.fspath(path)
        self.timeout = timeout
        self.trust_unclean = trust_unclean
        self._connection = None
        self.signature_ = None
        self.run_id_ = uuid.uuid4().hex
        self._open()
        if signature is not None:
            self.check_signature(signature)

    # ----------------------------------------------------------------- plumbing
    def _error(self, action, exc):
        """A JournalError naming the file, what failed and what to do."""
        text = str(exc)
        if "locked" in text or "busy" in text:
            advice = (f"another connection holds its write lock (waited {self.timeout:g} s); "
                      "close the other program or process using it, then rerun: the labels "
                      "paid for are kept and written at the next chance")
        elif "full" in text:
            advice = "the disk is full; free space, then rerun"
        elif isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                exc, sqlite3.OperationalError):
            advice = ("the file is damaged; restore it from a copy (with its -wal file) or "
                      "start a new journal file")
        else:
            advice = "check the file and its folder are writable"
        return JournalError(f"The journal {self.path!r}: {action} failed ({type(exc).__name__}: "
                            f"{text}): {advice}.", path=self.path)

    def _marker(self):
        return f"open:{_HOST}:{os.getpid()}:{self.run_id_}"

    def _open(self):
        had_wal = os.path.exists(self.path + "-wal")
        try:
            connection = sqlite3.connect(self.path, timeout=self.timeout,
                                         isolation_level=None)
        except sqlite3.Error as exc:
            raise JournalError(f"Cannot open the journal {self.path!r}: {exc}",
                               path=self.path) from exc
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            tables = {name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" in tables:
                self._check_existing(connection, had_wal)
            else:
                self._create(connection)
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               (self._marker(), str(time.time())))
            connection.execute("COMMIT")
            # The open marker must reach the main file: a copy of it made without
            # the -wal file then says that labels may be missing.
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = connection.execute("SELECT value FROM meta WHERE key='signature'").fetchone()
        except JournalError:
            connection.close()
            raise
        except sqlite3.DatabaseError as exc:
            connection.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise self._error("opening", exc) from exc
            raise JournalError(
                f"{self.path!r} is not an annotation journal (SQLite said: {exc}).",
                path=self.path) from exc
        self._connection = connection
        self.signature_ = None if row is None else row[0]

    @staticmethod
    def _create(connection):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS labels (sample_key TEXT PRIMARY KEY, label BLOB, "
            "error TEXT, created REAL, checksum TEXT)")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS claims (sample_key TEXT PRIMARY KEY, run_id TEXT, "
            "pid INTEGER, host TEXT, created REAL)")
        connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES "
                           "('schema_version', ?)", (SCHEMA_VERSION,))
        connection.execute("COMMIT")

    def _check_existing(self, connection, had_wal):
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        version = meta.get("schema_version")
        if version != SCHEMA_VERSION:
            raise JournalError(
                f"The journal {self.path!r} has schema version {version!r}; this hardsample "
                f"reads version {SCHEMA_VERSION!r}, whose rows carry checksums. Its labels "
                "cannot be checked: start a new journal file (keep the old one to read it "
                "with the hardsample version that wrote it).", path=self.path)
        unclean = [key for key in meta if key.startswith("open:")]
        if unclean and not had_wal and not self.trust_unclean:
            raise JournalError(
                f"The journal {self.path!r} was not closed cleanly (by {len(unclean)} "
                "connection(s)) and the -wal file is missing, so labels written since its "
                f"last checkpoint are not in it: copy the -wal file ({self.path}-wal) with "
                "the journal. If another program merged the WAL into the file (e.g. the "
                "sqlite3 shell), open it with trust_unclean=True.", path=self.path)

    @property
    def _db(self):
        if self._connection is None:
            raise JournalError(f"The journal {self.path!r} is closed.", path=self.path)
        return self._connection

    def _write(self, action, statements):
        """Run ``statements(db)`` in one IMMEDIATE transaction; JournalError on failure."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = statements(db)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(action, exc) from exc
        return out

    def _read(self, action, query, params=()):
        try:
            return self._db.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(action, exc) from exc

    def close(self):
        """Release this connection's claims, checkpoint the WAL into the file, close.

        After a clean close the file alone holds every label.
        """
        if self._connection is None:
            return
        connection, self._connection = self._connection, None
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("DELETE FROM claims WHERE run_id=?", (self.run_id_,))
            for (key,) in connection.execute(
                    "SELECT key FROM meta WHERE key LIKE 'open:%'").fetchall():
                _, host, pid, run_id = key.split(":", 3)
                if run_id == self.run_id_ or (host == _HOST and not _pid_alive(int(pid))):
                    connection.execute("DELETE FROM meta WHERE key=?", (key,))
            connection.execute("COMMIT")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # the marker stays: the next open knows the close was not clean
        finally:
            connection.close()

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
        self.run_id_ = uuid.uuid4().hex
        self._open()

    def __repr__(self):
        return f"AnnotationJournal({self.path!r}, signature={self.signature_!r})"

    # ------------------------------------------------------------------ signature
    def check_signature(self, signature):
        """Sign a new journal, or check that ``signature`` is the stored one.

        Signing a journal that already holds (unsigned) labels checks their
        checksums and re-signs them.

        Raises
        ------
        JournalError
            If the journal was written with another signature.
        """
        if not isinstance(signature, str) or not signature:
            raise TypeError(f"signature must be a non-empty str, got {signature!r}.")
        if self.signature_ is None:
            def sign(db):
                if db.execute("SELECT value FROM meta WHERE key='signature'").fetchone():
                    return
                rows = db.execute("SELECT rowid, sample_key, label, checksum FROM labels "
                                  "WHERE label IS NOT NULL").fetchall()
                for rowid, key, blob, checksum in rows:
                    self._verify(rowid, key, blob, checksum, None)
                    db.execute("UPDATE labels SET checksum=? WHERE rowid=?",
                               (row_checksum(key, blob, signature), rowid))
                db.execute("INSERT INTO meta (key, value) VALUES ('signature', ?)",
                           (signature,))

            self._write("signing", sign)
            self.signature_ = self._read(
                "reading the signature", "SELECT value FROM meta WHERE key='signature'")[0][0]
        if self.signature_ != signature:
            raise JournalError(
                f"The journal {self.path!r} was written by {self.signature_!r}, not "
                f"{signature!r}; its labels would not match this tool. Use another journal "
                "file, or the same journal_key as the run that wrote it.", path=self.path)
        return self

    # ---------------------------------------------------------------- read/write
    @staticmethod
    def _keys(samples, keys):
        if keys is not None:
            return list(keys)
        return [sample_key(x) for x in samples]

    def _verify(self, rowid, key, blob, checksum, signature):
        if checksum != row_checksum(key, blob, signature):
            raise JournalError(
                f"The journal {self.path!r}: row {rowid} (sample {key[:16]}...) does not match "
                "its checksum: the label was changed outside hardsample and is not trusted. "
                "Delete that row (or restore the file from a copy) to have it labeled again.",
                path=self.path)

    def _load(self, rowid, key, blob):
        try:
            array = np.load(io.BytesIO(blob), allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any unreadable blob
            raise JournalError(
                f"The journal {self.path!r}: the label in row {rowid} (sample {key[:16]}...) "
                f"cannot be read ({type(exc).__name__}); it was not written by hardsample. "
                "Delete that row to have it labeled again.", path=self.path) from None
        return array[()] if array.ndim == 0 else array

    def get_many(self, samples, keys=None):
        """Stored labels of ``samples``: a dict ``{position: label}``.

        Samples never labeled, or whose recorded labeling failed, are left out.
        ``keys`` (from :func:`sample_key`) may be given instead of recomputing them.

        Raises
        ------
        JournalError
            If a row does not match its checksum or its label cannot be read.
        """
        keys = self._keys(samples, keys)
        unique = list(dict.fromkeys(keys))
        stored = {}
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            rows = self._read(
                "reading labels",
                "SELECT rowid, sample_key, label, checksum FROM labels WHERE label IS NOT NULL "
                f"AND sample_key IN ({','.join('?' * len(part))})", part)
            for rowid, key, blob, checksum in rows:
                self._verify(rowid, key, blob, checksum, self.signature_)
                stored[key] = self._load(rowid, key, blob)
        return {pos: stored[key] for pos, key in enumerate(keys) if key in stored}

    def put_many(self, items, keys=None):
        """Store ``(sample, label)`` pairs in one transaction, committed on return.

        The claims of these samples are released in the same transaction. Labels
        that cannot be stored without pickling (object arrays) are skipped.

        Returns
        -------
        n_stored : int

        Raises
        ------
        JournalError
            If the write fails (nothing of it is stored).
        """
        items = list(items)
        keys = self._keys([x for x, _ in items], keys)
        return self.put_labels([(key, label) for key, (_, label) in zip(keys, items)])

    def put_labels(self, pairs):
        """Store ``(sample key, label)`` pairs in one transaction (see :meth:`put_many`)."""
        rows = []
        now = time.time()
        for key, label in pairs:
            blob = dump_label(label)
            if blob is not None:
                rows.append((key, blob, None, now, row_checksum(key, blob, self.signature_)))

        def write(db):
            db.executemany(
                "INSERT OR REPLACE INTO labels (sample_key, label, error, created, checksum) "
                "VALUES (?, ?, ?, ?, ?)", rows)
            db.executemany("DELETE FROM claims WHERE sample_key=?", [(r[0],) for r in rows])

        self._write("storing labels", write)
        return len(rows)

    def put_failures(self, items, keys=None):
        """Record ``(sample, error)`` pairs of failed labelings (never read as labels).

        A sample already holding a label keeps it. Their claims are released.
        """
        items = list(items)
        keys = self._keys([x for x, _ in items], keys)
        now = time.time()

        def write(db):
            db.executemany(
                "INSERT INTO labels (sample_key, label, error, created) VALUES (?, NULL, ?, ?) "
                "ON CONFLICT(sample_key) DO UPDATE SET error=excluded.error, "
                "created=excluded.created WHERE labels.label IS NULL",
                [(key, str(error), now) for key, (_, error) in zip(keys, items)])
            db.executemany("DELETE FROM claims WHERE sample_key=? AND run_id=?",
                           [(key, self.run_id_) for key in keys])

        self._write("recording failures", write)

    # -------------------------------------------------------------------- claims
    def claim(self, keys):
        """Claim samples before paying for them, in one transaction.

        Parameters
        ----------
        keys : list of str
            Sample keys (:func:`sample_key`).

        Returns
        -------
        claimed : set of str
            Keys now claimed by this connection (free, already its own, or taken
            over from a stale claim: its process is gone from this host, or it is
            older than :data:`CLAIM_LEASE` seconds).
        others : dict of str to str
            Keys claimed by another live process -> who (for messages). Keys that
            already hold a label are in neither.
        """
        keys = list(dict.fromkeys(keys))
        now = time.time()

        def take(db):
            claimed, others = set(), {}
            for key in keys:
                if db.execute("SELECT 1 FROM labels WHERE sample_key=? AND label IS NOT NULL",
                              (key,)).fetchone():
                    continue
                row = db.execute("SELECT run_id, pid, host, created FROM claims "
                                 "WHERE sample_key=?", (key,)).fetchone()
                if row is not None and row[0] != self.run_id_ \
                        and not _is_stale(row[1], row[2], row[3], now):
                    others[key] = f"pid {row[1]} on {row[2]}"
                    continue
                db.execute("INSERT OR REPLACE INTO claims (sample_key, run_id, pid, host, "
                           "created) VALUES (?, ?, ?, ?, ?)",
                           (key, self.run_id_, os.getpid(), _HOST, now))
                claimed.add(key)
            return claimed, others

        return self._write("claiming samples", take)

    def release(self, keys):
        """Drop this connection's claims of ``keys`` (samples not paid for after all)."""
        keys = list(keys)
        if keys:
            self._write("releasing claims", lambda db: db.executemany(
                "DELETE FROM claims WHERE sample_key=? AND run_id=?",
                [(key, self.run_id_) for key in keys]))

    def claims(self):
        """Current claims: a dict ``{sample_key: (run_id, pid, host, created)}``."""
        return {row[0]: tuple(row[1:]) for row in self._read(
            "reading claims", "SELECT sample_key, run_id, pid, host, created FROM claims")}

    def failures(self):
        """Recorded failures: a dict ``{sample_key: error}``."""
        return dict(self._read("reading failures",
                               "SELECT sample_key, error FROM labels WHERE label IS NULL"))

    def __len__(self):
        """Number of stored labels (failures excluded)."""
        return self._read("counting labels",
                          "SELECT COUNT(*) FROM labels WHERE label IS NOT NULL")[0][0]

    @property
    def n_failed(self):
        """Number of recorded failed labelings."""
        return self._read("counting failures",
                          "SELECT COUNT(*) FROM labels WHERE label IS NULL")[0][0]


__all__ = ["AnnotationJournal", "sample_key"]
