"""The loop a labeling worker process runs (see :mod:`hardsample._tool_runner`).

This file is executed as source in a fresh (spawned) process, not imported: the
worker then loads neither hardsample nor torch unless the tool itself needs them.
It receives ``(func, X, kwargs)`` payloads (cloudpickle) on a pipe and sends back
``(status, value)``: ``("ok", answer)``, ``("error", why)`` or ``("pending", why)``
when the tool raised ``hardsample.oracles.NotLabeledYet``.

The worker dies with its parent: on Linux through ``PR_SET_PDEATHSIG`` (the kernel
sends it SIGKILL when the parent dies), everywhere through a thread that exits the
process as soon as its parent pid changes (the parent died and it was re-parented).
"""

import os
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid):
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(70)

    threading.Thread(target=watch, name="hardsample-parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(70)


def is_not_labeled_yet(exc):
    return any(cls.__name__ == "NotLabeledYet" for cls in type(exc).__mro__)


def serve(conn, parent_pid):
    die_with_parent(parent_pid)
    import cloudpickle

    conn.send_bytes(b"ready")
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            os._exit(0)
        try:
            func, X, kwargs = cloudpickle.loads(payload)
            conn.send_bytes(b"start")  # the timeout counts from here, not the imports
            out = ("ok", func(X, **kwargs))
        except Exception as exc:  # noqa: BLE001 - any failure of a user tool is recorded
            status = "pending" if is_not_labeled_yet(exc) else "error"
            out = (status, f"{type(exc).__name__}: {exc}")
        try:
            data = cloudpickle.dumps(out)
        except Exception as exc:  # noqa: BLE001 - an answer that cannot be sent back
            data = cloudpickle.dumps(("error", "the answer cannot be sent back from the "
                                      f"worker: {type(exc).__name__}: {exc}"))
        conn.send_bytes(data)
