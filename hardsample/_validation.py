"""Input validation shared by the estimators, generators and samplers."""

import hashlib
import numbers

import numpy as np
from sklearn.utils import check_array


def check_samples(X, *, name="X", ensure_min_samples=1):
    """Validate an array of samples of any shape and return it as float32.

    Images ``(n, h, w)`` or ``(n, c, h, w)`` and flat features ``(n, d)`` are all
    accepted; NaN or infinite values, object or string data and empty arrays are
    rejected with a ``ValueError`` (or ``TypeError``) that names ``name``.
    """
    if X is None:
        raise ValueError(f"{name} is None; expected an array of samples.")
    if hasattr(X, "dtype") and getattr(X.dtype, "kind", None) in ("U", "S"):
        raise TypeError(f"{name} holds strings; expected numbers.")
    try:
        X = check_array(
            X,
            dtype=np.float32,
            allow_nd=True,
            ensure_all_finite=True,
            ensure_min_samples=ensure_min_samples,
            input_name=name,
        )
    except (TypeError, ValueError) as exc:
        # np.asarray raises a bare TypeError / ValueError for ragged or object input.
        raise type(exc)(f"Invalid {name}: {exc}") from exc
    if X.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (n_samples, ...), got {X.ndim}.")
    if 0 in X.shape[1:]:
        # check_array only checks the feature count of 2-D input.
        raise ValueError(
            f"{name} has samples of shape {X.shape[1:]}, which hold no values; each sample "
            "needs at least one feature."
        )
    return np.ascontiguousarray(X)


def fingerprint(*arrays):
    """A digest of the arrays' shapes, dtypes and bytes, to detect a changed pool."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(repr((array.shape, array.dtype.str)).encode())
        if array.dtype == object:
            digest.update(repr(array.tolist()).encode())
        else:
            digest.update(array.view(np.uint8).reshape(-1).data)
    return digest.hexdigest()


def resolve_size(size, n_pool, name):
    """Turn an int (absolute) or float in (0, 1) (fraction of the pool) into a count."""
    if isinstance(size, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int or a float in (0, 1), got {size!r}.")
    if isinstance(size, numbers.Integral):
        count = int(size)
    elif isinstance(size, numbers.Real):
        if not 0.0 < size < 1.0:
            raise ValueError(f"{name}={size!r} as a float must be a fraction in (0, 1).")
        count = int(np.floor(size * n_pool))
    else:
        raise TypeError(f"{name} must be an int or a float in (0, 1), got {type(size).__name__}.")
    if count < 1:
        raise ValueError(
            f"{name}={size!r} gives {count} samples for a pool of {n_pool} "
            f"sample{'s' if n_pool != 1 else ''}; it must be at least 1."
        )
    return count


def check_int(value, name, *, min_value=1):
    """``value`` as an int >= ``min_value``, or a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < min_value:
        raise ValueError(f"{name} must be an int >= {min_value}, got {value!r}.")
    return int(value)
