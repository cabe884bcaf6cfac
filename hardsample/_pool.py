"""Pool: the samples to mine from, in memory, in a NumPy memmap on disk, or in a dask array.

A :class:`Pool` gives the estimator and the samplers one way to read samples,
whatever holds them:

- an in-memory ndarray (or array-like) without ``transform`` is validated and
  converted once, exactly as :func:`hardsample._validation.check_samples` does
  (float32, C-contiguous, finite): the behaviour of an ndarray ``X`` is unchanged;
- a :class:`numpy.memmap`, a dask array, or any ndarray given with a ``transform``
  stays as it is (e.g. compact uint8 on disk) and is read lazily: rows are read,
  passed through ``transform`` and validated (float32, finite, the pool's sample
  shape) batch by batch, when they are taken or streamed.

Only the samples being encoded, judged, trained on or labeled are ever in memory
as float32, plus whatever the caller keeps (the latent codes).
"""

import hashlib
import sys
import uuid
from dataclasses import dataclass

import numpy as np

from ._validation import check_int, check_samples, fingerprint as _full_fingerprint

#: Rows read after ``transform`` by :meth:`Pool.fingerprint` of a lazy pool (evenly spaced,
#: first and last included): they tell a changed transform from changed stored rows.
FINGERPRINT_ROWS = 64
#: Bytes of stored rows per leaf of a lazy pool's content hash (whole rows, from row 0).
HASH_LEAF_BYTES = 1 << 22
#: Default rows per batch of :meth:`Pool.iter_batches` and :meth:`Pool.encode`.
BATCH_SIZE = 8192


def _is_dask_array(X):
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks") \
        and hasattr(X, "compute")


def _active_client():
    """The current ``dask.distributed`` client, or None (distributed is never imported here)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def _convert(raw, transform, sample_shape, name, rows):
    """``raw`` rows -> float32 C-contiguous samples, checked; ``rows`` names them in errors."""
    if transform is not None:
        out = transform(raw)
        out = np.asarray(out)
        where = f"transform returned for {name}{rows}"
        if out.ndim < 1 or len(out) != len(raw):
            raise ValueError(f"The {where} an array of shape {out.shape}; expected "
                             f"{len(raw)} samples (one per row).")
        if out.dtype.kind not in "biuf":
            raise TypeError(f"The {where} an array of dtype {out.dtype}; expected numbers.")
    else:
        out, where = np.asarray(raw), f"{name}{rows} holds"
    if sample_shape is not None and tuple(out.shape[1:]) != tuple(sample_shape):
        raise ValueError(f"The {where} samples of shape {tuple(out.shape[1:])}; expected "
                         f"{tuple(sample_shape)} (the shape of the pool's first sample).")
    out = np.ascontiguousarray(out, dtype=np.float32)
    if not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out.reshape(len(out), -1)).all(1))[0])
        source = (f"The transform returned NaN or infinite values for {name}{rows}"
                  if transform is not None else f"{name}{rows} holds NaN or infinite values")
        raise ValueError(f"{source} (first at position {bad} of those rows); the pool must "
                         "hold finite numbers.")
    return out


def _encode_block(block, generator, transform, sample_shape, latent_dim):
    """map_blocks body (runs on a dask worker): raw block -> latent codes."""
    X = _convert(block, transform, sample_shape, "X", " (a dask block)")
    codes = _check_codes(generator.transform(X), len(X), latent_dim)
    return codes


def _check_codes(codes, n, latent_dim=None):
    codes = np.ascontiguousarray(np.asarray(codes), dtype=np.float32)
    if codes.ndim != 2 or len(codes) != n or codes.shape[1] == 0 \
            or (latent_dim is not None and codes.shape[1] != latent_dim):
        expected = "latent_dim >= 1" if latent_dim is None else f"latent_dim={latent_dim}"
        raise ValueError(f"The generator's transform returned shape {codes.shape}; expected "
                         f"({n}, latent_dim) with {expected}.")
    if not np.isfinite(codes).all():
        raise ValueError("The generator produced NaN or infinite latent codes for the pool; "
                         "check its training (learning rate, input scaling).")
    return codes


@dataclass(frozen=True)
class PoolFingerprint:
    """What :meth:`Pool.fingerprint` records of a pool, to tell whether it changed.

    Attributes
    ----------
    shape : tuple of int
        Shape of the stored array (before ``transform``).
    dtype : str
        Its dtype.
    content : str
        Hex digest of every stored value in row order (see :meth:`Pool.fingerprint`).
    transformed : str or None
        Lazy pools: hex digest of :data:`FINGERPRINT_ROWS` rows after ``transform``.
    """

    shape: tuple
    dtype: str
    content: str
    transformed: object = None

    def change_from(self, before, name="X"):
        """How the pool differs from ``before`` (a sentence), or None if it does not.

        Parameters
        ----------
        before : PoolFingerprint
        name : str, default="X"

        Returns
        -------
        change : str or None
        """
        if self == before:
            return None
        if not isinstance(before, PoolFingerprint):
            return (f"the first call recorded {name} with an older version of hardsample, "
                    "whose fingerprint cannot be compared")
        if (self.shape, self.dtype) != (before.shape, before.dtype):
            return (f"{name} holds {_describe(self.shape, self.dtype)} now, "
                    f"{_describe(before.shape, before.dtype)} at the first call")
        if self.content != before.content:
            return (f"{name} holds other values, or the same rows in another order: its "
                    f"content hash differs (same {_describe(self.shape, self.dtype)})")
        return (f"{name}'s transform gives other samples from the same stored rows (a "
                "different transform)")


def _describe(shape, dtype):
    rows = "row" if shape[0] == 1 else "rows"
    return f"{shape[0]:,} {rows} of shape {tuple(shape[1:])} stored as {dtype}"


def _leaf_rows(shape, dtype):
    """Rows per leaf of the content hash: about HASH_LEAF_BYTES, at least one row."""
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
    return max(1, HASH_LEAF_BYTES // max(1, row_bytes))


def _leaf_digest(rows):
    return hashlib.blake2b(np.ascontiguousarray(rows).view(np.uint8).reshape(-1).data,
                           digest_size=16).digest()


class _ContentHash:
    """Digest of stored rows fed in order, in any batches.

    Rows are cut into leaves of :func:`_leaf_rows` rows counted from row 0, each leaf
    hashed with blake2b, and the leaf digests hashed in order with the shape and
    dtype: batch boundaries do not matter, row order does, and dask workers can hash
    leaves in parallel (:func:`_dask_leaf_digests`) to the same result.
    """

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(int(n) for n in shape), np.dtype(dtype)
        self.leaf_rows = _leaf_rows(self.shape, self.dtype)
        self.leaves = []
        self._pending = []
        self._n_pending = 0
        self.next_row = 0

    def update(self, start, raw):
        if start != self.next_row:
            raise RuntimeError(f"rows must be hashed in order: got row {start}, expected "
                               f"{self.next_row}")
        raw = np.ascontiguousarray(raw)
        self.next_row += len(raw)
        while len(raw):
            take = min(len(raw), self.leaf_rows - self._n_pending)
            self._pending.append(raw[:take])
            self._n_pending += take
            raw = raw[take:]
            if self._n_pending == self.leaf_rows:
                self._close_leaf()

    def _close_leaf(self):
        rows = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self.leaves.append(_leaf_digest(rows))
        self._pending, self._n_pending = [], 0

    def hexdigest(self):
        if self.next_row != self.shape[0]:
            raise RuntimeError(f"hashed {self.next_row} of {self.shape[0]} rows")
        if self._n_pending:
            self._close_leaf()
        return _combine(self.shape, self.dtype, self.leaves)


def _combine(shape, dtype, leaves):
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((tuple(shape), np.dtype(dtype).str)).encode())
    for leaf in leaves:
        digest.update(leaf)
    return digest.hexdigest()


def _dask_leaf_digests(X, leaf_rows):
    """A dask array of the leaf digests of ``X`` (one uint8 row of 16 per leaf)."""
    X = X.rechunk({0: leaf_rows, **{axis: -1 for axis in range(1, X.ndim)}})
    return X.map_blocks(
        _leaf_block, dtype=np.uint8, chunks=((1,) * len(X.chunks[0]), (16,)),
        drop_axis=list(range(2, X.ndim)) if X.ndim > 2 else None,
        meta=np.empty((0, 16), dtype=np.uint8),
    )


def _leaf_block(block):
    return np.frombuffer(_leaf_digest(block), dtype=np.uint8).reshape(1, 16)


class Pool:
    """A pool of samples read in batches, from memory, a memmap or a dask array.

    Parameters
    ----------
    X : array-like, numpy.memmap or dask.array.Array of shape (n_samples, ...)
        The samples. An in-memory array without ``transform`` is converted to
        float32 at once (as :func:`~hardsample._validation.check_samples` does); a
        memmap, a dask array (with known chunk sizes) or an array given with
        ``transform`` is read lazily, in its own dtype (numbers only).
    transform : callable or None, default=None
        Applied to each raw batch of rows (an ndarray of shape ``(n, ...)`` in
        ``X``'s dtype) before use, e.g. ``lambda b: b.astype("float32") / 255``. It
        must map ``n`` rows to ``n`` finite samples, row by row (a row's output may
        not depend on the other rows of its batch). Dask workers receive it pickled
        (cloudpickle: lambdas are fine).
    name : str, default="X"
        Names the array in error messages.

    Attributes
    ----------
    lazy : bool
        Whether rows are read and converted on demand.
    sample_shape : tuple of int
        Shape of one sample as the net and the generator see it (after ``transform``).
    shape : tuple of int
        ``(len(pool), *sample_shape)``.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample._pool import Pool
    >>> raw = np.arange(24, dtype=np.uint8).reshape(6, 2, 2)
    >>> pool = Pool(raw, transform=lambda b: b / 255.0)
    >>> len(pool), pool.sample_shape, pool.lazy
    (6, (2, 2), True)
    >>> pool.take([5, 0]).dtype, float(pool.take([5])[0, 1, 1] * 255)
    (dtype('float32'), 23.0)
    >>> [start for start, batch in pool.iter_batches(4)]
    [0, 4]
    """

    def __init__(self, X, transform=None, *, name="X"):
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {type(transform).__name__}.")
        self.transform = transform
        self.name = name
        if _is_dask_array(X):
            self.kind = "dask"
        elif isinstance(X, np.memmap):
            self.kind = "memmap"
        elif transform is not None:
            self.kind = "ndarray"
            if not isinstance(X, np.ndarray):
                X = np.asarray(X)
        else:
            self.kind = "ndarray"
            self.lazy = False
            self._data = check_samples(X, name=name)
            self.sample_shape = tuple(self._data.shape[1:])
            return
        self.lazy = True
        self._data = X
        self._check_lazy()
        # The first row fixes the sample shape (after transform) and checks transform.
        self.sample_shape = None
        self.sample_shape = tuple(self._read(0, 1).shape[1:])
        if 0 in self.sample_shape or len(self.sample_shape) == 0:
            raise ValueError(f"{name} after transform has samples of shape "
                             f"{self.sample_shape}; each sample needs at least one value.")

    def _check_lazy(self):
        X, name = self._data, self.name
        what = {"dask": "a dask array", "memmap": "a memmap", "ndarray": "an array"}[self.kind]
        dtype = np.dtype(X.dtype)
        if dtype.kind not in "biuf":
            raise TypeError(f"{name} is {what} of dtype {dtype}; expected numbers (e.g. uint8 "
                            "or float32).")
        if X.ndim < 2:
            raise ValueError(f"{name} is {what} of shape {tuple(X.shape)}; it must have at "
                             "least 2 dimensions (n_samples, ...).")
        if self.kind == "dask" and any(np.isnan(c) for axis in X.chunks for c in axis):
            raise ValueError(f"{name} is a dask array with unknown chunk sizes {X.chunks}; "
                             "call X.compute_chunk_sizes() first (the pool's length and "
                             "batches must be known).")
        if X.shape[0] < 1:
            raise ValueError(f"{name} is {what} of shape {tuple(X.shape)} with no samples.")
        if self.transform is None and 0 in X.shape[1:]:
            raise ValueError(f"{name} has samples of shape {tuple(X.shape[1:])}, which hold "
                             "no values; each sample needs at least one feature.")

    # ------------------------------------------------------------------ shape
    def __len__(self):
        return int(self._data.shape[0])

    @property
    def shape(self):
        return (len(self),) + tuple(self.sample_shape)

    @property
    def ndim(self):
        return 1 + len(self.sample_shape)

    @property
    def samples(self):
        """What to index rows from: the float32 ndarray of an in-memory pool, else self.

        Hand this to the samplers (``MiningState.X_pool``): an ndarray pool then
        behaves exactly as an ndarray ``X`` did, and a lazy pool answers the same
        row indexing (``samples[indices]``, ``samples[a:b]``) with float32 arrays.
        """
        return self if self.lazy else self._data

    @property
    def dtype(self):
        """The dtype samples are returned in: always float32."""
        return np.dtype(np.float32)

    def __repr__(self):
        return (f"Pool({self.kind}, n={len(self)}, sample_shape={self.sample_shape}, "
                f"stored as {np.dtype(self._data.dtype)}"
                + (", transform" if self.transform is not None else "") + ")")

    # ---------------------------------------------------------------- reading
    def _raw(self, start, stop):
        raw = self._data[start:stop]
        return raw.compute() if self.kind == "dask" else raw

    def _read(self, start, stop, hasher=None):
        raw = self._raw(start, stop)
        if hasher is not None:
            hasher.update(start, raw)
        return _convert(raw, self.transform, self.sample_shape, self.name,
                        f"[{start}:{stop}]")

    def take(self, indices):
        """The samples at ``indices`` (in that order), as float32.

        Parameters
        ----------
        indices : array-like of int of shape (n,)
            Row positions (negative ones count from the end, as in NumPy).

        Returns
        -------
        X : ndarray of shape (n, ...), float32, C-contiguous
            ``transform`` applied, checked finite. Lazy pools read the rows in
            ascending order (sequential on disk) and reorder them.
        """
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu" and not (indices.size == 0):
            raise TypeError(f"indices must be integers, got dtype {indices.dtype}.")
        indices = indices.astype(np.int64).reshape(-1)
        n = len(self)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(f"indices out of range for a pool of {n} samples.")
        indices = np.where(indices < 0, indices + n, indices)
        if not self.lazy:
            return self._data[indices]
        if indices.size == 0:
            return np.empty((0, *self.sample_shape), dtype=np.float32)
        unique, inverse = np.unique(indices, return_inverse=True)
        raw = self._data[unique]
        if self.kind == "dask":
            raw = raw.compute()
        X = _convert(raw, self.transform, self.sample_shape, self.name, " (taken rows)")
        return X[inverse.reshape(-1)]

    def __getitem__(self, key):
        """NumPy-style row selection returning float32 ndarrays.

        An int gives one sample, a slice or an integer array the rows (a tuple indexes
        the rows first, then within the samples).
        """
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)):
            return self.take([key])[0][rest]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1 and self.lazy:
                out = self._read(start, max(start, stop))
            else:
                out = self.take(np.arange(start, stop, step))
        else:
            key = np.asarray(key)
            if key.dtype == bool:
                if key.shape != (len(self),):
                    raise IndexError(f"A boolean mask must have shape ({len(self)},), "
                                     f"got {key.shape}.")
                key = np.flatnonzero(key)
            out = self.take(key)
        return out[(slice(None),) + rest] if rest else out

    def __array__(self, dtype=None, copy=None):
        """The whole pool in memory (float32): avoid for pools larger than memory."""
        X = self._data if not self.lazy else self.take(np.arange(len(self)))
        return X if dtype is None else X.astype(dtype, copy=False)

    def iter_batches(self, batch_size=BATCH_SIZE):
        """Yield ``(start, batch)`` over the pool in order, ``batch`` float32.

        Parameters
        ----------
        batch_size : int, default=8192

        Yields
        ------
        start : int
            Position of the batch's first row.
        batch : ndarray of shape (at most batch_size, ...), float32
        """
        return self._batches(batch_size)

    def _batches(self, batch_size=BATCH_SIZE, hasher=None):
        batch_size = check_int(batch_size, "batch_size")
        for start in range(0, len(self), batch_size):
            stop = min(len(self), start + batch_size)
            yield start, (self._data[start:stop] if not self.lazy
                          else self._read(start, stop, hasher))

    def validate(self, batch_size=BATCH_SIZE):
        """Read the whole pool once, batch by batch, and raise on the first bad batch.

        :meth:`encode` does this as it goes; call it when the pool is not encoded
        (samplers without a latent space) to fail before any label is paid for. The
        pool's content hash is computed on the way (see :meth:`fingerprint`).

        Returns
        -------
        self
        """
        hasher = self._hasher()
        for _ in self._batches(batch_size, hasher):
            pass
        self._record_pass(hasher)
        return self

    # ------------------------------------------------------------ fingerprint
    def fingerprint(self, *, reuse_last_pass=False):
        """What the pool holds, to tell that it changed between calls.

        - in-memory pool: :func:`hardsample._validation.fingerprint` of the whole
          float32 array (every value counts);
        - lazy pool: a content hash of every stored row, in order (blake2b over
          leaves of about :data:`HASH_LEAF_BYTES` bytes of rows, then over the leaf
          digests with the stored shape and dtype), plus a digest of
          :data:`FINGERPRINT_ROWS` evenly spaced rows after ``transform`` (which
          tells a changed transform). A reordered, truncated or rewritten pool
          gives another fingerprint. :meth:`encode` and :meth:`validate` compute it
          while they read every row anyway; otherwise it costs one pass over the
          stored bytes (no ``transform``): about 0.05 s for a 60,000 x 784 uint8
          memmap in the page cache, plus the disk read when it is not (see
          ``tests/test_pool.py``). A dask pool with an active ``dask.distributed``
          client is hashed on the workers.

        Parameters
        ----------
        reuse_last_pass : bool, default=False
            Return the fingerprint computed by the last :meth:`encode` or
            :meth:`validate` of this pool, if any, instead of reading it again.
            Only right when nothing can have changed the rows since then.

        Returns
        -------
        fingerprint : PoolFingerprint
            Compare with ``==``; :meth:`PoolFingerprint.change_from` says what changed.
        """
        if not self.lazy:
            return PoolFingerprint(tuple(self._data.shape), self._data.dtype.str,
                                   _full_fingerprint(self._data))
        if reuse_last_pass and getattr(self, "_last_pass", None) is not None:
            return self._last_pass
        client = _active_client() if self.kind == "dask" else None
        if client is not None:
            content = self._distributed_content(client.compute(
                _dask_leaf_digests(self._data, self._hasher().leaf_rows)).result())
        else:
            hasher = self._hasher()
            for start in range(0, len(self), BATCH_SIZE):
                hasher.update(start, self._raw(start, min(len(self), start + BATCH_SIZE)))
            content = hasher.hexdigest()
        return self._fingerprint_of(content)

    def _hasher(self):
        return _ContentHash(self._data.shape, self._data.dtype)

    def _distributed_content(self, leaves):
        return _combine(self._data.shape, self._data.dtype,
                        [bytes(row) for row in np.asarray(leaves, dtype=np.uint8)])

    def _fingerprint_of(self, content):
        n = len(self)
        rows = np.unique(np.linspace(0, n - 1, min(n, FINGERPRINT_ROWS)).round().astype(np.int64))
        digest = hashlib.blake2b(digest_size=16)
        digest.update(repr(self.sample_shape).encode())
        digest.update(self.take(rows).reshape(-1).view(np.uint8).data)
        return PoolFingerprint(tuple(int(d) for d in self._data.shape),
                               np.dtype(self._data.dtype).str, content, digest.hexdigest())

    def _record_pass(self, hasher):
        self._last_pass = self._fingerprint_of(hasher.hexdigest())

    # --------------------------------------------------------------- encoding
    def encode(self, generator, batch_size=BATCH_SIZE):
        """Latent codes of every sample: ``generator.transform`` streamed over batches.

        Only the codes (``n_samples x latent_dim`` float32) and one batch are in
        memory. A lazy pool's content hash (:meth:`fingerprint`) is computed on the
        way. An in-memory pool is encoded by one ``generator.transform`` call
        (which batches internally), as before. A dask pool with an active
        ``dask.distributed`` client is encoded on the workers: ``map_blocks`` over
        the row blocks (other axes in one chunk), the generator and ``transform``
        shipped once as one task of the graph, the codes gathered to this process.

        Parameters
        ----------
        generator : fitted generator
            Anything with ``transform(X) -> (n, latent_dim)``.
        batch_size : int, default=8192
            Rows per ``generator.transform`` call (not for dask with a client, which
            uses the array's row chunks).

        Returns
        -------
        codes : ndarray of shape (n_samples, latent_dim), float32, finite
        """
        if not self.lazy:
            return _check_codes(generator.transform(self._data), len(self))
        if self.kind == "dask":
            client = _active_client()
            if client is not None:
                return self._encode_distributed(generator, client)
        codes = None
        hasher = self._hasher()
        for start, batch in self._batches(batch_size, hasher):
            z = _check_codes(generator.transform(batch), len(batch),
                             None if codes is None else codes.shape[1])
            if codes is None:
                codes = np.empty((len(self), z.shape[1]), dtype=np.float32)
            codes[start:start + len(z)] = z
        self._record_pass(hasher)
        return codes

    def _encode_distributed(self, generator, client):
        import dask
        import dask.array as da  # noqa: F401  (map_blocks below is dask.array's)

        latent_dim = _check_codes(generator.transform(self.take([0])), 1).shape[1]
        X = self._data.rechunk({axis: -1 for axis in range(1, self._data.ndim)})
        # One task holds the generator and transform: each worker fetches it once.
        shipped = dask.delayed((generator, self.transform),
                               name=f"hardsample-generator-{uuid.uuid4().hex}")
        codes = X.map_blocks(
            _encode_shipped, shipped, self.sample_shape, latent_dim,
            dtype=np.float32, chunks=(X.chunks[0], (latent_dim,)),
            drop_axis=list(range(2, X.ndim)) if X.ndim > 2 else None,
            meta=np.empty((0, latent_dim), dtype=np.float32),
        )
        # The content hash's leaves are computed in the same graph, on the workers.
        leaves = _dask_leaf_digests(self._data, self._hasher().leaf_rows)
        codes, leaves = client.compute([codes, leaves], sync=True)
        self._last_pass = self._fingerprint_of(self._distributed_content(leaves))
        return np.ascontiguousarray(codes, dtype=np.float32)


def _encode_shipped(block, shipped, sample_shape, latent_dim):
    generator, transform = shipped
    return _encode_block(block, generator, transform, sample_shape, latent_dim)


def as_pool(X, transform=None, *, name="X"):
    """``X`` as a :class:`Pool` (returned as is when it already is one).

    Parameters
    ----------
    X : array-like, numpy.memmap, dask.array.Array or Pool
    transform : callable or None, default=None
        See :class:`Pool`; must be None when ``X`` is already a Pool.
    name : str, default="X"

    Returns
    -------
    pool : Pool

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample._pool import as_pool
    >>> pool = as_pool(np.eye(3))
    >>> pool.lazy, pool.take([2]).tolist()
    (False, [[0.0, 0.0, 1.0]])
    """
    if isinstance(X, Pool):
        if transform is not None:
            raise ValueError(f"{name} is already a Pool: give the transform to the Pool.")
        return X
    return Pool(X, transform, name=name)
