"""The labeling page's web app (Starlette): pending samples in, a labels file out.

Routes
------
``GET /``                 the page (``page.html``: inline CSS and JS, nothing loaded from outside)
``GET /api/batch``        the pending indices, the classes with their keys, labels already saved
``GET /sample/{i}.png``   a pending sample as an image (image pools)
``GET /sample/{i}.json``  a pending sample's values (tabular pools)
``POST /api/labels``      ``{"labels": {"<index>": <class> or null, ...}}``: validated, merged
                          into the labels file (``null`` removes a saved label)

Every request from a client that is not the loopback, or addressed to a host name that is
not the loopback's (a DNS-rebinding page), is refused with 403; a POST that is not
``application/json`` with 415 (a foreign page cannot send one without a CORS preflight,
which this app never grants).
"""

import ipaddress
import math
import string
import threading
from importlib import resources
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ._display import image_layout, sample_png, sample_values
from .labels_file import read_labels, write_labels

__all__ = ["make_app"]

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# Undo and save own "u" and "s"; the classes get the digits, then the other letters.
_KEYS = tuple(string.digits) + tuple(c for c in string.ascii_lowercase if c not in "su")


def shortcut_keys(n_classes):
    """The keyboard shortcut of each class: ``0``-``9``, then ``a``-``z`` without ``s`` and
    ``u`` (save and undo); classes beyond these 34 have a button but no key."""
    return [_KEYS[i] if i < len(_KEYS) else None for i in range(n_classes)]


def _refuse(status, message):
    return JSONResponse({"error": message}, status_code=status)


def _is_loopback(host):
    try:
        address = ipaddress.ip_address(host)
    except (TypeError, ValueError):
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _host_name(header):
    """The host name of a Host header, without its port ("[::1]:8765" -> "::1")."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class LoopbackOnlyMiddleware(BaseHTTPMiddleware):
    """Refuse (403) a client that is not the loopback, or a Host that is not loopback's."""

    async def dispatch(self, request, call_next):
        client = request.client.host if request.client else None
        if not _is_loopback(client):
            return _refuse(403, f"the labeling page answers the loopback only; this request "
                                f"came from {client!r}")
        host = _host_name(request.headers.get("host", ""))
        if host not in LOOPBACK_HOSTS:
            return _refuse(403, f"the labeling page answers requests to 127.0.0.1 only; "
                                f"this one was addressed to {host!r}")
        return await call_next(request)


def _check_classes(classes):
    values = np.asarray(classes).tolist() if not isinstance(classes, list) else list(classes)
    if isinstance(values, (int, float, str)) or len(values) == 0:
        raise ValueError(f"classes must be a non-empty 1-D list, got {classes!r}")
    natives = []
    for value in values:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"classes must be integers, numbers or strings, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"classes must be finite, got {value!r}")
        if isinstance(value, str) and not value.strip():
            raise ValueError("classes must not be empty strings")
        natives.append(value)
    texts = [str(v) for v in natives]
    if len(set(texts)) != len(texts):
        raise ValueError(f"classes must be distinct, got {natives!r}")
    return natives


def _check_pending(pending, n_samples):
    pending = np.asarray(pending)
    if pending.ndim != 1 or len(pending) == 0:
        raise ValueError(f"pending must be a non-empty 1-D array of pool indices, got "
                         f"shape {pending.shape}: there is nothing to label")
    if not np.issubdtype(pending.dtype, np.integer):
        raise ValueError(f"pending must hold integer pool indices, got dtype {pending.dtype}")
    if pending.min() < 0 or pending.max() >= n_samples:
        raise ValueError(f"pending indices must lie in [0, {n_samples}) (the pool's "
                         f"samples), got {int(pending.min())}..{int(pending.max())}")
    if len(np.unique(pending)) != len(pending):
        raise ValueError("pending holds an index twice")
    return [int(i) for i in pending]


def make_app(pool, pending, classes, labels_path, image_shape=None, on_save=None):
    """Build the labeling page's Starlette app; serve it with uvicorn on 127.0.0.1.

    Parameters
    ----------
    pool : array-like, shape (n_samples, ...)
        The pool (a memory map is read one sample at a time).
    pending : array-like of int
        Pool indices to label: the fitted estimator's ``pending_``.
    classes : array-like
        The classes a person chooses among (the estimator's ``classes_``).
    labels_path : str or path-like
        Labels file to write; labels already in it are kept, and those of pending
        samples are shown as answered.
    image_shape : tuple of int, optional
        Show each sample as an image of shape ``(height, width)`` or ``(height, width,
        1|3)``; its size must equal a sample's. By default samples of shape ``(H, W)``,
        ``(1|3, H, W)`` or ``(H, W, 1|3)`` are images and 1-D samples rows of a table.
    on_save : callable, optional
        Called with the save's summary (a dict) after each successful save; the command
        line uses it to stop after saving.

    Returns
    -------
    starlette.applications.Starlette

    Raises
    ------
    ValueError
        When ``pending`` is empty, has repeats or indices outside the pool, the classes
        are empty or repeated, ``image_shape`` does not fit the samples, or the labels
        file is invalid or labels a pending sample with something not in ``classes``.
    """
    if not hasattr(pool, "shape") or len(pool.shape) < 2:
        raise ValueError("pool must be an array of shape (n_samples, ...) with at least 2 "
                         f"dimensions, got {getattr(pool, 'shape', type(pool).__name__)}")
    pending = _check_pending(pending, pool.shape[0])
    pending_set = set(pending)
    classes = _check_classes(classes)
    class_by_text = {str(c): c for c in classes}
    keys = shortcut_keys(len(classes))
    layout = image_layout(pool.shape[1:], image_shape)
    labels_path = Path(labels_path)
    save_lock = threading.Lock()

    def saved_labels():
        """The labels file as {index: text}; {} when it does not exist yet."""
        if not labels_path.exists():
            return {}
        indices, texts = read_labels(labels_path, dtype=str)
        return dict(zip(indices.tolist(), texts.tolist()))

    def saved_pending():
        answers = {}
        for index, text in saved_labels().items():
            if index in pending_set:
                if text not in class_by_text:
                    raise ValueError(f"{labels_path}: sample {index} is labeled {text!r}, "
                                     f"which is not one of the classes {classes}")
                answers[str(index)] = class_by_text[text]
        return answers

    saved_pending()  # an invalid labels file fails here, before the page is served
    page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    async def index_page(request):
        return HTMLResponse(page)

    async def batch(request):
        return JSONResponse({
            "pending": pending, "classes": classes, "keys": keys,
            "labels": saved_pending(), "kind": "table" if layout is None else "image",
            "labels_path": str(labels_path),
        })

    def pending_index(request):
        index = request.path_params["index"]
        return index if index in pending_set else None

    async def sample_image(request):
        index = pending_index(request)
        if index is None:
            return _refuse(404, f"sample {request.path_params['index']} is not in the "
                                "pending batch")
        if layout is None:
            return _refuse(404, "this pool is tabular: its samples are at /sample/<i>.json")
        return Response(sample_png(pool[index], layout), media_type="image/png",
                        headers={"Cache-Control": "no-store"})

    async def sample_table(request):
        index = pending_index(request)
        if index is None:
            return _refuse(404, f"sample {request.path_params['index']} is not in the "
                                "pending batch")
        return JSONResponse({"index": index, "values": sample_values(pool[index])})

    def parse_answers(body):
        if not isinstance(body, dict) or not isinstance(body.get("labels"), dict):
            raise ValueError('the body must be {"labels": {"<pool index>": <class or null>}}')
        answers = {}
        for key, value in body["labels"].items():
            if not key.isdigit():
                raise ValueError(f"{key!r} is not a pool index")
            index = int(key)
            if index not in pending_set:
                raise ValueError(f"sample {index} is not in the pending batch")
            if value is not None and not any(type(value) is type(c) and value == c
                                             for c in classes):
                raise ValueError(f"label {value!r} of sample {index} is not one of the "
                                 f"classes {classes}")
            answers[index] = value
        return answers

    async def save(request):
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _refuse(415, "post the labels as application/json")
        try:
            body = await request.json()
        except ValueError:
            return _refuse(400, "the body is not valid JSON")
        try:
            answers = parse_answers(body)
        except ValueError as exc:
            return _refuse(400, str(exc))
        with save_lock:
            try:
                merged = saved_labels()
            except ValueError as exc:
                return _refuse(409, f"the labels file cannot be read, nothing saved: {exc}")
            for index, value in answers.items():
                if value is None:
                    merged.pop(index, None)
                else:
                    merged[index] = str(value)
            indices = sorted(merged)
            write_labels(labels_path, np.array(indices, dtype=np.int64),
                         np.array([merged[i] for i in indices], dtype=object))
        summary = {"path": str(labels_path), "in_file": len(merged),
                   "labeled": sum(i in merged for i in pending), "pending": len(pending)}
        if on_save is not None:
            on_save(summary)
        return JSONResponse(summary)

    async def not_found(request, exc):
        return _refuse(404, f"no such page: {request.url.path}")

    return Starlette(
        routes=[
            Route("/", index_page),
            Route("/api/batch", batch),
            Route("/sample/{index:int}.png", sample_image),
            Route("/sample/{index:int}.json", sample_table),
            Route("/api/labels", save, methods=["POST"]),
        ],
        middleware=[Middleware(LoopbackOnlyMiddleware)],
        exception_handlers={404: not_found},
    )
